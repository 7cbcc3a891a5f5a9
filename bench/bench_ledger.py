"""Loyalty points at scale: accrue points for 1,000,000 won deals, set-based and idempotent.

    createdb -h 127.0.0.1 -U postgres prm_bench_ledger
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench_ledger python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench_ledger python -m bench.bench_ledger

Seeds (once; BENCH_LEDGER_RESEED=1 forces) 2,000 partners over four tiers with points
multipliers and BENCH_LEDGER_DEALS won registrations (INSERT … SELECT generate_series) in the
CURRENT database, which must be a *bench* database. Then, timed, through the real service
(`programs.services.points_accrue_bulk`, the path the nightly reconciliation takes):

1. the first run credits every won deal: one INSERT … SELECT per shard of partners
   (PRM["POINTS_ACCRUAL_WORKERS"], default 2: one connection per core), the tier multiplier
   in SQL, an anti-join for what is already credited; the statement-level triggers check the
   references and update each partner's balance row once;
2. the second run credits nothing (the anti-join and the unique key), and says how long the
   nightly "nothing missed" pass costs.

Where the time went, measured on this 2-core machine (1M events, helpers paused): 57 CPU-s
on one connection at the start; per-row foreign-key checks (→ statement-level triggers),
a JSON document built per row (→ two numeric columns and one document per statement), the
expires_at index (→ dropped; the daily expiry pass reads the ledger), random UUIDs
(→ time-ordered), linguistic collation on the key columns (→ "C") and the triggers reading
the new rows several times (→ once) brought it to ~30 CPU-s, which two shards run in ~18 s.

Prints seconds and events per second (target: ≥ 50,000 events/s) and checks the totals:
entries = deals, Σ balances = Σ ledger, no duplicates.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from bench.common import execute, scalar, setup

DEALS = int(os.environ.get("BENCH_LEDGER_DEALS", "1000000"))
PARTNERS = 2000
TARGET = 50_000


def _proc_cpu(pid: int) -> float | None:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BackendCpu:
    """CPU seconds the Postgres backends serving this database use while the block runs (local
    server, /proc), summed over every connection — the accrual runs on several. Sampled every
    50 ms from the side, so a backend that exits loses at most its last 50 ms. On a shared,
    loaded machine wall time mostly measures the neighbours; this does not."""

    def __enter__(self):
        import threading

        from django.db import connection

        self.name = connection.settings_dict["NAME"]
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self._poll()  # the backends already there: count only what they use from now on
        self.start = dict(self.last)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _poll(self) -> None:
        from django.db import connections

        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.name]
            )
            pids = [row[0] for row in cursor.fetchall()]
        for pid in pids:
            cpu = _proc_cpu(pid)
            if cpu is not None:
                self.last[pid] = cpu

    def _run(self) -> None:
        from django.db import connections

        try:
            while not self.stop.wait(0.05):
                self._poll()
        finally:
            connections.close_all()

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self._poll()
        self.seconds = sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.last.items())
        self.backends = len(self.last)
        return False


# This module's registrations: a year no other bench uses, so `make bench` (one shared
# prm_bench database, bench_deals first) keeps both data sets.
REFERENCE_PREFIX = "DR-1999-"


def _seeded() -> bool:
    return (
        scalar("SELECT count(*) FROM deals_dealregistration WHERE reference LIKE %s", [REFERENCE_PREFIX + "%"]) >= DEALS
    )


def _seed() -> None:
    from decimal import Decimal

    from django.contrib.auth.hashers import make_password

    from partners.models import Partner, PartnerStatus, PartnerType, Region, Tier
    from prm.models import Role, User

    started = time.perf_counter()
    print("seeding: truncating …", flush=True)
    execute("TRUNCATE programs_ledgerentry, programs_pointsbalance RESTART IDENTITY CASCADE")
    # Only this module's rows: other benches' registrations stay.
    execute("DELETE FROM deals_dealregistration WHERE reference LIKE %s", [REFERENCE_PREFIX + "%"])
    tiers = []
    for rank, (code, mult) in enumerate(
        [("registered", "1.00"), ("silver", "1.20"), ("gold", "1.50"), ("platinum", "2.00")]
    ):
        tier, _ = Tier.objects.get_or_create(
            code=f"bench-{code}",
            defaults={"name": f"Bench {code}", "rank": 100 + rank, "points_multiplier": Decimal(mult)},
        )
        tiers.append(tier)
    manager = User.objects.filter(email="bench-ledger-manager@bench.test").first() or User.objects.create(
        email="bench-ledger-manager@bench.test",
        full_name="Bench Manager",
        role=Role.CHANNEL_MANAGER,
        password=make_password(None),
    )
    have = Partner.objects.filter(name__startswith="Bench Ledger Partner ").count()
    Partner.objects.bulk_create(
        [
            Partner(
                name=f"Bench Ledger Partner {i:04d}",
                legal_name=f"Bench Ledger Partner {i:04d} LLC",
                partner_type=PartnerType.RESELLER,
                status=PartnerStatus.ACTIVE,
                country="RU",
                region=Region.RUSSIA,
                owner=manager,
                tier=tiers[i % 4],
            )
            for i in range(have, PARTNERS)
        ],
        batch_size=1000,
    )
    partners = list(Partner.objects.filter(name__startswith="Bench Ledger Partner ").order_by("pk")[:PARTNERS])
    existing = set(User.objects.filter(email__endswith="@bench-ledger.test").values_list("partner_id", flat=True))
    User.objects.bulk_create(
        [
            User(
                email=f"admin{p.pk}@bench-ledger.test",
                full_name=f"Admin {p.pk}",
                role=Role.PARTNER_ADMIN,
                partner=p,
                password=make_password(None),
                email_notifications=False,
            )
            for p in partners
            if p.pk not in existing
        ],
        batch_size=1000,
    )
    rep_of = dict(User.objects.filter(email__endswith="@bench-ledger.test").values_list("partner_id", "pk"))
    partner_ids = [p.pk for p in partners]
    user_ids = [rep_of[pk] for pk in partner_ids]
    customer = scalar("SELECT min(id) FROM deals_endcustomer")
    if customer is None:
        execute(
            "INSERT INTO deals_endcustomer (public_id, name, normalized_name, website, domain, tax_id, country, city,"
            " created_at, updated_at) VALUES (gen_random_uuid(), 'Bench Customer', 'bench customer', '', '', '',"
            " 'RU', 'Moscow', now(), now())"
        )
        customer = scalar("SELECT min(id) FROM deals_endcustomer")
    print(f"seeding: {DEALS:,} won registrations …", flush=True)
    execute(
        f"""
        INSERT INTO deals_dealregistration (
            public_id, reference, partner_id, submitted_by_id, end_customer_id, customer_entered, title, description,
            value, currency, expected_close_date, stage, probability, status, status_changed_at,
            submitted_at, last_submitted_at, submission_count, review_due_at, review_reminder_at,
            decided_at, decision_reason, approved_at, protection_days, protected_until, expired_at,
            closed_at, final_amount, lost_reason, flags, flag_evidence, created_at, updated_at)
        SELECT md5('bl' || g)::uuid, '{REFERENCE_PREFIX}' || lpad(g::text, 7, '0'),
               (%s::bigint[])[1 + prn], (%s::bigint[])[1 + prn], {customer}, '{{}}', '', '',
               1000 + (g %% 1000) * 1000, 'RUB', current_date, 'proposal', 100, 'won', t + interval '40 days',
               t, t, 1, NULL, NULL, t + interval '1 day', '', t + interval '1 day', 90, t + interval '91 days', NULL,
               t + interval '40 days', 1000 + (g %% 1000) * 900, '', '{{}}', '{{}}', t, t
        FROM (
            SELECT g, now() - interval '60 days' - ((g %% 300) || ' days')::interval AS t,
                   (g::bigint * 31) %% {PARTNERS} AS prn
            FROM generate_series(1, {DEALS}) AS g
        ) AS src
        """,  # noqa: S608 — only this module's integer constants are formatted in
        [partner_ids, user_ids],
    )
    execute("ANALYZE deals_dealregistration")
    print(f"seeding: done in {time.perf_counter() - started:.1f} s", flush=True)


def _measure() -> None:
    from programs.models import EarningEvent, EarningRule
    from programs.services import points_accrue_bulk

    execute("TRUNCATE programs_ledgerentry, programs_pointsbalance RESTART IDENTITY CASCADE")
    execute("VACUUM ANALYZE programs_ledgerentry")
    EarningRule.objects.filter(name="Bench: deals won").delete()
    rule = EarningRule.objects.create(
        name="Bench: deals won",
        event=EarningEvent.DEAL_WON,
        points=10,
        per_thousand=True,
        valid_from=dt.date(2000, 1, 1),
    )
    # Every won deal in the database (this module's million, plus any other bench's).
    events = scalar("SELECT count(*) FROM deals_dealregistration WHERE status = 'won'")

    with BackendCpu() as cpu:
        started = time.perf_counter()
        first = points_accrue_bulk(rule=rule)
        first_s = time.perf_counter() - started
    print(
        f"first run:  {first:,} entries in {first_s:.2f} s = {first / first_s:,.0f} events/s "
        f"(Postgres CPU {cpu.seconds:.2f} s on {cpu.backends} backends; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
        flush=True,
    )

    started = time.perf_counter()
    second = points_accrue_bulk(rule=rule)
    second_s = time.perf_counter() - started
    print(f"second run: {second:,} entries in {second_s:.2f} s ({events / second_s:,.0f} events/s checked)", flush=True)

    ledger = scalar("SELECT coalesce(sum(amount), 0) FROM programs_ledgerentry")
    balances = scalar("SELECT coalesce(sum(balance), 0) FROM programs_pointsbalance")
    dupes = scalar(
        "SELECT count(*) FROM (SELECT 1 FROM programs_ledgerentry GROUP BY source_type, source_id, kind, rule_id"
        " HAVING count(*) > 1) d"
    )
    print(
        f"checks: {events:,} won deals, {first:,} entries, Σ ledger {ledger:,} = Σ balances {balances:,}, "
        f"{dupes} duplicates",
        flush=True,
    )
    assert first == events and second == 0 and ledger == balances and dupes == 0
    verdict = "meets" if first / first_s >= TARGET else "BELOW"
    print(f"target ≥ {TARGET:,} events/s: {verdict}", flush=True)


def main() -> None:
    setup("bench_ledger")
    if os.environ.get("BENCH_LEDGER_RESEED") == "1" or not _seeded():
        _seed()
    else:
        print(f"seeding: {DEALS:,} won registrations already there (BENCH_LEDGER_RESEED=1 to redo)", flush=True)
    _measure()


if __name__ == "__main__":
    main()
