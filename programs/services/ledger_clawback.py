"""Clawback: points an event earned are taken back when the event is undone.

- **A sell-out returned** (`deals.services.sales_record_return`, a new negative SalesRecord whose
  reference names the original): every points credit the original sale earned (one per rule)
  loses the returned share of it, `returned amount / original amount × points credited`,
  rounded half up. Several partial returns of one sale are rounded cumulatively (return k takes
  round(share through k) − round(share before k), in the order the returns were recorded), so
  they add up to exactly the points credited when everything comes back, whatever order their
  tasks run in.
- **A certificate revoked** (`partners.services.certification_revoke`, which deletes it): every
  credit it earned is taken back in full.

Each clawback is a new, immutable ledger entry (the ledger is append-only): a points debit with
source `sales_returned`/return id or `certification_revoked`/certificate id, the rule of the
credit it takes back, and `reverses` = that credit (so FIFO accounting takes it from that lot
first). The ledger's unique key (source, source id, kind, rule) makes it one entry per return
(or certificate) and rule whatever the retries: the task on commit (`clawback_event`) and the
nightly `points_reconcile` (which calls `points_clawback_reconcile`) run the same per-event
function below, under row locks on the credits, and the second finds the entry already there.

**When the points were already spent** (the balance may never go negative, CHECK
points_balance_nonneg): the clawback takes what the balance still holds and the rest is a
*shortfall*, written off rather than carried as a debt. The entry records it in its calculation
(`due`, `clawed`, `shortfall`; a clawback that found nothing to take is a zero-amount entry, which
the ledger allows for clawbacks with a recorded shortfall only), and the partner's channel manager
(else a channel lead) is notified once, to recover it by hand if they see fit (a negative manual
adjustment once the partner has points again, or a word with the partner). Why not a debt: a
negative balance is refused by the database and by every reader of it, and silently netting
future earnings would make the partner's history unexplainable. Why not refuse: the return is
a fact about money; it must never fail or wait because of points (the return service only
publishes an event after commit).

Also never taken back twice or beyond what is left of a credit: a credit a manager already
reversed is skipped, and points of the credit that already expired unused (an expiry entry on
its lot) are not taken again from the rest of the balance.

Not clawed back (no path undoes them, so nothing is built): a won deal is never un-won and its
final amount never changes after `deal_mark_won` (deals.services.registration has no such path;
the admin is read-only); a certificate that reaches its expiry date keeps its points (it was
earned). Not covered yet: an approved registration later rejected by a conflict resolution
keeps its "registration approved" points; a negative sales line imported by CSV names no
original, so there is nothing to take back from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy

from deals.models import SalesKind, SalesRecord
from deals.services import sales_record_original
from deals.services._common import notify, reviewers_for
from deals.services.sales import return_reference_prefix
from partners.models import Certification, Partner
from prm.exceptions import ApplicationError
from prm.models import AuditLog
from programs.models import POINTS, EntryKind, EntryState, LedgerEntry, SourceType

from .ledger import _insert_entry, _lock_balance

__all__ = [
    "CLAWBACK_EVENTS",
    "points_clawback_for_certification",
    "points_clawback_for_event",
    "points_clawback_for_return",
    "points_clawback_reconcile",
]

# Event (prm.events) → the ledger source of its clawback entries.
CLAWBACK_EVENTS = {
    "sales_returned": SourceType.SALES_RETURNED,
    "certification_revoked": SourceType.CERTIFICATION_REVOKED,
}

SHORTFALL_TITLE = gettext_lazy("%(partner)s: %(points)s points could not be taken back")
# Per source, rendered in each recipient's language by notify().
SHORTFALL_BODIES = {
    SourceType.SALES_RETURNED: gettext_lazy(
        "Return of sale %(reference)s: the partner had already spent the points, so %(points)s of the "
        "%(due)s points due were written off. Adjust the partner's points by hand if they should be recovered."
    ),
    SourceType.CERTIFICATION_REVOKED: gettext_lazy(
        "Certificate %(reference)s revoked: the partner had already spent the points, so %(points)s of the "
        "%(due)s points due were written off. Adjust the partner's points by hand if they should be recovered."
    ),
}


def _share(points: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """`points × part / whole`, rounded half up to whole points (SQL round() does the same)."""
    return (points * part / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def _lock_credits(source_type: str, source_id) -> list[LedgerEntry]:
    """The points credits one event earned (one per rule), locked in id order: clawbacks of the
    same event, and a manager reversing one of them, wait for each other."""
    return list(
        LedgerEntry.objects.select_for_update()
        .filter(source_type=source_type, source_id=str(source_id), kind=EntryKind.POINTS, amount__gt=0)
        .order_by("pk")
    )


def _left_of(credits: list[LedgerEntry]) -> dict[int, Decimal]:
    """What is left of each credit to take back: its amount less what earlier clawbacks took
    and what expired unused."""
    taken = dict(
        LedgerEntry.objects.filter(reverses__in=[c.pk for c in credits])
        .values("reverses_id")
        .annotate(s=Sum("amount"))
        .values_list("reverses_id", "s")
        .order_by()
    )
    expired = dict(
        LedgerEntry.objects.filter(
            source_type=SourceType.EXPIRY, kind=EntryKind.POINTS, source_id__in=[str(c.pk) for c in credits]
        )
        .values("source_id")
        .annotate(s=Sum("amount"))
        .values_list("source_id", "s")
        .order_by()
    )
    return {c.pk: c.amount + (taken.get(c.pk) or 0) + (expired.get(str(c.pk)) or 0) for c in credits}


def _claw_back(
    *,
    credits: list[LedgerEntry],
    source_type: str,
    source_id: int,
    occurred_at: dt.datetime,
    due_for: Callable[[LedgerEntry], Decimal],
    details: dict,
    reason: str,
) -> int:
    """Write one clawback entry per credit (rule) not yet clawed back for this event: the points
    due, capped by what is left of the credit, taken from the balance as far as it goes; the
    shortfall recorded, and staff told once. Call inside a transaction with `credits` locked.
    Returns the entries written."""
    done = set(
        LedgerEntry.objects.filter(source_type=source_type, source_id=str(source_id), kind=EntryKind.POINTS)
        .values_list("rule_id", flat=True)
        .order_by()
    )
    # A credit a manager reversed is already taken back in full.
    todo = [c for c in credits if c.rule_id not in done and c.state != EntryState.REVERSED]
    if not todo:
        return 0
    left = _left_of(todo)
    partner_id = todo[0].partner_id
    balance = _lock_balance(partner_id)
    written = 0
    total_due = total_short = Decimal(0)
    for credit in todo:
        due = min(due_for(credit), max(left[credit.pk], Decimal(0)))
        if due <= 0:
            continue
        # Points are whole numbers; the balance column has two decimals.
        clawed = min(due, max(balance, Decimal(0))).quantize(Decimal(1), rounding=ROUND_DOWN)
        shortfall = due - clawed
        entry = _insert_entry(
            partner_id=partner_id,
            kind=EntryKind.POINTS,
            amount=-clawed if clawed else Decimal(0),
            unit=POINTS,
            source_type=source_type,
            source_id=str(source_id),
            rule_id=credit.rule_id,
            user_id=credit.user_id,
            occurred_at=occurred_at,
            reverses_id=credit.pk,
            reason=reason,
            calculation={
                **details,
                "credited": str(credit.amount.quantize(Decimal(1))),
                "due": str(due),
                "clawed": str(clawed),
                "shortfall": str(shortfall),
            },
        )
        if entry is None:  # pragma: no cover - the credits' row locks make the check above final
            continue
        written += 1
        balance -= clawed
        total_due += due
        total_short += shortfall
    if total_short > 0:
        _notify_shortfall(
            partner_id, source_type, source_id, reference=details["reference"], due=total_due, short=total_short
        )
    return written


def _notify_shortfall(
    partner_id: int, source_type: str, source_id, *, reference: str, due: Decimal, short: Decimal
) -> None:
    from django.urls import reverse

    partner = Partner.objects.select_related("owner").get(pk=partner_id)
    notify(
        reviewers_for(partner),
        kind="points_clawback_shortfall",
        key=f"points-clawback-shortfall:{source_type}:{source_id}",
        title=SHORTFALL_TITLE,
        body=SHORTFALL_BODIES[source_type],
        params={"partner": partner.name, "points": int(short), "due": int(due), "reference": reference},
        url=reverse("staff:ledger_partner", kwargs={"public_id": partner.public_id}),
    )


# --- sales returned ---------------------------------------------------------------------------


def points_clawback_for_return(*, return_id: int) -> int:
    """Take back the returned share of the points the original sale earned, once per rule.
    Returns entries written (0 when not a sell-out return, the original earned nothing, it
    was already done, or the share rounds to nothing). Safe to call any number of times."""
    record = SalesRecord.objects.filter(pk=return_id).first()
    if record is None or record.kind != SalesKind.SELL_OUT or record.amount >= 0:
        return 0
    original = sales_record_original(record)
    if original is None:
        return 0
    with transaction.atomic():
        credits = _lock_credits(SourceType.SALES_REPORTED, original.pk)
        if not credits:
            return 0
        # Returns are recorded one at a time under a lock on the original, so id order is their order.
        before = -(
            SalesRecord.objects.filter(
                partner_id=original.partner_id,
                kind=original.kind,
                reference__startswith=return_reference_prefix(original),
                amount__lt=0,
                pk__lt=record.pk,
            ).aggregate(s=Sum("amount"))["s"]
            or Decimal(0)
        )
        returned = -record.amount
        label = original.reference or str(original.public_id)[:8]

        def due_for(credit: LedgerEntry) -> Decimal:
            return _share(credit.amount, before + returned, original.amount) - _share(
                credit.amount, before, original.amount
            )

        return _claw_back(
            credits=credits,
            source_type=SourceType.SALES_RETURNED,
            source_id=record.pk,
            occurred_at=dt.datetime.combine(record.occurred_on, dt.time.min, tzinfo=dt.UTC),
            due_for=due_for,
            details={
                "reference": label,
                "returned": str(returned),
                "original": str(original.amount),
                "currency": original.currency,
            },
            reason=f"Return of sale {label}",
        )


# Sell-out returns whose original earned a credit (not reversed) that has no clawback yet and
# whose share does not round to nothing (the same arithmetic as due_for above). Only a
# pre-selection: points_clawback_for_return decides, under locks.
_MISSED_RETURNS = """
WITH r AS (
    SELECT s.id, s.occurred_on, o.id AS original_id, o.amount AS original_amount, -s.amount AS returned,
           -SUM(s.amount) OVER (PARTITION BY o.id ORDER BY s.id) AS through
    FROM deals_salesrecord s
    JOIN deals_salesrecord o
      ON o.public_id = (CASE WHEN s.reference ~ '^R-[0-9a-f]{32}-[0-9]+$'
                             THEN substring(s.reference FROM 3 FOR 32)::uuid END)
     AND o.partner_id = s.partner_id AND o.kind = s.kind AND o.amount > 0
    WHERE s.kind = 'sell_out' AND s.amount < 0 AND s.reference LIKE 'R-%%'
)
SELECT DISTINCT r.id
FROM r
JOIN programs_ledgerentry e
  ON e.source_type = 'sales_reported' AND e.source_id = r.original_id::text AND e.kind = 'points'
 AND e.amount > 0 AND e.state <> 'reversed'
WHERE (%(since)s::date IS NULL OR r.occurred_on >= %(since)s::date)
  AND round(e.amount * r.through / r.original_amount)
      - round(e.amount * (r.through - r.returned) / r.original_amount) > 0
  AND (SELECT 1 FROM programs_ledgerentry c
       WHERE c.source_type = 'sales_returned' AND c.source_id = r.id::text AND c.kind = 'points'
         AND c.rule_id IS NOT DISTINCT FROM e.rule_id LIMIT 1) IS NULL
ORDER BY r.id
"""
# "(SELECT … LIMIT 1) IS NULL" rather than NOT EXISTS: a subplan always probes the ledger's unique
# key per candidate. As an anti-join, with statistics that predate a batch of clawbacks (bench:
# 2,000 written since the last ANALYZE), the planner scanned every clawback for every candidate:
# 2.0 s instead of 0.4 s over 1M sales records, and quadratic in the number of returns.

# Credits of certificates that no longer exist (revoked), not reversed, with no clawback yet.
_MISSED_CERTIFICATIONS = """
SELECT DISTINCT e.source_id::bigint AS id
FROM programs_ledgerentry e
WHERE e.source_type = 'certification_earned' AND e.kind = 'points' AND e.amount > 0 AND e.state <> 'reversed'
  AND NOT EXISTS (SELECT 1 FROM partners_certification c
                  WHERE c.id = (CASE WHEN e.source_id ~ '^[0-9]+$' THEN e.source_id::bigint END))
  AND (SELECT 1 FROM programs_ledgerentry x
       WHERE x.source_type = 'certification_revoked' AND x.source_id = e.source_id AND x.kind = 'points'
         AND x.rule_id IS NOT DISTINCT FROM e.rule_id LIMIT 1) IS NULL
ORDER BY 1
"""


# --- certificates revoked ---------------------------------------------------------------------


def points_clawback_for_certification(*, certification_id: int) -> int:
    """Take back in full the points a revoked (deleted) certificate earned, once per rule.
    Returns entries written; 0 while the certificate exists or when it earned nothing."""
    if Certification.objects.filter(pk=certification_id).exists():
        return 0
    with transaction.atomic():
        credits = _lock_credits(SourceType.CERTIFICATION_EARNED, certification_id)
        if not credits:
            return 0
        # The certificate is gone; its revocation's audit row still says what and when.
        revoked = (
            AuditLog.objects.filter(
                object_type="partners.certification", object_id=str(certification_id), action="certification.revoke"
            )
            .order_by("-created_at")
            .first()
        )
        course = str((revoked.before or {}).get("course") or "") if revoked else ""
        label = course or f"#{certification_id}"
        return _claw_back(
            credits=credits,
            source_type=SourceType.CERTIFICATION_REVOKED,
            source_id=certification_id,
            occurred_at=revoked.created_at if revoked else timezone.now(),
            due_for=lambda credit: credit.amount,
            details={"reference": label},
            reason=f"Certificate {label} revoked",
        )


# --- entry points -----------------------------------------------------------------------------


def points_clawback_for_event(*, event: str, source_id: int) -> int:
    """The Celery task's service: claw back for one `sales_returned` or `certification_revoked`
    event. Safe to call any number of times."""
    if event == "sales_returned":
        return points_clawback_for_return(return_id=int(source_id))
    if event == "certification_revoked":
        return points_clawback_for_certification(certification_id=int(source_id))
    raise ApplicationError(f"Unknown clawback event {event!r}")


def points_clawback_reconcile(since: dt.datetime | None = None) -> dict[str, int]:
    """Nightly (from points_reconcile): every clawback the tasks missed (a lost message, a
    return recorded before its sale's points were credited). `since` limits the returns to
    those dated on or after it. Returns entries written per source, only sources with some."""
    with connection.cursor() as cursor:
        cursor.execute(_MISSED_RETURNS, {"since": since.date() if since else None})
        returns = [row[0] for row in cursor.fetchall()]
        cursor.execute(_MISSED_CERTIFICATIONS)
        certifications = [row[0] for row in cursor.fetchall()]
    written = {
        SourceType.SALES_RETURNED.value: sum(points_clawback_for_return(return_id=pk) for pk in returns),
        SourceType.CERTIFICATION_REVOKED.value: sum(
            points_clawback_for_certification(certification_id=pk) for pk in certifications
        ),
    }
    return {source: count for source, count in written.items() if count}
