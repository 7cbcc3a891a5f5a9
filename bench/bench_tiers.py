"""Tier evaluation at scale: 10,000 partners with 150,000 won deals, 100,000 sales records
(5 % returns, some in USD/EUR) and 40,000 certificates (some expired).

    DJANGO_SETTINGS_MODULE=prm.settings_test DATABASE_URL=postgres://…/prm_bench_tiers python -m bench.bench_tiers

Generates the data set-based (INSERT … SELECT generate_series) in the CURRENT database — which
must be a scratch database whose name contains "bench" — unless it is already there, then
resets the engine's state (statuses, history, tiers back to the seeded mix) and times:

1. the first evaluation of every partner (promotions, at-risk notices, statuses created);
2. the same evaluation again: must change nothing and write no history (safe to run twice);
3. an evaluation 100 days later: the notice period of 90 days is over, demotions apply.

Target: under 10 s for 10,000 partners on 2 cores. Notification dispatch (a Celery task queued
after each chunk commits) is stubbed: the bench measures the evaluation, not the broker.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from unittest import mock

from bench.common import execute, setup

PARTNERS = int(os.environ.get("BENCH_TIERS_PARTNERS", "10000"))
DEALS_PER_PARTNER = 15
SALES_PER_PARTNER = 10
CONTACTS_PER_PARTNER = 4
MARKER = "BenchTier "


def _seed() -> None:
    from django.db import transaction

    with transaction.atomic():  # all or nothing: a failed seed leaves no half data set behind
        _seed_rows()
    execute("VACUUM ANALYZE deals_dealregistration, deals_salesrecord, partners_contact, partners_certification")


def _seed_rows() -> None:
    from decimal import Decimal

    from django.contrib.auth.hashers import make_password

    from deals.models import EndCustomer
    from partners.demo import TIERS
    from partners.models import Partner, PartnerStatus, PartnerType, Region, Tier
    from prm.models import ExchangeRate, Role, User

    if Partner.objects.filter(name__startswith=MARKER).count() >= PARTNERS:
        return
    started = time.perf_counter()
    print(
        f"seeding: {PARTNERS:,} partners, {PARTNERS * DEALS_PER_PARTNER:,} won deals, "
        f"{PARTNERS * SALES_PER_PARTNER:,} sales records, certificates …",
        flush=True,
    )
    for code, name, rank, revenue, certified, won, *_rest in TIERS:
        Tier.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "rank": rank,
                "min_revenue": Decimal(revenue),
                "min_certified_people": certified,
                "min_won_deals": won,
            },
        )
    manager, _ = User.objects.get_or_create(
        email="manager@bench-tiers.test",
        defaults={"full_name": "Bench Manager", "role": Role.CHANNEL_MANAGER, "password": make_password(None)},
    )
    Partner.objects.bulk_create(
        [
            Partner(
                name=f"{MARKER}{i:05d}",
                legal_name=f"{MARKER}{i:05d} LLC",
                partner_type=PartnerType.RESELLER,
                status=PartnerStatus.ACTIVE,
                country="RU",
                region=Region.RUSSIA,
                owner=manager,
            )
            for i in range(PARTNERS)
        ],
        batch_size=2000,
    )
    customer, _ = EndCustomer.objects.get_or_create(
        normalized_name="bench tiers customer", defaults={"name": "Bench Tiers Customer", "country": "RU"}
    )
    today = dt.date.today()
    for currency, rate in (("USD", "90"), ("EUR", "98")):
        for month in range(30):
            ExchangeRate.objects.get_or_create(
                currency=currency,
                valid_from=today - dt.timedelta(days=30 * month),
                defaults={"rate": Decimal(rate) + month % 5},
            )
    ids = "SELECT id, row_number() OVER (ORDER BY id) AS n FROM partners_partner WHERE name LIKE 'BenchTier %%'"
    # Won deals closed over the last 500 days (some outside the 365-day window); a partner's
    # volume depends on its number (0, 15 or 30 deals) so every tier is reached by some. 10 % in USD.
    execute(
        f"""
        INSERT INTO deals_dealregistration (
            public_id, reference, partner_id, submitted_by_id, end_customer_id, customer_entered, title,
            description, value, currency, expected_close_date, stage, probability, status, status_changed_at,
            submitted_at, last_submitted_at, submission_count, decision_reason, approved_at, protection_days,
            closed_at, final_amount, lost_reason, flags, flag_evidence, created_at, updated_at)
        SELECT md5('tierdr' || p.id || '-' || g)::uuid,
               'DR-2025-' || lpad((p.n * 100 + g)::text, 7, '0'),
               p.id, %s, %s, '{{}}'::jsonb, '', '',
               amount, cur, current_date, 'commit', 100, 'won', closed,
               closed - interval '40 days', closed - interval '40 days', 1, '', closed - interval '35 days', 0,
               closed, amount, '', '{{}}', '{{}}'::jsonb, closed - interval '40 days', closed
        FROM ({ids}) AS p,
             LATERAL (
               SELECT g,
                      now() - ((p.n * 37 + g * 53) %% 500) * interval '1 day' AS closed,
                      CASE WHEN (p.n + g) %% 10 = 0 THEN 'USD' ELSE 'RUB' END AS cur,
                      ((p.n %% 100) * 40000 + g * 1000)::numeric(16, 2) AS amount
               FROM generate_series(1, {DEALS_PER_PARTNER} * (p.n %% 3)) AS g
             ) AS d
        """,  # noqa: S608 - only this module's integer constants are formatted in
        [manager.pk, customer.pk],
    )
    # Sell-out reports over the last 400 days; every 20th is a return (negative), some in EUR.
    execute(
        f"""
        INSERT INTO deals_salesrecord (public_id, partner_id, kind, occurred_on, reference, amount, currency,
                                       source, note, created_at, updated_at)
        SELECT md5('tiersr' || p.id || '-' || g)::uuid, p.id, 'sell_out',
               current_date - ((p.n * 11 + g * 29) % 400)::int, 'BT-' || g,
               CASE WHEN g % 20 = 0 THEN -50000 ELSE (p.n % 50) * 30000 + g * 500 END,
               CASE WHEN (p.n + g) % 8 = 0 THEN 'EUR' ELSE 'RUB' END,
               'csv', '', now(), now()
        FROM ({ids}) AS p, generate_series(1, {SALES_PER_PARTNER}) AS g
        """  # noqa: S608 - only this module's constants are formatted in
    )
    execute(
        f"""
        INSERT INTO partners_contact (public_id, partner_id, full_name, job_title, role, email, phone,
                                      is_decision_maker, notes, is_active, created_at, updated_at)
        SELECT md5('tierct' || p.id || '-' || g)::uuid, p.id, 'Engineer ' || g, 'Engineer', 'other', '', '',
               false, '', g % 9 <> 0, now(), now()
        FROM ({ids}) AS p, generate_series(1, {CONTACTS_PER_PARTNER}) AS g
        """  # noqa: S608 - only this module's constants are formatted in
    )
    # One or two certificates per contact; two-year validity, so the older ones have expired.
    execute(
        """
        INSERT INTO partners_certification (public_id, contact_id, course, certificate_number, earned_on,
                                            expires_on, created_at, updated_at)
        SELECT md5('tiercert' || c.id || '-' || k)::uuid, c.id, 'Course ' || k, '',
               current_date - ((c.id * 13 + k * 101) % 1000)::int,
               CASE WHEN c.id % 5 = 0 THEN NULL
                    ELSE current_date - ((c.id * 13 + k * 101) % 1000)::int + 730 END,
               now(), now()
        FROM partners_contact c JOIN partners_partner p ON p.id = c.partner_id AND p.name LIKE 'BenchTier %%',
             generate_series(1, 2) AS k
        WHERE k = 1 OR c.id % 3 = 0
        """
    )
    print(f"seeding: done in {time.perf_counter() - started:.0f} s", flush=True)


def _reset() -> None:
    """Back to the starting line: no engine state, tiers a fixed mix (so there is work to do)."""
    from programs.models import PartnerTierStatus, TierChange

    execute("DELETE FROM prm_auditlog WHERE action = 'partner.set_tier'")
    PartnerTierStatus.objects.all().delete()
    TierChange.objects.all().delete()
    execute(
        """
        UPDATE partners_partner p SET tier_id = t.id, tier_since = NULL
        FROM partners_tier t
        WHERE p.name LIKE 'BenchTier %%' AND t.rank = (p.id % 4)
        """
    )


def _timed(label: str, **kwargs):
    from programs.models import TierChange
    from programs.services import tiers_evaluate

    history = TierChange.objects.count()
    started, cpu = time.perf_counter(), time.process_time()
    summary = tiers_evaluate(**kwargs)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    new_history = TierChange.objects.count() - history
    rate = summary.evaluated / seconds if seconds else 0
    print(
        f"{label:<44} {summary.evaluated:>6,} partners  {seconds:6.2f} s (python cpu {cpu:5.2f} s)  "
        f"{rate:8,.0f} partners/s  "
        f"promoted={summary.promoted} demoted={summary.demoted} at_risk={summary.at_risk} "
        f"recovered={summary.recovered} unchanged={summary.unchanged} errors={len(summary.errors)} "
        f"new history rows={new_history}",
        flush=True,
    )
    return summary, seconds, new_history


def main() -> None:
    setup("bench_tiers", "benchmark rows")
    from django.utils import timezone

    _seed()
    _reset()
    # Shared machines: the load average says how much of the 2 cores this run really had.
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    now = timezone.now()
    with mock.patch("programs.tasks_tiers.tier_change_notify.delay"):
        first, seconds, _ = _timed("1. first evaluation", now=now)
        second, _s, history = _timed("2. same evaluation again", now=now)
        print(
            "second run changed nothing: "
            + ("yes" if second.changed == 0 and history == 0 else f"NO ({second.changed} changes, {history} rows)"),
            flush=True,
        )
        _timed("3. 100 days later (notice over: demotions)", now=now + dt.timedelta(days=100))
    print(f"target < 10 s for {PARTNERS:,} partners: {'met' if seconds < 10 else 'MISSED'} ({seconds:.2f} s)")


if __name__ == "__main__":
    main()
