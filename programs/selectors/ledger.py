"""Reads of the earnings ledger, and who may see what: partner users see their own company's
entries only (another partner's entry is a 404); staff see every partner."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from partners.models import Partner
from partners.selectors import get_or_404, scope_to_partner
from prm.models import User
from programs.models import EntryKind, LedgerEntry, PointsBalance, SourceType

__all__ = [
    "LedgerFilters",
    "Liability",
    "Lot",
    "PointsExpiring",
    "ledger_entry_get_for_user",
    "ledger_list_for_user",
    "point_value_base",
    "points_balance",
    "points_balances_for",
    "points_expiring_soon",
    "points_liability",
    "points_lots",
]


@dataclass(frozen=True)
class LedgerFilters:
    partner: str = ""  # a partner's public_id (staff only; partner users are always scoped to their own)
    kind: str = ""
    state: str = ""
    source_type: str = ""
    user: str = ""  # a user's public_id
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def ledger_list_for_user(*, user: User, filters: LedgerFilters | None = None) -> QuerySet[LedgerEntry]:
    """Entries `user` may see, newest first: staff every partner's, partner users their own
    company's. Related rows are joined (partner, person, rule, the reversed entry)."""
    qs = scope_to_partner(LedgerEntry.objects.all(), user=user).select_related(
        "partner", "partner__tier", "user", "rule", "reverses", "created_by"
    )
    f = filters or LedgerFilters()
    if f.partner:
        qs = qs.filter(partner__public_id=f.partner) if _is_uuid(f.partner) else qs.none()
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.state:
        qs = qs.filter(state=f.state)
    if f.source_type:
        qs = qs.filter(source_type=f.source_type)
    if f.user:
        qs = qs.filter(user__public_id=f.user) if _is_uuid(f.user) else qs.none()
    if f.date_from:
        qs = qs.filter(occurred_at__date__gte=f.date_from)
    if f.date_to:
        qs = qs.filter(occurred_at__date__lte=f.date_to)
    return qs.order_by("-occurred_at", "-id")


def ledger_entry_get_for_user(*, user: User, public_id) -> LedgerEntry:
    return get_or_404(ledger_list_for_user(user=user), public_id=public_id)


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def points_balance(*, partner, user=None) -> Decimal:
    """The partner's points balance (the trigger-maintained summary: one indexed row read).
    With `user`: the points credited to that person net of their debits (summed from the
    ledger; per-person balances are for display, redemptions spend the company balance)."""
    if user is not None:
        total = LedgerEntry.objects.filter(partner_id=partner.pk, kind=EntryKind.POINTS, user_id=user.pk).aggregate(
            s=Sum("amount")
        )["s"]
        return total or Decimal(0)
    row = PointsBalance.objects.filter(partner_id=partner.pk).values_list("balance", flat=True).first()
    return row if row is not None else Decimal(0)


def points_balances_for(partner_ids) -> dict[int, Decimal]:
    """Balances of many partners in one query (lists, dashboard cards)."""
    return dict(PointsBalance.objects.filter(partner_id__in=list(partner_ids)).values_list("partner_id", "balance"))


# --- FIFO lots ----------------------------------------------------------------------------


@dataclass
class Lot:
    """A points credit and what is left of it after spending (oldest-expiring first)."""

    entry_id: int
    amount: Decimal
    occurred_at: dt.datetime
    expires_at: dt.datetime | None
    user_id: int | None
    remaining: Decimal
    expired: bool = False  # an expiry entry exists for this lot


def points_lots(*, partner_id: int) -> list[Lot]:
    """The partner's points credits with what is left of each, by FIFO accounting.

    - every positive points entry is a lot (a redemption returned is a new lot);
    - a debit that reverses a credit, and an expiry entry ("expiry"/lot id), reduce that lot;
    - every other debit (redemptions, negative adjustments) consumes lots in order of expiry
      (soonest first, never-expiring last), then age: spending uses the oldest points first.
    Deterministic, so expiry computed from it twice gives the same answer (and the unique key
    on "expiry"/lot id makes a second write a no-op anyway).
    """
    rows = list(
        LedgerEntry.objects.filter(partner_id=partner_id, kind=EntryKind.POINTS)
        .order_by("occurred_at", "id")
        .values_list("id", "amount", "occurred_at", "expires_at", "user_id", "source_type", "source_id", "reverses_id")
    )
    lots: dict[int, Lot] = {}
    for pk, amount, occurred_at, expires_at, user_id, *_ in rows:
        if amount > 0:
            lots[pk] = Lot(pk, amount, occurred_at, expires_at, user_id, amount)
    pool = Decimal(0)
    for _pk, amount, _o, _e, _u, source_type, source_id, reverses_id in rows:
        if amount >= 0:
            continue
        target = None
        if reverses_id in lots:
            target = lots[reverses_id]
        elif source_type == SourceType.EXPIRY and source_id.isdigit() and int(source_id) in lots:
            target = lots[int(source_id)]
            target.expired = True
        if target is None:
            pool += -amount
            continue
        target.remaining += amount
        if target.remaining < 0:  # reversed after it was spent: the excess is spending
            pool += -target.remaining
            target.remaining = Decimal(0)
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    ordered = sorted(lots.values(), key=lambda lot: (lot.expires_at or far, lot.occurred_at, lot.entry_id))
    for lot in ordered:
        if pool <= 0:
            break
        used = min(lot.remaining, pool)
        lot.remaining -= used
        pool -= used
    return ordered


@dataclass(frozen=True)
class PointsExpiring:
    points: int  # expiring within the window, in total
    first_date: dt.datetime | None  # the soonest expiry with points left
    first_points: int  # how many expire then
    lots: list = field(default_factory=list)  # [(expires_at, points)] soonest first


def points_expiring_soon(
    *, partner=None, partner_id: int | None = None, days: int | None = None, now: dt.datetime | None = None
) -> PointsExpiring:
    """Unspent points of a partner that expire within `days` (default POINTS_EXPIRY_WARNING_DAYS),
    for "N points expire on …" in the cabinet and the warning notification."""
    partner_id = partner_id if partner_id is not None else partner.pk
    days = days if days is not None else int(settings.PRM.get("POINTS_EXPIRY_WARNING_DAYS", 30))
    now = now or timezone.now()
    horizon = now + dt.timedelta(days=days)
    lots = [
        lot
        for lot in points_lots(partner_id=partner_id)
        if lot.expires_at is not None and now < lot.expires_at <= horizon and lot.remaining > 0 and not lot.expired
    ]
    by_date: dict[dt.datetime, Decimal] = {}
    for lot in lots:
        by_date[lot.expires_at] = by_date.get(lot.expires_at, Decimal(0)) + lot.remaining
    pairs = sorted(by_date.items())
    if not pairs:
        return PointsExpiring(points=0, first_date=None, first_points=0, lots=[])
    return PointsExpiring(
        points=int(sum(by_date.values())),
        first_date=pairs[0][0],
        first_points=int(pairs[0][1]),
        lots=[(when, int(pts)) for when, pts in pairs],
    )


# --- liability ----------------------------------------------------------------------------


def point_value_base() -> Decimal:
    """What one point is worth in the base currency (PRM POINT_VALUE_BASE)."""
    return Decimal(str(settings.PRM.get("POINT_VALUE_BASE", "1.00")))


@dataclass(frozen=True)
class Liability:
    rows: list  # [{"partner": Partner, "points": Decimal, "value": Decimal}] largest first
    total_points: Decimal
    total_value: Decimal
    by_tier: list  # [{"tier": name or "", "points": Decimal, "value": Decimal, "partners": int}]
    point_value: Decimal
    currency: str


def points_liability(*, partners: QuerySet[Partner] | None = None) -> Liability:
    """Outstanding points (what the vendor owes in rewards) by partner and in total, and in the
    base currency at POINT_VALUE_BASE per point. Two queries whatever the number of partners."""
    value = point_value_base()
    qs = PointsBalance.objects.filter(balance__gt=0)
    if partners is not None:
        qs = qs.filter(partner__in=partners)
    balances = list(qs.select_related("partner", "partner__tier").order_by("-balance", "partner__name"))
    rows = [
        {"partner": b.partner, "points": b.balance, "value": (b.balance * value).quantize(Decimal("0.01"))}
        for b in balances
    ]
    tiers = (
        qs.values("partner__tier__name", "partner__tier__rank")
        .annotate(points=Sum("balance"), partners=Count("partner_id"))
        .order_by("partner__tier__rank")
    )
    by_tier = [
        {
            "tier": t["partner__tier__name"] or "",
            "points": t["points"],
            "value": (t["points"] * value).quantize(Decimal("0.01")),
            "partners": t["partners"],
        }
        for t in tiers
    ]
    total = sum((r["points"] for r in rows), Decimal(0))
    return Liability(
        rows=rows,
        total_points=total,
        total_value=(total * value).quantize(Decimal("0.01")),
        by_tier=by_tier,
        point_value=value,
        currency=settings.PRM["BASE_CURRENCY"],
    )
