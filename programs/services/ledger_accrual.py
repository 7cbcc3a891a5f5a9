"""Points for events: earning rules applied to won deals, approved registrations, certificates
earned, sales reported and leads accepted within SLA.

ONE code path credits points, whoever calls it: `points_accrue_bulk(rule=…)` builds the
candidate events of a rule set-based (one SQL query per event type, `PROVIDERS`), computes
the points with the partner's tier multiplier in SQL, applies the per-period caps, and inserts
what an anti-join finds not yet credited; the ledger's unique key (source event, rule, kind)
decides any race (the losing statement runs again with ON CONFLICT DO NOTHING). So:

- `points_for_event(event=…, source_id=…)` (the Celery task `accrue_event`, dispatched
  on_commit by the services of those events) is the bulk path restricted to one source id;
- `points_reconcile(since=…)` (nightly beat) is the bulk path over every source;
- running both, twice, concurrently or after a crash never double-credits: the database key
  decides, and the anti-join skips what is already credited.

Caps: when a rule has a cap, its candidates are read in occurrence order under a per-rule
advisory lock and clamped in Python against what the rule already credited in the period
(per partner, per person); without caps the whole batch is one INSERT … SELECT — split by
partner over PRM["POINTS_ACCRUAL_WORKERS"] connections for a whole-history pass run outside a
transaction (the nightly reconciliation).

Deals cannot import programs, and the event services do not: they publish
(`prm.events.publish_on_commit`) and PRM["EVENT_TASKS"] names the task.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from prm.exceptions import ApplicationError
from programs.models import CapPeriod, EarningEvent, EarningRule, EntryKind, EntryState, LedgerEntry

from .ledger import _insert_entry, points_expiry_months
from .ledger_clawback import points_clawback_reconcile

__all__ = ["points_accrue_bulk", "points_for_event", "points_reconcile", "period_start"]

# pg_advisory_xact_lock(namespace, rule id) for capped rules ("PNTS").
CAP_LOCK_NAMESPACE = 0x504E5453

# The price of a currency in the base currency on a date: the latest stored rate on or before it.
_RATE = """(CASE WHEN {cur} = %(base)s THEN 1 ELSE (
    SELECT r.rate FROM prm_exchangerate r WHERE r.currency = {cur} AND r.valid_from <= ({when})::date
    ORDER BY r.valid_from DESC LIMIT 1) END)"""


def _deal_won(where: str) -> str:
    # A won deal: its final amount in the base currency; the person is who registered it.
    return f"""
        SELECT d.partner_id, u.id AS user_id, d.id::text AS source_id, d.closed_at AS occurred_at,
               d.final_amount * {_RATE.format(cur="d.currency", when="d.closed_at")} AS base_value
        FROM deals_dealregistration d
        LEFT JOIN prm_user u ON u.id = d.submitted_by_id AND u.partner_id = d.partner_id
        WHERE d.status = 'won' AND d.closed_at IS NOT NULL {where.format(id="d.id", at="d.closed_at")}"""  # noqa: S608 (code constants only; values are parameters)


def _registration_approved(where: str) -> str:
    # Approved registrations, including those since won, lost or expired; not those later
    # rejected by a conflict resolution.
    return f"""
        SELECT d.partner_id, u.id AS user_id, d.id::text AS source_id, d.approved_at AS occurred_at,
               NULL::numeric AS base_value
        FROM deals_dealregistration d
        LEFT JOIN prm_user u ON u.id = d.submitted_by_id AND u.partner_id = d.partner_id
        WHERE d.approved_at IS NOT NULL AND d.status IN ('approved', 'won', 'lost', 'expired')
              {where.format(id="d.id", at="d.approved_at")}"""  # noqa: S608 (code constants only; values are parameters)


def _certification_earned(where: str) -> str:
    # A certificate one of the partner's people earned; the person is the contact's user, if any.
    at = "(c.earned_on::timestamp AT TIME ZONE 'UTC')"
    return f"""
        SELECT ct.partner_id, ct.user_id, c.id::text AS source_id, {at} AS occurred_at, NULL::numeric AS base_value
        FROM partners_certification c JOIN partners_contact ct ON ct.id = c.contact_id
        WHERE TRUE {where.format(id="c.id", at=at)}"""  # noqa: S608 (code constants only; values are parameters)


def _sales_reported(where: str) -> str:
    # Sell-out the partner reported (sell-in is the vendor's own invoice); returns earn nothing.
    at = "(s.occurred_on::timestamp AT TIME ZONE 'UTC')"
    return f"""
        SELECT s.partner_id, u.id AS user_id, s.id::text AS source_id, {at} AS occurred_at,
               s.amount * {_RATE.format(cur="s.currency", when="s.occurred_on")} AS base_value
        FROM deals_salesrecord s
        LEFT JOIN prm_user u ON u.id = s.entered_by_id AND u.partner_id = s.partner_id
        WHERE s.kind = 'sell_out' AND s.amount > 0 {where.format(id="s.id", at=at)}"""  # noqa: S608 (code constants only; values are parameters)


def _lead_accepted_in_sla(where: str) -> str | None:
    """Lead offers a partner accepted before they expired (deals.LeadOffer; source = offer id)."""
    return f"""
        SELECT o.partner_id, u.id AS user_id, o.id::text AS source_id, o.responded_at AS occurred_at,
               NULL::numeric AS base_value
        FROM deals_leadoffer o
        LEFT JOIN prm_user u ON u.id = o.responded_by_id AND u.partner_id = o.partner_id
        WHERE o.status = 'accepted' AND o.responded_at IS NOT NULL AND o.responded_at <= o.expires_at
              {where.format(id="o.id", at="o.responded_at")}"""  # noqa: S608 (code constants only; values are parameters)


PROVIDERS = {
    EarningEvent.DEAL_WON: _deal_won,
    EarningEvent.REGISTRATION_APPROVED: _registration_approved,
    EarningEvent.CERTIFICATION_EARNED: _certification_earned,
    EarningEvent.SALES_REPORTED: _sales_reported,
    EarningEvent.LEAD_ACCEPTED_IN_SLA: _lead_accepted_in_sla,
}


def _points_sql(
    rule: EarningRule, *, source_id: int | None, since: dt.datetime | None, sharded: bool = False
) -> tuple[str, dict] | None:
    """SELECT of the rule's not-yet-credited events with the points each earns (before caps):
    partner_id, user_id, source_id, occurred_at, base_value, multiplier, pts. `sharded` adds
    "partner_id mod %(shards)s = %(shard)s" (the caller sets both parameters)."""
    where = ""
    if source_id is not None:
        where += " AND {id} = %(source_id)s"
    if since is not None:
        where += " AND {at} >= %(since)s"
    candidates = PROVIDERS[rule.event](where)
    if candidates is None:
        return None
    valid_from = dt.datetime.combine(rule.valid_from, dt.time.min, tzinfo=dt.UTC)
    valid_to = (
        dt.datetime.combine(rule.valid_to + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC) if rule.valid_to else None
    )
    rate = "c.base_value / 1000 * %(points)s" if rule.per_thousand else "%(points)s"
    mult = "COALESCE(t.points_multiplier, 1)" if rule.applies_tier_multiplier else "1"
    sql = f"""
        SELECT x.* FROM (
            SELECT c.partner_id, c.user_id, c.source_id, c.occurred_at, c.base_value, {mult} AS multiplier,
                   round(({rate}) * {mult}, 0) AS pts
            FROM ({candidates}) c
            JOIN partners_partner p ON p.id = c.partner_id
            LEFT JOIN partners_tier t ON t.id = p.tier_id
            WHERE c.occurred_at >= %(valid_from)s {"AND c.occurred_at < %(valid_to)s" if valid_to else ""}
              {"AND c.partner_id %% %(shards)s = %(shard)s" if sharded else ""}
              AND NOT EXISTS (
                  SELECT 1 FROM programs_ledgerentry e
                  WHERE e.source_type = %(event)s AND e.source_id = c.source_id AND e.kind = 'points'
                    AND e.rule_id = %(rule)s)
        ) x WHERE x.pts > 0"""  # noqa: S608 (code constants only; values are parameters)
    params = {
        "base": settings.PRM["BASE_CURRENCY"],
        "source_id": source_id,
        "since": since,
        "points": rule.points,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "event": rule.event,
        "rule": rule.pk,
    }
    return sql, params


# A time-ordered public id (the layout of a version-7 UUID: 48 bits of Unix milliseconds, then
# random bits): a random UUID lands each of a million new keys on a random page of the unique
# index, a time-ordered one appends near its right edge (~10 % of the accrual's time, bench).
_UUID7_SQL = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing"
    " substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),"
    " 52, 1), 53, 1), 'hex')::uuid"
)

_BULK_INSERT = """
INSERT INTO programs_ledgerentry
    (public_id, created_at, updated_at, partner_id, user_id, kind, amount, unit, state, state_changed_at,
     rule_id, source_type, source_id, occurred_at, expires_at, reverses_id, reason, base_value, multiplier,
     calculation, created_by_id)
SELECT {uuid7}, %(now)s, %(now)s, x.partner_id, x.user_id, 'points', x.pts, 'points', 'accrued', NULL,
       %(rule)s, %(event)s, x.source_id, x.occurred_at, x.occurred_at + make_interval(months => %(months)s), NULL, '',
       x.base_value, x.multiplier, %(calculation)s::jsonb, NULL
FROM ({points}) x
""".replace("{uuid7}", _UUID7_SQL)
# No ON CONFLICT on the first attempt: the anti-join in _points_sql already skips credited
# events, and speculative insertion costs ~30 % of the insert's CPU (bench). The unique key
# still decides: if a concurrent writer credits one of the same events first, this statement
# fails with a unique violation and rolls back to its savepoint. It then runs once more WITH
# ON CONFLICT DO NOTHING: a plain retry of a long statement can lose the race again and again
# while event tasks keep committing credits it has not seen.
_ON_CONFLICT = "ON CONFLICT DO NOTHING"


def _terms(rule: EarningRule) -> dict:
    """The rule's terms as the entry records them (the same for every entry of one accrual)."""
    return {"rate": str(rule.points), "per_thousand": rule.per_thousand}


def period_start(when: dt.datetime, period: str) -> dt.date:
    """First day of the cap period (UTC) that `when` falls in."""
    day = when.astimezone(dt.UTC).date()
    if period == CapPeriod.MONTH:
        return day.replace(day=1)
    if period == CapPeriod.QUARTER:
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)


def points_accrue_bulk(*, rule: EarningRule, source_id: int | None = None, since: dt.datetime | None = None) -> int:
    """Credit every not-yet-credited event of `rule` (optionally one source, or events since a
    time), set-based. Returns the number of entries written. Idempotent.

    One transaction, except for the whole-history pass of an uncapped rule run outside any
    transaction (the nightly reconciliation, the bench): that one is split by partner into
    PRM["POINTS_ACCRUAL_WORKERS"] shards run at once, each on its own connection and in its own
    transaction. Shards touch disjoint partners, so they never wait on each other's balance rows;
    a failed shard leaves its partners uncredited and the next run credits them."""
    if rule.event not in PROVIDERS:
        raise ApplicationError(f"No event provider for {rule.event}")
    uncapped = rule.cap_per_partner is None and rule.cap_per_person is None
    workers = int(settings.PRM.get("POINTS_ACCRUAL_WORKERS", 1))
    if uncapped and source_id is None and workers > 1 and not connection.in_atomic_block:
        return _accrue_sharded(rule, since=since, shards=workers)
    built = _points_sql(rule, source_id=source_id, since=since)
    if built is None:
        return 0
    sql, params = built
    with transaction.atomic():
        if uncapped:
            return _accrue_uncapped(rule, sql, params)
        return _accrue_capped(rule, sql, params)


def _accrue_sharded(rule: EarningRule, *, since: dt.datetime | None, shards: int) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    built = _points_sql(rule, source_id=None, since=since, sharded=True)
    if built is None:
        return 0
    sql, params = built

    def shard(n: int) -> int:
        # A thread has its own connection (Django keeps one per thread); close it when done.
        try:
            with transaction.atomic():
                return _accrue_uncapped(rule, sql, {**params, "shards": shards, "shard": n})
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=shards, thread_name_prefix="points-accrual") as pool:
        return sum(pool.map(shard, range(shards)))


# Planner settings for one set-based pass (source_id is None), restored right after it:
# - no JIT: compiling this statement costs ~1 s and saves less on a single pass (bench);
# - no nested loops: the anti-join against the ledger must hash. Right after a big accrual the
#   ledger's statistics still say "empty" until autoanalyze runs, and a nested loop over a
#   million credited entries per event never finishes (seen in the bench's second run).
#   One event (source_id given) keeps the planner's choice: an index probe is right there.
_BULK_SETTINGS = {"jit": "off", "enable_nestloop": "off"}


def _accrue_uncapped(rule: EarningRule, sql: str, params: dict) -> int:
    params = {
        **params,
        "now": timezone.now(),
        "months": points_expiry_months(),
        "calculation": json.dumps(_terms(rule)),
    }
    settings_sql = ", ".join(f"set_config('{name}', %s, true)" for name in _BULK_SETTINGS)
    bulk = params.get("source_id") is None
    insert = _BULK_INSERT.replace("{points}", sql)
    try:
        return _run_bulk(insert, params, bulk=bulk, settings_sql=settings_sql)
    except IntegrityError as exc:
        if "ledger_one_credit_per_event_rule" not in str(exc):
            raise
    return _run_bulk(insert + _ON_CONFLICT, params, bulk=bulk, settings_sql=settings_sql)


def _run_bulk(insert: str, params: dict, *, bulk: bool, settings_sql: str) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        if bulk:
            cursor.execute(f"SELECT {', '.join(f'current_setting({n!r})' for n in _BULK_SETTINGS)}")  # noqa: S608 (constants)
            before = cursor.fetchone()
            cursor.execute(f"SELECT {settings_sql}", list(_BULK_SETTINGS.values()))  # noqa: S608 (constants)
        cursor.execute(insert, params)
        written = cursor.rowcount
        if bulk:
            cursor.execute(f"SELECT {settings_sql}", list(before))  # noqa: S608 (constants)
        return written


def _accrue_capped(rule: EarningRule, sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        # Serialise capped accruals of this rule: the cap read and the inserts must not interleave.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CAP_LOCK_NAMESPACE, rule.pk])
        cursor.execute(sql + " ORDER BY x.occurred_at, x.source_id", params)
        rows = cursor.fetchall()
    if not rows:
        return 0
    partner_ids = {r[0] for r in rows}
    first = min(period_start(r[3], rule.cap_period) for r in rows)
    first_at = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    used_partner: dict[tuple, Decimal] = {}
    used_person: dict[tuple, Decimal] = {}
    credited = (
        LedgerEntry.objects.filter(
            rule=rule, kind=EntryKind.POINTS, partner_id__in=partner_ids, occurred_at__gte=first_at
        )
        .exclude(state=EntryState.REVERSED)
        .values_list("partner_id", "user_id", "occurred_at", "amount")
    )
    for partner_id, user_id, occurred_at, amount in credited:
        start = period_start(occurred_at, rule.cap_period)
        used_partner[(partner_id, start)] = used_partner.get((partner_id, start), Decimal(0)) + amount
        if user_id:
            used_person[(user_id, start)] = used_person.get((user_id, start), Decimal(0)) + amount
    written = 0
    for partner_id, user_id, source_id, occurred_at, base_value, multiplier, pts in rows:
        start = period_start(occurred_at, rule.cap_period)
        allowed = pts
        if rule.cap_per_partner is not None:
            allowed = min(allowed, rule.cap_per_partner - used_partner.get((partner_id, start), Decimal(0)))
        if rule.cap_per_person is not None and user_id:
            allowed = min(allowed, rule.cap_per_person - used_person.get((user_id, start), Decimal(0)))
        if allowed <= 0:
            continue
        entry = _insert_entry(
            partner_id=partner_id,
            kind=EntryKind.POINTS,
            amount=allowed,
            unit="points",
            source_type=rule.event,
            source_id=source_id,
            rule_id=rule.pk,
            user_id=user_id,
            occurred_at=occurred_at,
            base_value=base_value,
            multiplier=multiplier,
            calculation={**_terms(rule), "capped": allowed < pts, "uncapped": str(pts)},
        )
        if entry is not None:
            written += 1
            used_partner[(partner_id, start)] = used_partner.get((partner_id, start), Decimal(0)) + allowed
            if user_id:
                used_person[(user_id, start)] = used_person.get((user_id, start), Decimal(0)) + allowed
    return written


def _active_rules(event: str | None = None):
    qs = EarningRule.objects.filter(active=True).order_by("pk")
    if event is not None:
        qs = qs.filter(event=event)
    return list(qs)


def points_for_event(*, event: str, source_id: int) -> int:
    """Credit one event under every active rule for it. Returns entries written (0 when already
    credited, not eligible, or outside every rule's window). Safe to call any number of times."""
    if event not in EarningEvent.values:
        raise ApplicationError(f"Unknown earning event {event!r}")
    return sum(points_accrue_bulk(rule=rule, source_id=int(source_id)) for rule in _active_rules(event))


def points_reconcile(since: dt.datetime | None = None) -> dict[str, int]:
    """Nightly: credit every event any active rule should have credited and did not (a lost
    task, a rule added later). Set-based per rule. Returns entries written per event."""
    written: dict[str, int] = {}
    for rule in _active_rules():
        written[rule.event] = written.get(rule.event, 0) + points_accrue_bulk(rule=rule, since=since)
    written.update(points_clawback_reconcile(since=since))  # returns and revocations the tasks missed
    return written
