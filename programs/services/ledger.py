"""Writes to the earnings ledger: accrual of one entry, manual adjustments, reversals, state
transitions and points expiry (oldest first).

The ledger is append-only (a database trigger refuses updates of amounts and deletes); the
points balance is maintained by a statement-level trigger in the same transaction as every
insert and can never go negative (CHECK on programs_pointsbalance). Every function here runs
in one transaction and writes an audit row where a person acted.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from deals.services._common import notify
from prm.audit import audit_record, snapshot
from prm.exceptions import ApplicationError, StateError
from prm.models import Currency, Role, User
from programs.models import POINTS, EntryKind, EntryState, LedgerEntry, PointsBalance, SourceType

from ._access import require_staff_for_partner

__all__ = [
    "add_months",
    "ledger_accrue",
    "ledger_entry_approve",
    "ledger_entry_mark_paid",
    "ledger_entry_reverse",
    "points_adjust",
    "points_expire",
    "points_expire_partner",
    "points_expiry_months",
    "points_expiry_warn",
]

AUDIT_FIELDS = ["partner", "user", "kind", "amount", "unit", "state", "rule", "source_type", "source_id", "reverses"]


def points_expiry_months() -> int:
    return int(settings.PRM.get("POINTS_EXPIRE_MONTHS", 24))


def add_months(when: dt.datetime, months: int) -> dt.datetime:
    """`when` plus whole calendar months, the day clamped to the month's end (Jan 31 + 1 = Feb 28)."""
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


def _points_expiry(kind: str, amount: Decimal, occurred_at: dt.datetime) -> dt.datetime | None:
    """Point credits expire after POINTS_EXPIRE_MONTHS; debits and money never do."""
    if kind != EntryKind.POINTS or amount <= 0:
        return None
    return add_months(occurred_at, points_expiry_months())


_INSERT_SQL = """
INSERT INTO programs_ledgerentry
    (public_id, created_at, updated_at, partner_id, user_id, kind, amount, unit, state, state_changed_at,
     rule_id, source_type, source_id, occurred_at, expires_at, reverses_id, reason, base_value, multiplier,
     calculation, created_by_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)
ON CONFLICT DO NOTHING
RETURNING id
"""


def _insert_entry(
    *,
    partner_id: int,
    kind: str,
    amount: Decimal,
    unit: str,
    source_type: str,
    source_id: str,
    rule_id: int | None = None,
    user_id: int | None = None,
    occurred_at: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
    reverses_id: int | None = None,
    reason: str = "",
    base_value: Decimal | None = None,
    multiplier: Decimal | None = None,
    calculation: dict | None = None,
    created_by_id: int | None = None,
) -> LedgerEntry | None:
    """INSERT … ON CONFLICT DO NOTHING: the entry, or None when this event/rule/kind was already
    credited. A points debit that would overdraw raises ApplicationError (the balance CHECK)."""
    import json

    now = timezone.now()
    occurred_at = occurred_at or now
    if expires_at is None:
        expires_at = _points_expiry(kind, amount, occurred_at)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _INSERT_SQL,
                [
                    uuid.uuid4(),
                    now,
                    now,
                    partner_id,
                    user_id,
                    kind,
                    amount,
                    unit,
                    EntryState.ACCRUED,
                    rule_id,
                    source_type,
                    str(source_id),
                    occurred_at,
                    expires_at,
                    reverses_id,
                    reason,
                    base_value,
                    multiplier,
                    json.dumps(calculation or {}),
                    created_by_id,
                ],
            )
            row = cursor.fetchone()
    except IntegrityError as exc:
        if "points_balance_nonneg" in str(exc):
            raise ApplicationError(
                _("Not enough points: the balance cannot go below zero."), code="insufficient_points"
            ) from exc
        raise
    if row is None:
        return None
    return LedgerEntry.objects.get(pk=row[0])


def _validate_amount(amount, *, field: str = "amount", integral: bool = False) -> Decimal:
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, TypeError, ValueError):
        raise ApplicationError(_("Enter a number."), fields={field: [_("Enter a number.")]}) from None
    if not value.is_finite() or value == 0:
        raise ApplicationError(_("The amount cannot be zero."), fields={field: [_("The amount cannot be zero.")]})
    if integral and value != value.to_integral_value():
        raise ApplicationError(_("Points are whole numbers."), fields={field: [_("Points are whole numbers.")]})
    if abs(value) >= Decimal("1e13"):
        raise ApplicationError(_("The amount is too large."), fields={field: [_("The amount is too large.")]})
    return value


def ledger_accrue(
    *,
    partner,
    kind: str,
    amount,
    unit: str,
    rule=None,
    source_type: str,
    source_id,
    user=None,
    occurred_at: dt.datetime | None = None,
    reason: str = "",
    calculation: dict | None = None,
    created_by=None,
) -> LedgerEntry | None:
    """Credit (or debit, negative amount) one entry for one source event.

    Returns None when the event was already credited for this rule and kind (the database's
    unique key, INSERT … ON CONFLICT DO NOTHING): callers may retry freely. Points credits get
    `expires_at` = occurred_at + POINTS_EXPIRE_MONTHS. A points debit beyond the balance raises
    ApplicationError(code="insufficient_points") and writes nothing.
    """
    if kind not in EntryKind.values:
        raise ApplicationError(_("Unknown ledger kind."), fields={"kind": [_("Unknown ledger kind.")]})
    if (kind == EntryKind.POINTS) != (unit == POINTS):
        raise ApplicationError(
            _("Points are counted in points; money in a currency."), fields={"unit": [_("Wrong unit.")]}
        )
    if kind != EntryKind.POINTS and unit not in Currency.values:
        raise ApplicationError(_("Unknown currency."), fields={"unit": [_("Unknown currency.")]})
    value = _validate_amount(amount, integral=kind == EntryKind.POINTS)
    if user is not None and user.partner_id != partner.pk:
        raise ApplicationError(_("The person does not belong to this partner."), fields={"user": [_("Wrong person.")]})
    with transaction.atomic():
        return _insert_entry(
            partner_id=partner.pk,
            kind=kind,
            amount=value,
            unit=unit,
            source_type=source_type,
            source_id=str(source_id),
            rule_id=rule.pk if rule is not None else None,
            user_id=user.pk if user is not None else None,
            occurred_at=occurred_at,
            reason=reason,
            calculation=calculation,
            created_by_id=created_by.pk if created_by is not None else None,
        )


# A manual adjustment is a correction or a gesture, never a bulk import: bounded here (the
# staff form and the API show the same limits).
MAX_ADJUSTMENT_POINTS = 10_000_000
MAX_REASON_LENGTH = 2000


def points_adjust(*, actor, partner, amount, reason: str, user=None) -> LedgerEntry:
    """A staff member's manual credit (positive) or debit (negative) of points. Reason required,
    audited; a debit cannot take the balance below zero. Staff of the partner's portfolio only."""
    require_staff_for_partner(actor, partner.pk)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the points are adjusted."), fields={"reason": [_("This field is required.")]})
    if len(reason) > MAX_REASON_LENGTH:
        raise ApplicationError(
            _("Keep the reason under %(n)s characters.") % {"n": MAX_REASON_LENGTH},
            fields={"reason": [_("Too long.")]},
        )
    value = _validate_amount(amount, integral=True)
    if abs(value) > MAX_ADJUSTMENT_POINTS:
        raise ApplicationError(
            _("An adjustment is at most %(n)s points either way.") % {"n": f"{MAX_ADJUSTMENT_POINTS:,}"},
            fields={"amount": [_("Too large.")]},
        )
    if user is not None and user.partner_id != partner.pk:
        raise ApplicationError(_("The person does not belong to this partner."), fields={"user": [_("Wrong person.")]})
    with transaction.atomic():
        _lock_balance(partner.pk)
        entry = _insert_entry(
            partner_id=partner.pk,
            kind=EntryKind.POINTS,
            amount=value,
            unit=POINTS,
            source_type=SourceType.ADJUSTMENT,
            source_id=str(uuid.uuid4()),
            user_id=user.pk if user is not None else None,
            reason=reason,
            created_by_id=actor.pk,
        )
        audit_record(
            actor=actor, action="points.adjust", instance=entry, after=snapshot(entry, AUDIT_FIELDS), reason=reason
        )
    return entry


def _lock_balance(partner_id: int) -> Decimal:
    """Lock the partner's balance row (creating it at 0 if needed) and return the balance.
    Everything that checks a balance before debiting goes through here, so concurrent
    debits of one partner are serialised."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO programs_pointsbalance (partner_id, balance, updated_at) VALUES (%s, 0, now())"
            " ON CONFLICT (partner_id) DO NOTHING",
            [partner_id],
        )
    return PointsBalance.objects.select_for_update().get(partner_id=partner_id).balance


def _get_locked(entry: LedgerEntry) -> LedgerEntry:
    return LedgerEntry.objects.select_for_update().get(pk=entry.pk)


def _transition(
    entry: LedgerEntry, *, to: str, actor, allowed_from: tuple[str, ...], action: str, reason=""
) -> LedgerEntry:
    before = snapshot(entry, ["state"])
    if entry.state not in allowed_from:
        raise StateError(
            _("This entry is %(state)s and cannot become %(to)s.")
            % {"state": entry.get_state_display(), "to": EntryState(to).label}
        )
    entry.state = to
    entry.state_changed_at = timezone.now()
    entry.save(update_fields=["state", "state_changed_at", "updated_at"])
    audit_record(
        actor=actor, action=action, instance=entry, before=before, after=snapshot(entry, ["state"]), reason=reason
    )
    return entry


def ledger_entry_approve(*, actor, entry: LedgerEntry) -> LedgerEntry:
    """accrued → approved (staff)."""
    require_staff_for_partner(actor, entry.partner_id)
    with transaction.atomic():
        entry = _get_locked(entry)
        return _transition(
            entry, to=EntryState.APPROVED, actor=actor, allowed_from=(EntryState.ACCRUED,), action="ledger.approve"
        )


def ledger_entry_mark_paid(*, actor, entry: LedgerEntry) -> LedgerEntry:
    """approved → paid (staff)."""
    require_staff_for_partner(actor, entry.partner_id)
    with transaction.atomic():
        entry = _get_locked(entry)
        return _transition(
            entry, to=EntryState.PAID, actor=actor, allowed_from=(EntryState.APPROVED,), action="ledger.mark_paid"
        )


def ledger_entry_reverse(*, actor, entry: LedgerEntry, reason: str) -> LedgerEntry:
    """Correct an entry: a new entry with the opposite amount (source "reversal"/entry id,
    `reverses` = entry), and the original becomes `reversed`. Reason required, audited. Reversing
    a points credit that has already been spent fails (the balance would go negative); one
    partly clawed back is reversed for the rest only."""
    require_staff_for_partner(actor, entry.partner_id)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the entry is reversed."), fields={"reason": [_("This field is required.")]})
    with transaction.atomic():
        entry = _get_locked(entry)
        if entry.reverses_id is not None:
            raise StateError(_("A reversal cannot itself be reversed; record a new adjustment instead."))
        if entry.source_type in (SourceType.REDEMPTION, SourceType.REDEMPTION_RETURN):
            # The redemption's status, stock and points move together: use its own actions.
            raise StateError(_("Reject or cancel the redemption instead of reversing its points."))
        if entry.kind == EntryKind.POINTS:
            _lock_balance(entry.partner_id)
        # A credit partly clawed back already (a sale returned: ledger_clawback) is reversed for
        # what is left of it only, so the points are never taken back twice.
        remainder = entry.amount + (
            LedgerEntry.objects.filter(reverses=entry).aggregate(s=Sum("amount"))["s"] or Decimal(0)
        )
        if entry.state != EntryState.REVERSED and entry.amount > 0 and remainder <= 0:
            raise StateError(_("These points were already taken back in full."))
        _transition(
            entry,
            to=EntryState.REVERSED,
            actor=actor,
            allowed_from=(EntryState.ACCRUED, EntryState.APPROVED, EntryState.PAID),
            action="ledger.reverse",
            reason=reason,
        )
        reversal = _insert_entry(
            partner_id=entry.partner_id,
            kind=entry.kind,
            amount=-remainder,
            unit=entry.unit,
            source_type=SourceType.REVERSAL,
            source_id=str(entry.pk),
            user_id=entry.user_id,
            reverses_id=entry.pk,
            reason=reason,
            created_by_id=actor.pk,
        )
        if reversal is None:  # pragma: no cover - the state guard above makes this unreachable
            raise StateError(_("This entry was already reversed."))
    return reversal


# --- expiry -------------------------------------------------------------------------------


def points_expire_partner(*, partner_id: int, now: dt.datetime | None = None) -> int:
    """Write expiry debits for one partner's expired, unspent points (FIFO). Returns points expired.

    One transaction with the balance row locked, so a concurrent redemption cannot spend the
    same points. Idempotent: an expiry entry is keyed by the lot it expires ("expiry"/lot id).
    """
    from programs.selectors.ledger import points_lots

    now = now or timezone.now()
    total = Decimal(0)
    with transaction.atomic():
        _lock_balance(partner_id)
        for lot in points_lots(partner_id=partner_id):
            if lot.expires_at is None or lot.expires_at > now or lot.remaining <= 0 or lot.expired:
                continue
            entry = _insert_entry(
                partner_id=partner_id,
                kind=EntryKind.POINTS,
                amount=-lot.remaining,
                unit=POINTS,
                source_type=SourceType.EXPIRY,
                source_id=str(lot.entry_id),
                user_id=lot.user_id,
                occurred_at=lot.expires_at,
                reason=f"expired lot {lot.entry_id}",
            )
            if entry is not None:
                total += lot.remaining
    return int(total)


def points_expire(now: dt.datetime | None = None) -> int:
    """Expire unspent points older than POINTS_EXPIRE_MONTHS, oldest first, for every partner.
    Safe to run twice. One short transaction per partner. Returns points expired in total."""
    now = now or timezone.now()
    partner_ids = (
        LedgerEntry.objects.filter(kind=EntryKind.POINTS, amount__gt=0, expires_at__lte=now)
        .exclude(pk__in=_expired_lot_ids())
        .order_by()
        .values_list("partner_id", flat=True)
        .distinct()
    )
    return sum(points_expire_partner(partner_id=pid, now=now) for pid in list(partner_ids))


def _expired_lot_ids():
    from django.db.models import IntegerField
    from django.db.models.functions import Cast

    return (
        LedgerEntry.objects.filter(source_type=SourceType.EXPIRY, kind=EntryKind.POINTS)
        .annotate(lot_id=Cast("source_id", IntegerField()))
        .values("lot_id")
    )


EXPIRY_TITLE = _lazy("%(points)s points expire on %(date)s")
EXPIRY_BODY = _lazy("Redeem them for a reward before %(date)s; unspent points expire oldest first.")


def points_expiry_warn(now: dt.datetime | None = None) -> int:
    """Tell each partner's admins, POINTS_EXPIRY_WARNING_DAYS ahead, how many points will expire
    and when. One notification per partner and expiry date (dedupe key): safe to run daily
    and twice. Returns notifications sent."""
    from programs.selectors.ledger import points_expiring_soon

    now = now or timezone.now()
    days = int(settings.PRM.get("POINTS_EXPIRY_WARNING_DAYS", 30))
    horizon = now + dt.timedelta(days=days)
    partner_ids = list(
        LedgerEntry.objects.filter(kind=EntryKind.POINTS, amount__gt=0, expires_at__gt=now, expires_at__lte=horizon)
        .order_by()
        .values_list("partner_id", flat=True)
        .distinct()
    )
    admins: dict[int, list[User]] = {}
    for user in User.objects.filter(is_active=True, role=Role.PARTNER_ADMIN, partner_id__in=partner_ids).order_by("pk"):
        admins.setdefault(user.partner_id, []).append(user)
    sent = 0
    for partner_id in partner_ids:
        soon = points_expiring_soon(partner_id=partner_id, days=days, now=now)
        if not soon.points:
            continue
        date = soon.first_date.date().isoformat()
        sent += notify(
            admins.get(partner_id, []),
            kind="points_expiring",
            key=f"points-expiring:{partner_id}:{date}",
            title=EXPIRY_TITLE,
            body=EXPIRY_BODY,
            params={"points": int(soon.first_points), "date": date},
            url=_cabinet_points_url(),
        )
    return sent


def _cabinet_points_url() -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("cabinet:points")
    except NoReverseMatch:  # the cabinet page comes with ledger-ui's views
        return ""
