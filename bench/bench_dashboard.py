"""Dashboards at scale: 10,000 partners, 1,000,000 registrations, three years of monthly
sell-in (360,000 records).

    createdb -h 127.0.0.1 -U postgres prm_bench_dash
    DJANGO_SETTINGS_MODULE=prm.settings_test DATABASE_URL=postgres://…/prm_bench_dash \\
        .venv/bin/python manage.py migrate
    DJANGO_SETTINGS_MODULE=prm.settings_test DATABASE_URL=postgres://…/prm_bench_dash \\
        .venv/bin/python -m bench.bench_dashboard        (or `python -m bench.run dashboard` on prm_bench)

Generates the data set-based (INSERT … SELECT generate_series) in the CURRENT database — which
must be a scratch database whose name contains "bench" — unless it is already there
(BENCH_DASH_RESEED=1 forces a fresh one), then prints:

* p50/p95 server time of the staff dashboard page (`staff:home`, Django test client, the real
  view and template) for an administrator (all 10,000 partners) and a channel manager, and of
  each dashboard selector on its own (target: page p95 < 300 ms for the administrator);
* the nightly jobs' run time: forecast snapshots for every partner (target < 5 min), partner
  health, dormancy, reorder expectations.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time

from bench.common import execute, pct, scalar, setup

# This module's SQL writes every literal % as %%, so a statement without parameters passes ()
# (with None the driver would not unescape it).

PARTNERS = int(os.environ.get("BENCH_DASH_PARTNERS", "10000"))
REGISTRATIONS = int(os.environ.get("BENCH_DASH_REGISTRATIONS", "1000000"))
MONTHS = 36
MANAGERS = 20
SAMPLES = int(os.environ.get("BENCH_DASH_SAMPLES", "20"))


def _seeded() -> bool:
    return (
        scalar("SELECT count(*) FROM partners_partner WHERE name LIKE 'Dash Partner %%'", ()) >= PARTNERS
        and scalar("SELECT count(*) FROM deals_dealregistration") >= REGISTRATIONS
        and scalar("SELECT count(*) FROM deals_target") > 0  # the last step of the seeding
    )


def _seed() -> None:
    from django.contrib.auth.hashers import make_password

    from partners.models import Tier
    from prm.models import Role, User

    started = time.perf_counter()
    print("seeding: truncating …", flush=True)
    execute(
        "TRUNCATE deals_forecastsnapshot, deals_forecastrun, deals_partnerhealth, deals_reorderexpectation, "
        "deals_partnercommit, deals_target, deals_salesrecord, deals_dealproduct, deals_conflict, "
        "deals_protectionextension, deals_dealregistration, deals_endcustomer, partners_interaction, "
        "programs_redemption, programs_ledgerentry, programs_pointsbalance "
        "RESTART IDENTITY CASCADE"
    )
    execute("DELETE FROM prm_notification")
    execute("DELETE FROM prm_auditlog")
    execute("DELETE FROM prm_user WHERE partner_id IN (SELECT id FROM partners_partner WHERE name LIKE 'Dash %%')", ())
    execute("DELETE FROM partners_partner WHERE name LIKE 'Dash %%'", ())
    unusable = make_password(None)
    admin = User.objects.filter(email="dash-admin@bench.test").first() or User.objects.create(
        email="dash-admin@bench.test", full_name="Dash Admin", role=Role.ADMINISTRATOR, password=unusable
    )
    lead = User.objects.filter(email="dash-lead@bench.test").first() or User.objects.create(
        email="dash-lead@bench.test", full_name="Dash Lead", role=Role.CHANNEL_LEAD, password=unusable
    )
    managers = []
    for i in range(MANAGERS):
        email = f"dash-manager{i}@bench.test"
        managers.append(
            User.objects.filter(email=email).first()
            or User.objects.create(
                email=email, full_name=f"Manager {i}", role=Role.CHANNEL_MANAGER, reports_to=lead, password=unusable
            )
        )
    tiers = []
    for rank, code in enumerate(("registered", "silver", "gold")):
        tiers.append(
            Tier.objects.get_or_create(code=f"dash-{code}", defaults={"name": f"Dash {code}", "rank": 50 + rank})[0]
        )
    manager_ids = [m.pk for m in managers]
    tier_ids = [t.pk for t in tiers]
    print(f"seeding: {PARTNERS:,} partners and their users …", flush=True)
    execute(
        f"""
        INSERT INTO partners_partner (public_id, name, legal_name, partner_type, status, country, region, city,
            address, website_domain, email, phone, tax_id, size, industries, description, verified, owner_id,
            tier_id, is_key_account, is_dormant, created_at, updated_at)
        SELECT md5('dp' || g)::uuid, 'Dash Partner ' || lpad(g::text, 5, '0'), 'Dash Partner ' || g || ' LLC',
               'reseller', CASE WHEN g %% 25 = 0 THEN 'onboarding' ELSE 'active' END, 'RU',
               (ARRAY['russia','cis','europe','asia'])[1 + g %% 4], '', '', '', '', '', '', '', '{{}}', '', false,
               (%s::bigint[])[1 + g %% {MANAGERS}], (%s::bigint[])[1 + (g / 7) %% 3], false, g %% 10 = 0,
               now() - interval '4 years', now()
          FROM generate_series(1, {PARTNERS}) AS g
        """,  # noqa: S608 — only this module's integer constants are formatted in
        [manager_ids, tier_ids],
    )
    execute(
        """
        INSERT INTO prm_user (password, is_superuser, email, full_name, phone, job_title, role, partner_id,
            language, email_notifications, is_active, is_staff, date_joined, last_login, public_id, updated_at)
        SELECT %s, false, 'dash' || p.id || '@partner.bench', 'Rep ' || p.id, '', '', 'partner_admin', p.id,
               'en', false, true, false, now(), CASE WHEN p.id %% 3 = 0 THEN now() - interval '3 days' END,
               md5('du' || p.id)::uuid, now()
          FROM partners_partner p WHERE p.name LIKE 'Dash Partner %%'
        """,
        [unusable],
    )
    execute(
        """
        INSERT INTO deals_endcustomer (public_id, name, normalized_name, website, domain, tax_id, country, city,
            created_at, updated_at)
        SELECT md5('dc' || g)::uuid, 'Dash Customer ' || g, 'dash customer ' || g, '', '', '', 'RU', '', now(), now()
          FROM generate_series(1, 5000) AS g
        """
    )
    partner_ids = list(
        User.objects.filter(email__endswith="@partner.bench").order_by("partner_id").values_list("partner_id", "pk")
    )
    pids = [p for p, _u in partner_ids]
    uids = [u for _p, u in partner_ids]
    this_year = dt.date.today().year
    print(f"seeding: {REGISTRATIONS:,} registrations over three years …", flush=True)
    execute(
        f"""
        INSERT INTO deals_dealregistration (
            public_id, reference, partner_id, submitted_by_id, end_customer_id, customer_entered, title, description,
            value, currency, expected_close_date, stage, probability, status, status_changed_at,
            submitted_at, last_submitted_at, submission_count, review_due_at, review_reminder_at,
            decided_by_id, decided_at, decision_reason, approved_at, protection_days, protected_until, expired_at,
            closed_at, final_amount, lost_reason, flags, flag_evidence, created_at, updated_at)
        SELECT md5('dd' || g)::uuid, 'DR-' || {this_year} || '-' || lpad(g::text, 7, '0'),
               (%s::bigint[])[1 + prn], (%s::bigint[])[1 + prn], 1 + g %% 5000, '{{}}', '', '',
               1000 + (g %% 500) * 1000, CASE WHEN g %% 17 = 0 THEN 'USD' ELSE 'RUB' END,
               current_date + (g %% 400) - 30,
               (ARRAY['qualification','discovery','proposal','negotiation','commit'])[1 + g %% 5],
               (ARRAY[10,25,50,75,90])[1 + g %% 5],
               st, t, t, t, 1, t + interval '2 days', t + interval '36 hours',
               CASE WHEN st = 'submitted' THEN NULL ELSE (%s::bigint[])[1 + g %% {MANAGERS}] END,
               CASE WHEN st = 'submitted' THEN NULL ELSE t + (g %% 4) * interval '1 day' END,
               CASE WHEN st = 'rejected' THEN 'bench' ELSE '' END,
               CASE WHEN st IN ('approved', 'won', 'lost') THEN t + interval '1 day' END,
               CASE WHEN st IN ('approved', 'won', 'lost') THEN 0 END,
               NULL, NULL,
               CASE WHEN st IN ('won', 'lost') THEN t + interval '30 days' END,
               CASE WHEN st = 'won' THEN (1000 + (g %% 500) * 1000) * (1 + 0.4 * sin(2 * pi() * date_part('month', t) / 12)) END,
               CASE WHEN st = 'lost' THEN 'price' ELSE '' END,
               '{{}}', '{{}}', t, t
        FROM (
            SELECT g,
                   (ARRAY['submitted','approved','approved','won','won','won','lost','lost','rejected','won'])
                     [1 + g %% 10] AS st,
                   now() - ((g %% ({MONTHS} * 30)) || ' days')::interval - ((g %% 600) || ' minutes')::interval AS t,
                   (g::bigint * 31) %% {len(pids)} AS prn
              FROM generate_series(1, {REGISTRATIONS}) AS g
        ) AS src
        """,  # noqa: S608 — only this module's integer constants are formatted in
        [pids, uids, manager_ids],
    )
    # Open registrations are recent: move the old "submitted"/"approved" ones into the last weeks.
    execute(
        """
        UPDATE deals_dealregistration SET submitted_at = now() - (id %% 20) * interval '1 day',
               last_submitted_at = now() - (id %% 20) * interval '1 day',
               review_due_at = now() - (id %% 20) * interval '1 day' + interval '2 days',
               approved_at = CASE WHEN status = 'approved' THEN now() - (id %% 20) * interval '1 day' + interval '1 hour' END,
               decided_at = CASE WHEN status = 'approved' THEN now() - (id %% 20) * interval '1 day' + interval '1 hour' END
         WHERE status IN ('submitted', 'approved')
        """,
        (),
    )
    _expire_most_open()
    print(f"seeding: {PARTNERS * MONTHS:,} monthly sell-in records (seasonal) and interactions …", flush=True)
    execute(
        f"""
        INSERT INTO deals_salesrecord (public_id, partner_id, kind, occurred_on, reference, amount, currency, source,
            note, created_at, updated_at)
        SELECT md5('ds' || p.id || '-' || m)::uuid, p.id, 'sell_in',
               (date_trunc('month', current_date) - (m || ' months')::interval)::date + (p.id %% 20)::int,
               'S-' || m, round((20000 + (p.id %% 50) * 1000) * (1 + 0.5 * sin(2 * pi()
                   * date_part('month', current_date - (m || ' months')::interval) / 12)) * (1 + m * -0.005))::numeric,
               'RUB', 'manual', '', now(), now()
          FROM partners_partner p, generate_series(1, {MONTHS}) AS m
         WHERE p.name LIKE 'Dash Partner %%' AND (p.id %% 3 <> 0 OR m %% 4 = 0)
        """,  # noqa: S608 — only this module's integer constants are formatted in
        (),
    )
    execute(
        """
        INSERT INTO partners_interaction (public_id, partner_id, author_id, kind, occurred_at, subject, body,
            next_step, next_step_due, created_at, updated_at)
        SELECT md5('di' || p.id || '-' || k)::uuid, p.id, p.owner_id, 'call',
               now() - ((p.id * 7 + k * 37) %% 400) * interval '1 day', 'Call', '', '', NULL, now(), now()
          FROM partners_partner p, generate_series(1, 5) AS k WHERE p.name LIKE 'Dash Partner %%'
        """,
        (),
    )
    execute(
        "INSERT INTO prm_exchangerate (currency, valid_from, rate, created_at) VALUES ('USD', '2000-01-01', 90, now())"
        " ON CONFLICT DO NOTHING"
    )
    year, quarter = this_year, (dt.date.today().month - 1) // 3 + 1
    for m in managers:
        for k in range(-4, 4):
            index = year * 4 + quarter - 1 + k
            execute(
                "INSERT INTO deals_target (manager_id, year, quarter, amount, created_at, updated_at) "
                "VALUES (%s, %s, %s, 500000000, now(), now()) ON CONFLICT DO NOTHING",
                [m.pk, index // 4, index % 4 + 1],
            )
    execute("VACUUM ANALYZE")
    print(f"seeding: done in {time.perf_counter() - started:.0f} s", flush=True)
    assert admin


def _expire_most_open() -> None:
    """A real channel has about 5 % of its registrations open (protection ends after 90 days):
    five in six of the generated open ones become expired."""
    execute(
        """
        UPDATE deals_dealregistration
           SET status = 'expired', approved_at = COALESCE(approved_at, submitted_at + interval '1 hour'),
               protection_days = 0, expired_at = now() - interval '1 day'
         WHERE status IN ('submitted', 'approved') AND id %% 6 <> 0
        """,
        (),
    )


def _report(label, samples):
    ms = [s * 1000 for s in samples]
    print(
        f"{label:<44} n={len(ms):>3}  p50={pct(ms, 0.5):8.1f} ms  p95={pct(ms, 0.95):8.1f} ms  "
        f"max={max(ms):8.1f} ms  mean={statistics.fmean(ms):8.1f} ms",
        flush=True,
    )


def _time(fn, n=SAMPLES):
    fn()  # warm
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def _measure() -> None:
    from django.utils import timezone

    from prm.models import User

    admin = User.objects.get(email="dash-admin@bench.test")
    manager = User.objects.get(email="dash-manager0@bench.test")
    counts = [
        scalar("SELECT count(*) FROM partners_partner"),
        scalar("SELECT count(*) FROM deals_dealregistration"),
        scalar("SELECT count(*) FROM deals_salesrecord"),
    ]
    print("data: {:,} partners, {:,} registrations, {:,} sales records".format(*counts), flush=True)
    today = timezone.localdate()
    if not os.environ.get("BENCH_DASH_SKIP_JOBS"):
        _nightly(today)
    _dashboard(admin, manager, today)


def _nightly(today) -> None:
    from deals import services

    print("\nnightly jobs:", flush=True)
    execute("DELETE FROM deals_forecastsnapshot WHERE as_of = %s", [today])
    execute("DELETE FROM deals_forecastrun WHERE as_of = %s", [today])
    for label, job in (
        ("partner_dormancy_compute", lambda: services.partner_dormancy_compute()),
        ("partner_health_compute", lambda: services.partner_health_compute()),
        ("forecast_snapshot_run (all partners + total)", lambda: services.forecast_snapshot_run(as_of=today)),
        ("reorder_expectations_compute", lambda: services.reorder_expectations_compute()),
    ):
        started = time.perf_counter()
        result = job()
        took = time.perf_counter() - started
        detail = getattr(result, "partners_done", result if isinstance(result, int) else "")
        print(f"  {label:<46} {took:8.1f} s   ({detail})", flush=True)


def _dashboard(admin, manager, today) -> None:
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from deals import dashboard

    print("\nselectors, administrator (all partners):", flush=True)
    partners = dashboard.dashboard_partners(user=admin)
    start, end = dashboard.DashboardFilters().period()
    for label, fn in (
        ("pipeline_by_stage", lambda: dashboard.pipeline_by_stage(partners=partners)),
        ("pipeline_by_quarter", lambda: dashboard.pipeline_by_quarter(partners=partners)),
        ("revenue_by_tier_by_month", lambda: dashboard.revenue_by_tier_by_month(partners=partners)),
        ("revenue_concentration", lambda: dashboard.revenue_concentration(partners=partners, since=start, until=end)),
        ("active_dormant_by_month", lambda: dashboard.active_dormant_by_month(partners=partners)),
        ("queue cards", lambda: dashboard.deal_queue_cards(admin, partners)),
        ("dashboard_summary (all of the above)", lambda: dashboard.dashboard_summary(user=admin)),
        ("kpi_scorecard", lambda: dashboard.kpi_scorecard(user=admin, year=today.year, quarter=1)),
    ):
        _report(label, _time(fn, n=max(3, SAMPLES // 4)))
    try:
        url = reverse("staff:home")
    except NoReverseMatch:
        url = None
    if url:
        from django.conf import settings
        from django.core.cache import cache

        # The production setting (prm/settings.py): chart numbers reused for 300 s per scope.
        settings.PRM["DASHBOARD_CACHE_SECONDS"] = 300
        print(f"\nthe page {url} (Django test client, server time, chart cache 300 s):", flush=True)
        for label, user in (("administrator", admin), ("channel manager (500 partners)", manager)):
            cache.clear()
            client = Client()
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            print(f"staff:home — {label}: first view (cold cache) {1000 * (time.perf_counter() - started):.0f} ms")
            _report(f"staff:home — {label}, cached", _time(lambda c=client: c.get(url)))


def main() -> None:
    setup("bench_dashboard")
    if os.environ.get("BENCH_DASH_RESEED") or not _seeded():
        _seed()
    else:
        print("seeding: data already there (BENCH_DASH_RESEED=1 to regenerate)", flush=True)
    _measure()


if __name__ == "__main__":
    main()
