"""Reads of the tier engine: the qualification metrics (set-based, for any number of partners),
the rules that turn metrics into a tier (`tier_qualify`, `tier_gaps`: one implementation used
by the engine, the what-if calculator and tier progress), tier progress, the report lists.

Revenue = won registrations' final_amount (closed in the window, converted at the close date)
+ sales records of the counted kinds (PRM TIER_SALES_KINDS, default sell-out: what partners
report they sold; sell-in is the same goods bought from the vendor and would count them twice)
dated in the window (converted at their date), returns being negative records.
A sales record linked to a WON registration is never counted: that deal's final_amount already
is its revenue (at the deal's close date), so the record would count it a second time.
Certified people = distinct active contacts holding at least one certificate earned on or
before the day and not expired (expires_on empty or after the day).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from deals.models import DealRegistration, DealStatus, SalesRecord
from partners.models import Certification, Partner, Tier
from prm.exceptions import ApplicationError
from prm.money import RateTable, base_currency
from programs.models import ChangeKind, ChangeStatus, PartnerTierStatus, TierChange

__all__ = [
    "METRIC_LABELS",
    "Gap",
    "gap_text",
    "TierMetrics",
    "TierProgress",
    "WhatIf",
    "partners_at_risk",
    "tier_changes_pending",
    "tier_distribution",
    "tier_history",
    "tier_list",
    "tier_metrics",
    "tier_progress",
    "tier_gaps",
    "tier_promotions",
    "tier_qualify",
    "tier_whatif",
    "tier_window",
]


@dataclass(frozen=True)
class TierMetrics:
    revenue: Decimal = Decimal("0.00")
    won_deals: int = 0
    certified_people: int = 0

    def as_json(self) -> dict:
        return {
            "revenue": str(self.revenue),
            "won_deals": self.won_deals,
            "certified_people": self.certified_people,
            "currency": base_currency(),
            "window_days": settings.PRM["TIER_WINDOW_DAYS"],
        }

    @classmethod
    def from_json(cls, data: dict | None) -> TierMetrics:
        data = data or {}
        return cls(
            revenue=Decimal(data.get("revenue", "0")),
            won_deals=int(data.get("won_deals", 0)),
            certified_people=int(data.get("certified_people", 0)),
        )


@dataclass(frozen=True)
class Gap:
    """One threshold of a tier against what the partner has."""

    metric: str  # "revenue" | "won_deals" | "certified_people"
    have: Decimal | int
    need: Decimal | int
    missing: Decimal | int
    percent: int  # 0–100, how far along (100 when met)

    @property
    def met(self) -> bool:
        return not self.missing

    @property
    def label(self) -> str:
        return METRIC_LABELS[self.metric]

    @property
    def text(self) -> str:
        return gap_text(self)


METRICS = ("revenue", "won_deals", "certified_people")
_THRESHOLD = {"revenue": "min_revenue", "won_deals": "min_won_deals", "certified_people": "min_certified_people"}


def tier_window(now: datetime.datetime | None = None) -> tuple[datetime.date, datetime.date]:
    """The trailing window, both days included: TIER_WINDOW_DAYS days ending today."""
    today = timezone.localdate(now or timezone.now())
    return today - datetime.timedelta(days=settings.PRM["TIER_WINDOW_DAYS"] - 1), today


def tier_list() -> list[Tier]:
    return list(Tier.objects.order_by("rank"))


def tier_meets(metrics: TierMetrics, tier: Tier) -> bool:
    """Every threshold of `tier` met (the same comparison as tier_gaps' `met`, without building
    the gaps: the engine calls this for every partner and tier)."""
    return (
        metrics.revenue >= tier.min_revenue
        and metrics.won_deals >= tier.min_won_deals
        and metrics.certified_people >= tier.min_certified_people
    )


def tier_qualify(metrics: TierMetrics, tiers: list[Tier]) -> Tier | None:
    """The highest tier whose thresholds are all met (None if not even the entry tier's)."""
    for tier in sorted(tiers, key=lambda t: t.rank, reverse=True):
        if tier_meets(metrics, tier):
            return tier
    return None


def tier_gaps(metrics: TierMetrics, tier: Tier) -> list[Gap]:
    gaps = []
    for metric in METRICS:
        have = getattr(metrics, metric)
        need = getattr(tier, _THRESHOLD[metric])
        missing = max(need - have, 0)
        percent = 100 if not need or have >= need else max(0, int(have * 100 / need))
        gaps.append(Gap(metric, have, need, missing, percent))
    return gaps


def gap_text(gap: Gap) -> str:
    """'1,200,000.00 RUB more revenue', '1 more won deal', '2 more certified people'."""
    if gap.metric == "revenue":
        return _("%(amount)s %(currency)s more revenue") % {
            "amount": intcomma(gap.missing.quantize(Decimal("0.01"))),
            "currency": base_currency(),
        }
    if gap.metric == "won_deals":
        return ngettext("%(n)d more won deal", "%(n)d more won deals", gap.missing) % {"n": gap.missing}
    return ngettext("%(n)d more certified person", "%(n)d more certified people", gap.missing) % {"n": gap.missing}


METRIC_LABELS = {
    "revenue": gettext_lazy("Revenue"),
    "won_deals": gettext_lazy("Won deals"),
    "certified_people": gettext_lazy("Certified people"),
}


def _next_tier(tier: Tier | None, tiers: list[Tier]) -> Tier | None:
    rank = tier.rank if tier else -1
    above = [t for t in tiers if t.rank > rank]
    return min(above, key=lambda t: t.rank) if above else None


def _day_bounds(start: datetime.date, end: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.datetime.combine(start, datetime.time.min), tz),
        timezone.make_aware(datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min), tz),
    )


def tier_metrics(
    partner_ids: list[int] | None, *, now: datetime.datetime | None = None, rates: RateTable | None = None
) -> tuple[dict[int, TierMetrics], dict[int, str]]:
    """Metrics of many partners in three aggregate queries (whatever their number).

    Amounts in the base currency are summed by the database; others are summed per partner,
    currency and day and converted with the day's stored rate (RateTable, loaded once).
    `partner_ids=None` computes every partner at once (the nightly run: one pass over each
    table beats one pass per chunk). Returns (metrics by partner id — every id asked for, zeros
    when nothing; with None only partners that have something, so read it with
    `.get(pid, TierMetrics())` —, errors by partner id: a partner with an amount no rate can
    convert is reported, not guessed).
    """
    start, end = tier_window(now)
    start_dt, end_dt = _day_bounds(start, end)
    rates = rates or RateTable.load(until=end)
    base = base_currency()
    revenue: dict[int, Decimal] = {}
    won: dict[int, int] = {}
    errors: dict[int, str] = {}

    def add(partner_id, currency, day, total):
        if total is None or partner_id in errors:
            return
        try:
            amount = total if currency == base else rates.to_base(total, currency, day)
        except ApplicationError as exc:
            errors[partner_id] = str(exc.message)
            return
        revenue[partner_id] = revenue.get(partner_id, Decimal(0)) + amount

    def scoped(qs, field="partner_id"):
        return qs if partner_ids is None else qs.filter(**{f"{field}__in": partner_ids})

    # Base-currency amounts need no date; grouping them by day would only multiply rows.
    deal_day = Case(When(currency=base, then=Value(None)), default=TruncDate("closed_at"))
    deals = (
        scoped(DealRegistration.objects)
        .filter(status=DealStatus.WON, closed_at__gte=start_dt, closed_at__lt=end_dt)
        .annotate(day=deal_day)
        .values("partner_id", "currency", "day")
        .annotate(total=Sum("final_amount"), n=Count("id"))
        .order_by()
    )
    for row in deals:
        won[row["partner_id"]] = won.get(row["partner_id"], 0) + row["n"]
        add(row["partner_id"], row["currency"], row["day"], row["total"])

    sales_day = Case(When(currency=base, then=Value(None)), default="occurred_on")
    sales = (
        scoped(SalesRecord.objects)
        .filter(
            kind__in=settings.PRM["TIER_SALES_KINDS"],
            occurred_on__gte=start,
            occurred_on__lte=end,
        )
        # EXISTS, not a join: most records have no registration, and a join would hash every deal.
        .filter(
            Q(registration__isnull=True)
            | ~Exists(DealRegistration.objects.filter(pk=OuterRef("registration_id"), status=DealStatus.WON))
        )
        .annotate(day=sales_day)
        .values("partner_id", "currency", "day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in sales:
        add(row["partner_id"], row["currency"], row["day"], row["total"])

    certified = dict(
        scoped(Certification.objects, "contact__partner_id")
        .filter(contact__is_active=True, earned_on__lte=end)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gt=end))
        .values("contact__partner_id")
        .annotate(n=Count("contact_id", distinct=True))
        .order_by()
        .values_list("contact__partner_id", "n")
    )
    metrics = {
        pid: TierMetrics(
            revenue=revenue.get(pid, Decimal(0)).quantize(Decimal("0.01")),
            won_deals=won.get(pid, 0),
            certified_people=certified.get(pid, 0),
        )
        for pid in (partner_ids if partner_ids is not None else {*revenue, *won, *certified})
    }
    return metrics, errors


# --- What-if and progress ---------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIf:
    metrics: TierMetrics
    tier: Tier | None
    next_tier: Tier | None
    next_gaps: list[Gap]


def tier_whatif(*, revenue: Decimal, won_deals: int, certified_people: int, tiers: list[Tier] | None = None) -> WhatIf:
    """The tier given numbers would earn, and what they lack for the next one (same rules as
    the engine: tier_qualify / tier_gaps)."""
    tiers = tiers if tiers is not None else tier_list()
    metrics = TierMetrics(Decimal(revenue), int(won_deals), int(certified_people))
    tier = tier_qualify(metrics, tiers)
    nxt = _next_tier(tier, tiers)
    return WhatIf(metrics, tier, nxt, tier_gaps(metrics, nxt) if nxt else [])


@dataclass
class TierProgress:
    partner: Partner
    tier: Tier | None
    tier_since: datetime.date | None
    metrics: TierMetrics
    qualified_tier: Tier | None
    next_tier: Tier | None
    next_gaps: list[Gap]
    status: PartnerTierStatus | None
    keep_gaps: list[Gap] = field(default_factory=list)  # at risk: what it lacks to keep its tier
    tiers: list[Tier] = field(default_factory=list)
    error: str = ""
    window: tuple[datetime.date, datetime.date] | None = None

    @property
    def at_risk(self) -> bool:
        return bool(self.status and self.status.at_risk_since)

    @property
    def locked(self) -> bool:
        return bool(self.status and self.status.locked)

    @property
    def pending_change(self) -> TierChange | None:
        return self.status.pending_change if self.status else None


def _status_qs():
    return PartnerTierStatus.objects.select_related(
        "at_risk_tier", "qualified_tier", "locked_by", "pending_change__to_tier", "pending_change__from_tier"
    )


def tier_progress(*, partner: Partner, now: datetime.datetime | None = None) -> TierProgress:
    """Where `partner` stands now (live metrics, not the last evaluation's): its tier, numbers,
    the next tier and what it lacks, at-risk status and demotion date, lock, pending change.
    The caller scoped `partner` (partner_get_for_user or the cabinet user's own)."""
    tiers = tier_list()
    metrics, errors = tier_metrics([partner.pk], now=now)
    m = metrics[partner.pk]
    tier = next((t for t in tiers if t.pk == partner.tier_id), None)
    status = _status_qs().filter(partner=partner).first()
    nxt = _next_tier(tier, tiers)
    progress = TierProgress(
        partner=partner,
        tier=tier,
        tier_since=partner.tier_since,
        metrics=m,
        qualified_tier=tier_qualify(m, tiers),
        next_tier=nxt,
        next_gaps=tier_gaps(m, nxt) if nxt else [],
        status=status,
        tiers=tiers,
        error=errors.get(partner.pk, ""),
        window=tier_window(now),
    )
    if progress.at_risk and tier is not None:
        progress.keep_gaps = [g for g in tier_gaps(m, tier) if not g.met]
    return progress


# --- Lists for the staff report, partner page and dashboard ----------------------------------


def tier_history(*, partner: Partner, limit: int = 50) -> QuerySet[TierChange]:
    return (
        TierChange.objects.filter(partner=partner)
        .select_related("from_tier", "to_tier", "actor", "decided_by")
        .order_by("-created_at", "-id")[:limit]
    )


def partners_at_risk(*, partners: QuerySet[Partner]) -> QuerySet[PartnerTierStatus]:
    """Statuses of partners (within `partners`) in their demotion notice period, soonest first."""
    return (
        PartnerTierStatus.objects.filter(partner__in=partners, at_risk_since__isnull=False)
        .select_related("partner", "partner__tier", "partner__owner", "at_risk_tier")
        .order_by("demotion_due_on", "partner__name")
    )


def tier_changes_pending(*, partners: QuerySet[Partner]) -> QuerySet[TierChange]:
    return (
        TierChange.objects.filter(partner__in=partners, status=ChangeStatus.PENDING)
        .select_related("partner", "partner__owner", "from_tier", "to_tier")
        .order_by("created_at", "id")
    )


def tier_promotions(*, partners: QuerySet[Partner], since: datetime.datetime) -> QuerySet[TierChange]:
    """Partners newly qualified: promotions applied since `since` (by the engine or approved)."""
    return (
        TierChange.objects.filter(
            partner__in=partners, kind=ChangeKind.PROMOTION, status=ChangeStatus.APPLIED, created_at__gte=since
        )
        .select_related("partner", "partner__owner", "from_tier", "to_tier")
        .order_by("-created_at", "-id")
    )


def tier_distribution(*, partners: QuerySet[Partner]) -> list[tuple[str, int]]:
    """(tier name, partners) for every tier in rank order, plus partners without a tier."""
    counts = dict(partners.order_by().values("tier_id").annotate(n=Count("id")).values_list("tier_id", "n"))
    rows = [(t.name, counts.get(t.pk, 0)) for t in tier_list()]
    if counts.get(None):
        rows.insert(0, ("—", counts[None]))
    return rows
