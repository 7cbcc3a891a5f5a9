"""Sales records at scale: 1,000,000 records for 2,000 partners over 36 months.

    DJANGO_SETTINGS_MODULE=prm.settings_test DATABASE_URL=postgres://…/prm_bench python -m bench.bench_sales

Generates the records set-based (INSERT … SELECT generate_series) in the CURRENT database —
which must be a scratch database whose name contains "bench" — unless they are already there
(BENCH_SALES_RESEED=1 forces a fresh set), then prints the time of:

* `sales_monthly_totals` for the whole channel by partner (what forecasts and reorder
  reminders read), and p50/p95 for one partner (the partner page chart);
* `sales_totals` of the staff list over every record (base-currency totals);
* a CSV import of 5,000 lines (validation + one transaction), and its re-import (all
  duplicates, nothing written), in lines per second.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import time

from bench.common import execute, scalar, setup

RECORDS = int(os.environ.get("BENCH_SALES_RECORDS", "1000000"))
PARTNERS = 2000
IMPORT_LINES = int(os.environ.get("BENCH_SALES_IMPORT_LINES", "5000"))
SAMPLES = 50


def _seed() -> None:
    from partners.models import Partner, PartnerStatus, PartnerType, Region
    from prm.models import ExchangeRate

    started = time.perf_counter()
    have = Partner.objects.filter(name__startswith="Bench Partner ").count()
    Partner.objects.bulk_create(
        [
            Partner(
                name=f"Bench Partner {i:04d}",
                legal_name=f"Bench Partner {i:04d} LLC",
                partner_type=PartnerType.RESELLER,
                status=PartnerStatus.ACTIVE,
                country="RU",
                region=Region.RUSSIA,
            )
            for i in range(have, PARTNERS)
        ],
        batch_size=1000,
    )
    first_month = (dt.date.today().replace(day=1) - dt.timedelta(days=36 * 31)).replace(day=1)
    ExchangeRate.objects.bulk_create(
        [
            ExchangeRate(currency=cur, valid_from=first_month + dt.timedelta(days=30 * m), rate=rate * (1 + m / 500))
            for cur, rate in (("USD", 90), ("EUR", 98), ("CNY", 12.5))
            for m in range(40)
        ],
        ignore_conflicts=True,
    )
    print(f"seeding: {RECORDS:,} sales records …", flush=True)
    execute("DELETE FROM deals_salesrecord WHERE reference LIKE 'BS-%%'")
    execute(
        """
        WITH p AS (SELECT array_agg(id ORDER BY id) AS ids FROM partners_partner WHERE name LIKE 'Bench Partner %%')
        INSERT INTO deals_salesrecord (public_id, partner_id, kind, occurred_on, reference, quantity, amount,
                                       currency, source, note, created_at, updated_at)
        SELECT gen_random_uuid(),
               p.ids[1 + (g %% array_length(p.ids, 1))],
               CASE WHEN g %% 5 = 0 THEN 'sell_out' ELSE 'sell_in' END,
               %s::date + (g::bigint * 7919 %% 1090)::int,
               'BS-' || g,
               1 + g %% 20,
               (100 + (g * 31 %% 100000))::numeric,
               (ARRAY['RUB','RUB','RUB','RUB','USD','EUR','CNY'])[1 + g %% 7],
               'csv', '', now(), now()
        FROM generate_series(1, %s) AS g, p
        """,
        [first_month, RECORDS],
    )
    execute("ANALYZE deals_salesrecord")
    print(f"seeding: done in {time.perf_counter() - started:.1f} s", flush=True)


def _time(func) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def _measure() -> None:
    from deals import selectors_sales, services
    from deals.models import SalesRecord
    from partners.models import Partner
    from prm.models import Role, User

    today = dt.date.today()
    since = (today.replace(day=1) - dt.timedelta(days=35 * 31)).replace(day=1)
    partners = list(
        Partner.objects.filter(name__startswith="Bench Partner ").order_by("pk").values_list("pk", flat=True)
    )
    total = SalesRecord.objects.count()
    print(f"data: {total:,} sales records, {len(partners):,} partners", flush=True)

    rows: list = []
    seconds = _time(
        lambda: rows.extend(
            selectors_sales.sales_monthly_totals(since=since, until=today, by_partner=True, kind="sell_in")
        )
    )
    print(f"monthly sell-in by partner, whole channel (36 months)   {seconds:6.2f} s  ({len(rows):,} partner-months)")

    rng = random.Random(1)
    samples = [
        _time(lambda p=p: selectors_sales.sales_monthly_totals(partner_ids=[p], since=since, until=today))
        for p in rng.sample(partners, SAMPLES)
    ]
    ms = sorted(s * 1000 for s in samples)
    print(
        f"monthly totals, one partner (chart)                    p50={statistics.median(ms):6.1f} ms  "
        f"p95={ms[int(0.95 * (len(ms) - 1))]:6.1f} ms"
    )

    staff = User.objects.filter(role=Role.ADMINISTRATOR).first() or User.objects.create(
        email="bench-sales-admin@bench.test", full_name="Bench Admin", role=Role.ADMINISTRATOR
    )
    seconds = _time(lambda: selectors_sales.sales_totals(selectors_sales.sales_list_for_user(user=staff)))
    print(f"staff list totals over every record (base currency)     {seconds:6.2f} s")

    partner = Partner.objects.get(pk=partners[0])
    stamp = int(time.time())
    lines = [
        {
            "partner": str(partner.public_id),
            "kind": "sell_in",
            "date": (today - dt.timedelta(days=1 + i % 300)).isoformat(),
            "reference": f"IMP-{stamp}-{i}",
            "quantity": "2",
            "amount": "1500.00",
            "currency": "RUB",
        }
        for i in range(IMPORT_LINES)
    ]
    result = {}
    seconds = _time(lambda: result.update(r=services.sales_records_import(actor=staff, rows=lines)))
    assert result["r"].created == IMPORT_LINES, result["r"].error_fields()
    print(
        f"CSV import, {IMPORT_LINES:,} lines (validate + insert)          {seconds:6.2f} s  ({IMPORT_LINES / seconds:,.0f} lines/s)"
    )
    seconds = _time(lambda: result.update(r=services.sales_records_import(actor=staff, rows=lines)))
    assert result["r"].created == 0 and result["r"].duplicates == IMPORT_LINES
    print(
        f"re-import of the same file (all duplicates)             {seconds:6.2f} s  ({IMPORT_LINES / seconds:,.0f} lines/s)"
    )
    SalesRecord.objects.filter(reference__startswith=f"IMP-{stamp}-").delete()


def main() -> None:
    setup("bench_sales")
    from django.core.management import call_command

    execute("SELECT pg_advisory_lock(%s)", [0x42454E43])
    call_command("migrate", verbosity=0)
    seeded = scalar("SELECT count(*) FROM deals_salesrecord WHERE reference LIKE 'BS-%%'")
    if os.environ.get("BENCH_SALES_RESEED") == "1" or seeded < RECORDS:
        _seed()
    else:
        print("data: already seeded (BENCH_SALES_RESEED=1 to regenerate)", flush=True)
    _measure()


if __name__ == "__main__":
    main()
    sys.exit(0)
