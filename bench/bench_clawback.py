"""Points clawback at scale: the nightly reconciliation's extra cost over 1,000,000 sales records.

    createdb -h 127.0.0.1 -U postgres prm_bench_clawback
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench_clawback python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench_clawback python -m bench.bench_clawback

Seeds the sales bench's records if they are missing (bench_sales: 1M lines, a fifth of them
sell-out) in the CURRENT *bench* database, a "sales reported" rule whose points are credited
set-based for every sell-out, and, on every run, BENCH_CLAWBACK_RETURNS (2,000) new returns
linked to their sale the way `sales_record_return` links them (the ledger is append-only, so
nothing is reset: each run returns reports not returned before). Then, timed, through the real service
(`programs.services.points_clawback_reconcile`, which `points_reconcile` calls nightly):

1. the first pass claws back every return (the per-return path: locks, pro rata, one INSERT);
2. the second pass finds nothing missed: the pre-selection query alone, the nightly cost
   when the on-commit tasks did their job;
3. one return's task (`points_clawback_for_return`) on an already clawed-back return.

Checks: one clawback per return, Σ balances = Σ ledger, no balance below zero.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from bench.common import execute, scalar, setup

RETURNS = int(os.environ.get("BENCH_CLAWBACK_RETURNS", "2000"))
RULE_NAME = "Bench clawback: sales reported"


def _seed() -> int:
    """The sales bench's records if missing, the rule and its credits (idempotent), and
    RETURNS new returns: each run returns sell-out reports not returned before, so every run
    times a first pass (the ledger is append-only: nothing is reset)."""
    from bench import bench_sales
    from programs.models import EarningEvent, EarningRule
    from programs.services import points_accrue_bulk

    if not scalar("SELECT count(*) FROM deals_salesrecord WHERE reference LIKE 'BS-%%'", ()):
        bench_sales._seed()
    started = time.perf_counter()
    rule, _ = EarningRule.objects.get_or_create(
        name=RULE_NAME,
        defaults={
            "event": EarningEvent.SALES_REPORTED,
            "points": 2,
            "per_thousand": True,
            "valid_from": dt.date(2000, 1, 1),
            "applies_tier_multiplier": False,
        },
    )
    credited = points_accrue_bulk(rule=rule)
    print(f"seeding: {credited:,} sell-out reports credited in {time.perf_counter() - started:.1f} s", flush=True)
    # Half of each chosen report comes back, dated 10 days after it (never in the future).
    added = execute(
        """
        INSERT INTO deals_salesrecord (public_id, partner_id, kind, occurred_on, reference, quantity, amount,
                                       currency, source, note, created_at, updated_at)
        SELECT gen_random_uuid(), o.partner_id, o.kind, LEAST(o.occurred_on + 10, current_date),
               'R-' || replace(o.public_id::text, '-', '') || '-1', NULL, -round(o.amount / 2, 2), o.currency,
               'manual', 'Return of ' || o.reference || ': bench', now(), now()
        FROM (SELECT s.* FROM deals_salesrecord s
              WHERE s.kind = 'sell_out' AND s.amount > 0 AND s.reference LIKE 'BS-%%'
                AND NOT EXISTS (SELECT 1 FROM deals_salesrecord r
                                WHERE r.partner_id = s.partner_id AND r.kind = s.kind
                                  AND r.reference = 'R-' || replace(s.public_id::text, '-', '') || '-1')
              ORDER BY s.id LIMIT %s) o
        """,
        [RETURNS],
    )
    execute("ANALYZE deals_salesrecord")
    execute("ANALYZE programs_ledgerentry")
    return added


def main() -> None:
    setup("bench_clawback")
    from programs.models import LedgerEntry, SourceType
    from programs.services import points_clawback_for_return, points_clawback_reconcile

    added = _seed()
    sales = scalar("SELECT count(*) FROM deals_salesrecord", ())
    credits = scalar("SELECT count(*) FROM programs_ledgerentry WHERE source_type = 'sales_reported'", ())
    print(f"data: {sales:,} sales records, {credits:,} sell-out credits, {added:,} new returns", flush=True)

    # Each bench return is its sale's first: due = round(points credited × returned / sold).
    expected = scalar(
        """
        SELECT count(*) FROM deals_salesrecord r
        JOIN deals_salesrecord o ON o.public_id = substring(r.reference FROM 3 FOR 32)::uuid
        JOIN programs_ledgerentry e ON e.source_type = 'sales_reported' AND e.source_id = o.id::text
        WHERE r.reference LIKE 'R-%%' AND r.note LIKE '%%bench' AND round(e.amount * -r.amount / o.amount) > 0
          AND NOT EXISTS (SELECT 1 FROM programs_ledgerentry c
                          WHERE c.source_type = 'sales_returned' AND c.source_id = r.id::text)
        """,
        (),
    )
    before = LedgerEntry.objects.filter(source_type=SourceType.SALES_RETURNED).count()
    started = time.perf_counter()
    first = points_clawback_reconcile()
    first_s = time.perf_counter() - started
    written = first.get("sales_returned", 0)
    rate = written / first_s if first_s else float("inf")
    print(f"first pass: {written:,} clawbacks in {first_s:.2f} s ({rate:,.0f} returns/s)", flush=True)

    started = time.perf_counter()
    second = points_clawback_reconcile()
    print(f"second pass (nothing missed): {second} in {time.perf_counter() - started:.3f} s", flush=True)

    one = scalar("SELECT max(id) FROM deals_salesrecord WHERE reference LIKE 'R-%%' AND note LIKE '%%bench'", ())
    started = time.perf_counter()
    again = points_clawback_for_return(return_id=one)
    print(f"one return's task, already done: {again} in {(time.perf_counter() - started) * 1000:.1f} ms")

    total = LedgerEntry.objects.filter(source_type=SourceType.SALES_RETURNED).count()
    assert second == {} and again == 0, (second, again)
    assert total - before == written == expected, (total, before, written, expected)
    assert scalar("SELECT count(*) FROM programs_pointsbalance WHERE balance < 0", ()) == 0
    assert scalar("SELECT sum(balance) FROM programs_pointsbalance", ()) == scalar(
        "SELECT sum(amount) FROM programs_ledgerentry WHERE kind = 'points'", ()
    )
    print(f"checks: one clawback per return with points due ({expected:,} of {added:,}), balances = ledger, none < 0")


if __name__ == "__main__":
    main()
