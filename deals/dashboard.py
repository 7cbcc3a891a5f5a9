"""The numbers behind the staff dashboard, the KPI scorecard, the forecasts page and the
partner cabinet's statistics. Reads only; every function runs a bounded number of queries
whatever the number of partners (aggregation happens in SQL, grouped by currency, and the
sums are converted to the base currency with one `RateTable`).

Definitions used everywhere here (and in the API):
- **Revenue** = won registrations (`final_amount`, dated by `closed_at`) + sell-in sales
  records (`occurred_on`) that are not tied to a registration (a record tied to a
  registration is the invoice of that deal, already counted by the deal). Sell-out is the
  partner's own revenue, not the vendor's, and is left out. Returns (negative records) count.
- **Pipeline** = registrations waiting for review or approved (`ACTIVE_STATUSES`): value and
  weighted value (value × the registration's probability, which follows its stage).
- **Active partner** = status active and not dormant (`Partner.is_dormant`, computed nightly).
- Money values are `Decimal` in the base currency (`settings.PRM["BASE_CURRENCY"]`), converted
  at the rate valid on the last day of the month the amount falls in (today for the current
  month). `json_script` renders Decimals as strings: use `float()` for Chart.js.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from deals.models import (
    ACTIVE_STATUSES,
    DealRegistration,
    DealStage,
    DealStatus,
    ForecastRun,
    ForecastRunStatus,
    ForecastSnapshot,
    PartnerCommit,
    SalesKind,
    SalesRecord,
    Target,
)
from partners.models import Partner, PartnerStatus
from partners.selectors import partners_in_scope
from prm.models import Role, User
from prm.money import RateTable, base_currency

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


# --- periods ------------------------------------------------------------------------------


def quarter_of(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    """First day of the quarter and first day of the next one (half-open)."""
    start = dt.date(year, 3 * (quarter - 1) + 1, 1)
    end = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
    return start, end


def shift_quarter(year: int, quarter: int, n: int) -> tuple[int, int]:
    index = year * 4 + (quarter - 1) + n
    return index // 4, index % 4 + 1


def coming_quarters(today: dt.date | None = None, n: int = 4) -> list[tuple[int, int]]:
    """The current quarter and the n-1 after it."""
    year, quarter = quarter_of(today or timezone.localdate())
    return [shift_quarter(year, quarter, i) for i in range(n)]


def quarter_label(year: int, quarter: int) -> str:
    return f"{year} Q{quarter}"


def add_months(day: dt.date, n: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + n
    return dt.date(index // 12, index % 12 + 1, 1)


def month_starts(today: dt.date | None = None, months: int = 12) -> list[dt.date]:
    """First days of the last `months` months, oldest first, ending with the current month."""
    first = (today or timezone.localdate()).replace(day=1)
    return [add_months(first, -i) for i in range(months - 1, -1, -1)]


def month_label(month: dt.date) -> str:
    return date_format(month, "M Y")


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _rate_day(month: dt.date, today: dt.date) -> dt.date:
    return min(add_months(month, 1) - dt.timedelta(days=1), today)


def _month_of(value) -> dt.date:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value.replace(day=1)


# --- short-lived cache of the chart numbers ------------------------------------------------


# Set by dashboard_cache_warm: compute and store even when the cache holds the numbers.
_REFRESH = contextvars.ContextVar("dashboard_cache_refresh", default=False)


def _cached(name: str, partners: QuerySet[Partner], *args):
    """Decorator-free memo for the chart selectors: the result for this scope (the partners
    query's SQL and parameters), arguments, day and language is kept for
    PRM["DASHBOARD_CACHE_SECONDS"] (0 = off). Aggregating a million registrations for every
    page view is what the cache saves; dashboards may be a few minutes behind."""
    import hashlib

    from django.core.cache import cache
    from django.utils.translation import get_language

    seconds = int(settings.PRM.get("DASHBOARD_CACHE_SECONDS", 0))

    def wrap(compute):
        if seconds <= 0:
            return compute()
        sql, params = partners.order_by().values("pk").query.sql_with_params()
        raw = repr((name, sql, params, args, timezone.localdate().isoformat(), get_language()))
        key = "dashboard:" + hashlib.sha256(raw.encode()).hexdigest()
        value = None if _REFRESH.get() else cache.get(key)
        if value is None:
            value = compute()
            cache.set(key, value, seconds)
        return value

    return wrap


def _viewed_key(user_id: int) -> str:
    return f"dashboard-viewed:{user_id}"


def dashboard_viewed(*, user: User) -> None:
    """Note that `user` looked at the staff dashboard: dashboard_cache_warm keeps that user's
    numbers warm for as long as the numbers are kept (DASHBOARD_CACHE_SECONDS)."""
    seconds = int(settings.PRM.get("DASHBOARD_CACHE_SECONDS", 0))
    if seconds > 0:
        from django.core.cache import cache

        cache.set(_viewed_key(user.pk), 1, seconds)


def dashboard_cache_warm() -> int:
    """Compute the default staff dashboard's chart numbers (no filters: the last 12 months)
    afresh for the scope of every active staff user who looked at the dashboard within
    DASHBOARD_CACHE_SECONDS, in the user's language, and keep them that long: while people keep
    looking, their page views read numbers a worker computed instead of paying for them.

    Only recent viewers: computing every staff user's scope is not cheap (bench_dashboard's data
    at a quarter of its size: about 1.1 s per scope, 25 s for its 22 staff users), so the work
    stays about what the viewers' own page views would cost. A scope shared by several users
    (administrators: every partner) is computed once per language. Returns the number of scopes
    computed; 0 when the cache is off."""
    from django.core.cache import cache
    from django.utils import translation

    from prm.models import STAFF_ROLES

    if int(settings.PRM.get("DASHBOARD_CACHE_SECONDS", 0)) <= 0:
        return 0
    staff = list(User.objects.filter(is_active=True, role__in=STAFF_ROLES).order_by("pk"))
    viewed = cache.get_many([_viewed_key(u.pk) for u in staff])
    filters = DashboardFilters()  # what the page shows without filters
    months = filters.months()
    start, end = filters.period()
    done: set[tuple] = set()
    token = _REFRESH.set(True)
    try:
        for user in staff:
            if _viewed_key(user.pk) not in viewed:
                continue
            language = user.language or settings.LANGUAGE_CODE
            partners = dashboard_partners(user=user, filters=filters)
            scope = (*partners.order_by().values("pk").query.sql_with_params(), language)
            if scope in done:
                continue
            done.add(scope)
            with translation.override(language):
                pipeline_by_stage(partners=partners)
                pipeline_by_quarter(partners=partners)
                revenue_by_tier_by_month(partners=partners, months=months)
                revenue_concentration(partners=partners, since=start, until=end)
                active_dormant_by_month(partners=partners, months=months)
    finally:
        _REFRESH.reset(token)
    return len(done)


# --- revenue, the common building block ----------------------------------------------------


def revenue_rows(
    *,
    partners: QuerySet[Partner],
    since: dt.date,
    until: dt.date,
    by: tuple[str, ...] = (),
    foreign_only: bool = False,
) -> list[tuple[tuple, dt.date, Decimal]]:
    """Revenue in the base currency per (`by` partner fields, month) for [since, until).

    `by` names Partner fields ("id", "tier_id", "owner_id"…). Two queries (won deals, sell-in
    records), each grouped by the keys, month and currency. Returns [(keys, month, amount)],
    one row per keys+month.
    """
    today = timezone.localdate()
    rates = RateTable.load(until=today)
    deal_keys = [f"partner__{name}" for name in by]
    deals = (
        DealRegistration.objects.filter(
            partner__in=partners, status=DealStatus.WON, closed_at__gte=_aware(since), closed_at__lt=_aware(until)
        )
        .annotate(month=TruncMonth("closed_at"))
        .values(*deal_keys, "month", "currency")
        .annotate(total=Sum("final_amount"))
        .order_by()
    )
    sales = (
        SalesRecord.objects.filter(
            partner__in=partners,
            kind=SalesKind.SELL_IN,
            registration__isnull=True,
            occurred_on__gte=since,
            occurred_on__lt=until,
        )
        .annotate(month=TruncMonth("occurred_on"))
        .values(*deal_keys, "month", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    if foreign_only:
        deals, sales = deals.exclude(currency=base_currency()), sales.exclude(currency=base_currency())
    out: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for qs in (deals, sales):
        for row in qs:
            month = _month_of(row["month"])
            keys = tuple(row[k] for k in deal_keys)
            out[(keys, month)] += rates.to_base(row["total"], row["currency"], _rate_day(month, today))
    return [(keys, month, amount) for (keys, month), amount in out.items()]


def revenue_by_partner(*, partners: QuerySet[Partner], since: dt.date, until: dt.date) -> dict[int, Decimal]:
    """Revenue (base currency) per partner id for [since, until); partners without any are absent.
    Amounts already in the base currency are summed per partner in SQL (one row per partner);
    only the other currencies go through the monthly rows and the rate table."""
    base = base_currency()
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    won = DealRegistration.objects.filter(
        partner__in=partners,
        status=DealStatus.WON,
        currency=base,
        closed_at__gte=_aware(since),
        closed_at__lt=_aware(until),
    )
    sold = SalesRecord.objects.filter(
        partner__in=partners,
        kind=SalesKind.SELL_IN,
        registration__isnull=True,
        currency=base,
        occurred_on__gte=since,
        occurred_on__lt=until,
    )
    for qs, column in ((won, "final_amount"), (sold, "amount")):
        for partner_id, total in (
            qs.values("partner_id").annotate(t=Sum(column)).order_by().values_list("partner_id", "t")
        ):
            totals[partner_id] += total
    for (partner_id,), _month, amount in revenue_rows(
        partners=partners, since=since, until=until, by=("id",), foreign_only=True
    ):
        totals[partner_id] += amount
    return {pid: amount.quantize(CENT) for pid, amount in totals.items()}


# --- filters and scope ---------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilters:
    """What the staff dashboard is narrowed to. Dates are inclusive; empty = no filter.
    Period defaults to the last 12 months (see `period()`)."""

    period_start: dt.date | None = None
    period_end: dt.date | None = None
    region: str = ""  # partners.models.Region value
    tier_id: int | None = None
    partner_type: str = ""  # partners.models.PartnerType value
    manager_id: int | None = None  # narrows a lead's/admin's view to one manager's partners

    def period(self) -> tuple[dt.date, dt.date]:
        """(start, end) inclusive; defaults: the 12 months ending today."""
        end = self.period_end or timezone.localdate()
        start = self.period_start or add_months(end.replace(day=1), -11)
        return start, end

    def months(self) -> int:
        """Number of calendar months the period spans (1–36), for the monthly charts."""
        start, end = self.period()
        n = (end.year - start.year) * 12 + end.month - start.month + 1
        return max(1, min(n, 36))


def dashboard_partners(*, user: User, filters: DashboardFilters | None = None) -> QuerySet[Partner]:
    """Partners the dashboard counts for `user` (manager: own; lead: team; admin: all), narrowed
    by the filters. `manager_id` outside the user's scope gives nothing. Not evaluated: pass it to
    the other selectors, which use it as a subquery."""
    f = filters or DashboardFilters()
    manager = None
    if f.manager_id:
        manager = User.objects.filter(pk=f.manager_id).first()
        if manager is None:
            return Partner.objects.none()
    qs = partners_in_scope(user=user, manager=manager)
    if f.region:
        qs = qs.filter(region=f.region)
    if f.tier_id:
        qs = qs.filter(tier_id=f.tier_id)
    if f.partner_type:
        qs = qs.filter(partner_type=f.partner_type)
    return qs


# --- pipeline ------------------------------------------------------------------------------


def pipeline_by_stage(*, partners: QuerySet[Partner]) -> list[dict]:
    """Open pipeline per stage, in stage order, every stage present:
    [{"stage", "label", "count", "value", "weighted"}] (value/weighted in the base currency)."""
    return _cached("pipeline_by_stage", partners)(lambda: _pipeline_by_stage(partners=partners))


def _pipeline_by_stage(*, partners: QuerySet[Partner]) -> list[dict]:
    today = timezone.localdate()
    rates = RateTable.load(until=today)
    rows = (
        DealRegistration.objects.filter(partner__in=partners, status__in=ACTIVE_STATUSES)
        .values("stage", "currency")
        .annotate(n=Count("pk"), total_value=Sum("value"), weighted=Sum(F("value") * F("probability") / 100))
        .order_by()
    )
    out = {
        stage: {"stage": stage, "label": str(label), "count": 0, "value": ZERO, "weighted": ZERO}
        for stage, label in DealStage.choices
    }
    for row in rows:
        item = out[row["stage"]]
        item["count"] += row["n"]
        item["value"] += rates.to_base(row["total_value"], row["currency"], today)
        item["weighted"] += rates.to_base(row["weighted"], row["currency"], today)
    return list(out.values())


def _weighted_by_quarter(partners, quarters: list[tuple[int, int]]) -> dict[tuple[int, int], Decimal]:
    """Weighted open pipeline by the quarter of `expected_close_date`; overdue close dates count
    in the first (current) quarter, dates beyond the last quarter are left out."""
    today = timezone.localdate()
    rates = RateTable.load(until=today)
    first_start, _ = quarter_bounds(*quarters[0])
    _, last_end = quarter_bounds(*quarters[-1])
    rows = (
        DealRegistration.objects.filter(
            partner__in=partners, status__in=ACTIVE_STATUSES, expected_close_date__lt=last_end
        )
        .annotate(month=TruncMonth("expected_close_date"))
        .values("month", "currency")
        .annotate(weighted=Sum(F("value") * F("probability") / 100))
        .order_by()
    )
    out = dict.fromkeys(quarters, ZERO)
    for row in rows:
        month = max(row["month"], first_start)
        out[quarter_of(month)] += rates.to_base(row["weighted"], row["currency"], today)
    return out


def latest_forecast_as_of() -> dt.date | None:
    """The as_of date of the newest finished snapshot run (None before the first run)."""
    return (
        ForecastRun.objects.filter(status=ForecastRunStatus.DONE)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )


def _commits_by_quarter(partners, quarters) -> dict[tuple[int, int], Decimal]:
    today = timezone.localdate()
    rates = RateTable.load(until=today)
    q = Q()
    for year, quarter in quarters:
        q |= Q(year=year, quarter=quarter)
    rows = (
        PartnerCommit.objects.filter(q, partner__in=partners)
        .values("year", "quarter", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    out = dict.fromkeys(quarters, ZERO)
    for row in rows:
        out[(row["year"], row["quarter"])] += rates.to_base(row["total"], row["currency"], today)
    return out


def pipeline_by_quarter(*, partners: QuerySet[Partner], quarters: int = 4) -> list[dict]:
    """For the current and next quarters: [{"year", "quarter", "label", "weighted", "forecast",
    "target", "commit"}] in the base currency.

    - weighted: open pipeline by expected close date (overdue ones in the current quarter);
    - forecast: sum of the partners' forecasts in the latest finished snapshot run (None
      before the first run);
    - target: the Targets of the managers who own the partners in scope;
    - commit: the partners' own commits (PartnerCommit, live).
    """
    return _cached("pipeline_by_quarter", partners, quarters)(
        lambda: _pipeline_by_quarter(partners=partners, quarters=quarters)
    )


def _pipeline_by_quarter(*, partners: QuerySet[Partner], quarters: int = 4) -> list[dict]:
    keys = coming_quarters(n=quarters)
    weighted = _weighted_by_quarter(partners, keys)
    commits = _commits_by_quarter(partners, keys)
    period_q = Q()
    for year, quarter in keys:
        period_q |= Q(year=year, quarter=quarter)
    targets = dict.fromkeys(keys, ZERO)
    for row in (
        Target.objects.filter(period_q, manager__in=partners.filter(owner__isnull=False).values("owner_id"))
        .values("year", "quarter")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        targets[(row["year"], row["quarter"])] = row["total"]
    as_of = latest_forecast_as_of()
    forecasts: dict[tuple[int, int], Decimal | None] = dict.fromkeys(keys)
    if as_of is not None:
        forecasts = dict.fromkeys(keys, ZERO)
        for row in (
            ForecastSnapshot.objects.filter(period_q, as_of=as_of, partner__in=partners)
            .values("year", "quarter")
            .annotate(total=Sum("forecast"))
            .order_by()
        ):
            forecasts[(row["year"], row["quarter"])] = row["total"]
    return [
        {
            "year": year,
            "quarter": quarter,
            "label": quarter_label(year, quarter),
            "weighted": weighted[(year, quarter)],
            "forecast": forecasts[(year, quarter)],
            "target": targets[(year, quarter)],
            "commit": commits[(year, quarter)],
        }
        for year, quarter in keys
    ]


# --- revenue charts ------------------------------------------------------------------------


def revenue_by_tier_by_month(*, partners: QuerySet[Partner], months: int = 12) -> dict:
    """Revenue per tier per month for the last `months` months (current month included):
    {"labels": ["Jan 2026", …], "months": [date, …], "series": [{"tier", "tier_id", "values": [Decimal, …]}]}.
    Series in tier rank order, "No tier" last; only tiers with revenue or partners in scope."""
    return _cached("revenue_by_tier_by_month", partners, months)(
        lambda: _revenue_by_tier_by_month(partners=partners, months=months)
    )


def _revenue_by_tier_by_month(*, partners: QuerySet[Partner], months: int = 12) -> dict:
    from partners.models import Tier

    starts = month_starts(months=months)
    since, until = starts[0], add_months(starts[-1], 1)
    index = {m: i for i, m in enumerate(starts)}
    values: dict[int | None, list[Decimal]] = {}
    for (tier_id,), month, amount in revenue_rows(partners=partners, since=since, until=until, by=("tier_id",)):
        values.setdefault(tier_id, [ZERO] * len(starts))[index[month]] += amount
    tiers = list(Tier.objects.order_by("rank").values_list("pk", "name"))
    series = [{"tier": name, "tier_id": pk, "values": values[pk]} for pk, name in tiers if pk in values]
    if None in values:
        series.append({"tier": _("No tier"), "tier_id": None, "values": values[None]})
    return {"labels": [month_label(m) for m in starts], "months": starts, "series": series}


def revenue_concentration(*, partners: QuerySet[Partner], since: dt.date, until: dt.date) -> dict:
    """How concentrated revenue is (Pareto), over [since, until] inclusive.

    Shares are over ALL partners in scope (zero-revenue partners included — the point of
    "95 % of sales from 5 % of partners"): top5_share is the share of positive revenue made by
    the best ceil(5 % of partners) partners, top20_share likewise. Returns
    {"partners": N in scope, "partners_with_revenue", "total", "top5_share", "top20_share"
    (fractions 0–1, None without revenue), "curve": [[pct_partners, pct_revenue], …] at 0, 1, …,
    100 % of partners}."""
    return _cached("revenue_concentration", partners, since, until)(
        lambda: _revenue_concentration(partners=partners, since=since, until=until)
    )


def _revenue_concentration(*, partners: QuerySet[Partner], since: dt.date, until: dt.date) -> dict:
    per_partner = revenue_by_partner(partners=partners, since=since, until=until + dt.timedelta(days=1))
    n = partners.count()
    amounts = sorted((a for a in per_partner.values() if a > 0), reverse=True)
    total = sum(amounts, ZERO)
    result = {
        "partners": n,
        "partners_with_revenue": len(amounts),
        "total": total,
        "top5_share": None,
        "top20_share": None,
        "curve": [],
    }
    if n == 0 or total <= 0:
        return result
    cumulative = [ZERO]
    for amount in amounts:
        cumulative.append(cumulative[-1] + amount)

    def share_of_top(fraction: float) -> float:
        k = min(len(amounts), math.ceil(n * fraction))
        return float(cumulative[k] / total)

    result["top5_share"] = round(share_of_top(0.05), 4)
    result["top20_share"] = round(share_of_top(0.20), 4)
    curve = []
    for pct in range(0, 101):
        k = min(len(amounts), math.floor(n * pct / 100))
        curve.append([pct, round(float(cumulative[k] / total) * 100, 2)])
    result["curve"] = curve
    return result


# --- activity ------------------------------------------------------------------------------

# Partners that count for "active vs dormant" at a month's end: in the channel then and not
# (yet) a prospect or applicant.
_CHANNEL_STATUSES = (PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED)

# One activity event per row: the partner, and when. Log-ins are not historised (only the
# last one is stored), so the monthly history uses registrations, sales records and
# interactions; the nightly dormancy flag also counts the partner users' last log-in.
_ACTIVITY_EVENTS_SQL = """
    SELECT partner_id, submitted_at AS at FROM deals_dealregistration
     WHERE submitted_at >= %s AND submitted_at < %s AND partner_id IN ({scope})
    UNION ALL
    SELECT partner_id, occurred_on::timestamptz AS at FROM deals_salesrecord
     WHERE occurred_on >= %s::date AND occurred_on < %s::date AND partner_id IN ({scope})
    UNION ALL
    SELECT partner_id, occurred_at AS at FROM partners_interaction
     WHERE occurred_at >= %s AND occurred_at < %s AND partner_id IN ({scope})
"""

# Per partner and month, the latest event; a month end then counts the partners whose latest
# event of some month falls inside its window (a window of 90 days spans at most 4 months).
_ACTIVE_BY_MONTH_END_SQL = """
    WITH ev AS ({events}),
    pm AS (SELECT partner_id, max(at) AS last_at FROM ev GROUP BY partner_id, date_trunc('month', at)),
    ends AS (SELECT unnest(%s::date[]) AS d)
    SELECT ends.d, count(DISTINCT pm.partner_id)
      FROM ends JOIN pm ON pm.last_at < (ends.d + 1)::timestamptz
                       AND pm.last_at >= (ends.d + 1 - %s)::timestamptz
     GROUP BY ends.d
"""


def _scope_sql(partners: QuerySet[Partner]) -> tuple[str, tuple]:
    return partners.order_by().values("pk").query.sql_with_params()


def active_dormant_by_month(*, partners: QuerySet[Partner], months: int = 12) -> list[dict]:
    """For each of the last `months` month ends (today for the current month):
    [{"label", "month", "active", "dormant"}] — partners in the channel then (created by that
    day, status onboarding/active/suspended now) with / without any activity in the
    DORMANT_AFTER_DAYS before it. Two queries, whatever the number of partners."""
    return _cached("active_dormant_by_month", partners, months)(
        lambda: _active_dormant_by_month(partners=partners, months=months)
    )


def _active_dormant_by_month(*, partners: QuerySet[Partner], months: int = 12) -> list[dict]:
    today = timezone.localdate()
    starts = month_starts(today, months)
    ends = [min(add_months(m, 1) - dt.timedelta(days=1), today) for m in starts]
    window = settings.PRM["DORMANT_AFTER_DAYS"]
    partners = partners.filter(status__in=_CHANNEL_STATUSES)
    since = _aware(ends[0] - dt.timedelta(days=window))
    until = _aware(today + dt.timedelta(days=1))
    # The scope is Django-built SQL whose values travel as parameters, never in the text.
    scope_sql, scope_params = _scope_sql(partners)
    sql = _ACTIVE_BY_MONTH_END_SQL.format(events=_ACTIVITY_EVENTS_SQL.format(scope=scope_sql))
    params = [*[since, until, *scope_params] * 3, ends, window]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        active = {row[0]: row[1] for row in cursor.fetchall()}
    existing = dict.fromkeys(ends, 0)
    created = (
        partners.filter(created_at__lt=_aware(ends[-1] + dt.timedelta(days=1)))
        .annotate(day=TruncMonth("created_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_month = defaultdict(int)
    for row in created:
        by_month[_month_of(row["day"])] += row["n"]
    # Month granularity for "in the channel by then": created in or before that month.
    for end in ends:
        existing[end] = sum(n for month, n in by_month.items() if month <= end)
    return [
        {
            "label": month_label(month),
            "month": month,
            "active": min(active.get(end, 0), existing[end]),
            "dormant": max(existing[end] - active.get(end, 0), 0),
        }
        for month, end in zip(starts, ends, strict=True)
    ]


# --- KPI scorecard -------------------------------------------------------------------------


def kpi_managers(*, user: User) -> QuerySet[User]:
    """The channel managers a scorecard shows to `user`: self for a manager; self and reports
    for a lead; every active staff user who owns partners or has a target for an administrator."""
    staff = User.objects.filter(role__in=[Role.CHANNEL_MANAGER, Role.CHANNEL_LEAD, Role.ADMINISTRATOR])
    if not user.is_vendor_staff:
        return User.objects.none()
    if user.role == Role.CHANNEL_MANAGER:
        qs = staff.filter(pk=user.pk)
    elif user.role == Role.CHANNEL_LEAD:
        qs = staff.filter(Q(pk=user.pk) | Q(reports_to=user))
    else:
        qs = staff.filter(Q(owned_partners__isnull=False) | Q(sales_targets__isnull=False)).distinct()
    return qs.order_by("full_name", "pk")


def kpi_scorecard(*, user: User, year: int, quarter: int) -> list[dict]:
    """One row per manager in scope (`kpi_managers`) for the quarter:
    {"manager", "manager_id", "active_partners", "partners", "target", "revenue",
    "fulfilment_pct" (None without target), "won_deals", "average_deal_size" (None without won
    deals), "revenue_last_year", "growth_per_partner", "growth_pct", "reviews_decided",
    "sla_kept_pct" (None without decisions)}.

    - revenue: see module docstring, partners the manager owns today;
    - growth per partner: (revenue − revenue in the same quarter a year earlier) / partners
      owned — same quarter last year, so seasonality does not read as growth; growth_pct is the
      same change as a percentage of last year's revenue (None when last year was 0);
    - SLA kept: registrations the manager decided (approved, rejected, returned) in the
      quarter on or before their review due time.
    """
    managers = list(kpi_managers(user=user))
    ids = [m.pk for m in managers]
    start, end = quarter_bounds(year, quarter)
    ly_start, ly_end = quarter_bounds(year - 1, quarter)
    owned = Partner.objects.filter(owner_id__in=ids)
    partner_counts = {
        row["owner_id"]: row
        for row in owned.values("owner_id")
        .annotate(n=Count("pk"), active=Count("pk", filter=Q(status=PartnerStatus.ACTIVE, is_dormant=False)))
        .order_by()
    }
    revenue: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for (owner_id,), _m, amount in revenue_rows(partners=owned, since=start, until=end, by=("owner_id",)):
        revenue[owner_id] += amount
    revenue_ly: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for (owner_id,), _m, amount in revenue_rows(partners=owned, since=ly_start, until=ly_end, by=("owner_id",)):
        revenue_ly[owner_id] += amount
    targets = dict(
        Target.objects.filter(manager_id__in=ids, year=year, quarter=quarter).values_list("manager_id", "amount")
    )
    today = timezone.localdate()
    rates = RateTable.load(until=today)
    won: dict[int, list] = defaultdict(lambda: [0, ZERO])
    for row in (
        DealRegistration.objects.filter(
            partner__owner_id__in=ids, status=DealStatus.WON, closed_at__gte=_aware(start), closed_at__lt=_aware(end)
        )
        .values("partner__owner_id", "currency")
        .annotate(n=Count("pk"), total=Sum("final_amount"))
        .order_by()
    ):
        item = won[row["partner__owner_id"]]
        item[0] += row["n"]
        item[1] += rates.to_base(row["total"], row["currency"], min(end - dt.timedelta(days=1), today))
    sla = {
        row["decided_by_id"]: row
        for row in DealRegistration.objects.filter(
            decided_by_id__in=ids,
            decided_at__gte=_aware(start),
            decided_at__lt=_aware(end),
            review_due_at__isnull=False,
        )
        .values("decided_by_id")
        .annotate(n=Count("pk"), kept=Count("pk", filter=Q(decided_at__lte=F("review_due_at"))))
        .order_by()
    }
    rows = []
    for manager in managers:
        counts = partner_counts.get(manager.pk, {"n": 0, "active": 0})
        target = targets.get(manager.pk)
        actual = revenue[manager.pk].quantize(CENT)
        last_year = revenue_ly[manager.pk].quantize(CENT)
        won_n, won_total = won[manager.pk]
        decided = sla.get(manager.pk, {"n": 0, "kept": 0})
        rows.append(
            {
                "manager": manager,
                "manager_id": manager.pk,
                "partners": counts["n"],
                "active_partners": counts["active"],
                "target": target,
                "revenue": actual,
                "fulfilment_pct": round(float(actual / target * 100), 1) if target else None,
                "won_deals": won_n,
                "average_deal_size": (won_total / won_n).quantize(CENT) if won_n else None,
                "revenue_last_year": last_year,
                "growth_per_partner": ((actual - last_year) / counts["n"]).quantize(CENT) if counts["n"] else None,
                "growth_pct": round(float((actual - last_year) / last_year * 100), 1) if last_year else None,
                "reviews_decided": decided["n"],
                "sla_kept_pct": round(decided["kept"] * 100 / decided["n"], 1) if decided["n"] else None,
            }
        )
    return rows


# --- reactivation --------------------------------------------------------------------------


def reactivation_queue(*, user: User, filters: DashboardFilters | None = None) -> QuerySet[Partner]:
    """Dormant partners in `user`'s scope, longest-silent first (never active first), with tier
    and owner loaded; `last_activity_at` is the last activity."""
    return (
        dashboard_partners(user=user, filters=filters)
        .filter(is_dormant=True)
        .exclude(status=PartnerStatus.TERMINATED)
        .select_related("owner", "tier")
        .order_by(F("last_activity_at").asc(nulls_first=True), "name", "pk")
    )


# --- the staff dashboard in one call -------------------------------------------------------


@dataclass
class DashboardSummary:
    scope_partners: int
    active_partners: int
    dormant_partners: int
    cards: list[dict] = field(default_factory=list)
    pipeline_by_stage: list[dict] = field(default_factory=list)
    pipeline_by_quarter: list[dict] = field(default_factory=list)
    revenue_by_tier_by_month: dict = field(default_factory=dict)
    revenue_concentration: dict = field(default_factory=dict)
    active_dormant_by_month: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def dashboard_summary(*, user: User, filters: DashboardFilters | None = None) -> DashboardSummary:
    """Every number of the staff dashboard for `user` and `filters` (cards from the
    prm.dashboard registry as dicts: key, title, count, url, urgent, urgent_label, order, icon)."""
    from prm.dashboard import queue_cards

    f = filters or DashboardFilters()
    partners = dashboard_partners(user=user, filters=f)
    start, end = f.period()
    counts = partners.aggregate(
        n=Count("pk"),
        active=Count("pk", filter=Q(status=PartnerStatus.ACTIVE, is_dormant=False)),
        dormant=Count("pk", filter=Q(is_dormant=True) & ~Q(status=PartnerStatus.TERMINATED)),
    )
    return DashboardSummary(
        scope_partners=counts["n"],
        active_partners=counts["active"],
        dormant_partners=counts["dormant"],
        cards=[asdict(card) for card in queue_cards(user, partners)],
        pipeline_by_stage=pipeline_by_stage(partners=partners),
        pipeline_by_quarter=pipeline_by_quarter(partners=partners),
        revenue_by_tier_by_month=revenue_by_tier_by_month(partners=partners, months=f.months()),
        revenue_concentration=revenue_concentration(partners=partners, since=start, until=end),
        active_dormant_by_month=active_dormant_by_month(partners=partners, months=f.months()),
    )


# --- forecasts page ------------------------------------------------------------------------


def forecast_snapshots(*, user: User, partners: QuerySet[Partner] | None = None, as_of: dt.date | None = None):
    """Snapshots of the latest finished run (or `as_of`) visible to `user`: staff see the
    total rows (partner empty) and every partner's; a partner user only its own partner's.
    Ordered by partner name (total first), year, quarter; partner loaded."""
    as_of = as_of or latest_forecast_as_of()
    if as_of is None:
        return ForecastSnapshot.objects.none()
    qs = ForecastSnapshot.objects.filter(as_of=as_of).select_related("partner")
    if user.is_vendor_staff:
        if partners is not None:
            qs = qs.filter(Q(partner__isnull=True) | Q(partner__in=partners))
    elif user.is_partner_user:
        qs = qs.filter(partner_id=user.partner_id)
    else:
        return ForecastSnapshot.objects.none()
    return qs.order_by(F("partner__name").asc(nulls_first=True), "partner_id", "year", "quarter")


# --- partner cabinet -----------------------------------------------------------------------


def partner_stats_by_month(*, partner: Partner, months: int = 12) -> list[dict]:
    """The partner's own statistics per month (cabinet charts), oldest first:
    [{"label", "month", "registrations" (submitted that month), "won", "lost" (closed that
    month), "win_rate" (won / (won + lost), fraction, None when nothing closed), "revenue"}]."""
    starts = month_starts(months=months)
    since, until = starts[0], add_months(starts[-1], 1)
    index = {m: i for i, m in enumerate(starts)}
    rows = [
        {
            "label": month_label(m),
            "month": m,
            "registrations": 0,
            "won": 0,
            "lost": 0,
            "win_rate": None,
            "revenue": ZERO,
        }
        for m in starts
    ]
    deals = DealRegistration.objects.filter(partner=partner)
    for row in (
        deals.filter(submitted_at__gte=_aware(since), submitted_at__lt=_aware(until))
        .annotate(month=TruncMonth("submitted_at"))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        rows[index[_month_of(row["month"])]]["registrations"] = row["n"]
    for row in (
        deals.filter(
            status__in=[DealStatus.WON, DealStatus.LOST], closed_at__gte=_aware(since), closed_at__lt=_aware(until)
        )
        .annotate(month=TruncMonth("closed_at"))
        .values("month", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        rows[index[_month_of(row["month"])]][row["status"]] = row["n"]
    partners = Partner.objects.filter(pk=partner.pk)
    for _keys, month, amount in revenue_rows(partners=partners, since=since, until=until):
        rows[index[month]]["revenue"] += amount
    for row in rows:
        closed = row["won"] + row["lost"]
        row["win_rate"] = round(row["won"] / closed, 4) if closed else None
    return rows


def partner_commit_vs_pipeline(*, partner: Partner, quarters: int = 4) -> list[dict]:
    """Per coming quarter (current first): [{"year", "quarter", "label", "commit" (base currency,
    None when not entered), "commit_amount", "commit_currency" (as entered), "weighted"
    (weighted pipeline, base), "forecast" (latest snapshot, None before the first run),
    "editable" (bool: commits can be set for this quarter)}]."""
    keys = coming_quarters(n=quarters)
    partners = Partner.objects.filter(pk=partner.pk)
    weighted = _weighted_by_quarter(partners, keys)
    today = timezone.localdate()
    rates = RateTable.load(until=today)
    period_q = Q()
    for year, quarter in keys:
        period_q |= Q(year=year, quarter=quarter)
    commits = {(c.year, c.quarter): c for c in PartnerCommit.objects.filter(period_q, partner=partner)}
    as_of = latest_forecast_as_of()
    forecasts = {}
    if as_of is not None:
        forecasts = {
            (s.year, s.quarter): s.forecast
            for s in ForecastSnapshot.objects.filter(period_q, as_of=as_of, partner=partner)
        }
    out = []
    for year, quarter in keys:
        commit = commits.get((year, quarter))
        out.append(
            {
                "year": year,
                "quarter": quarter,
                "label": quarter_label(year, quarter),
                "commit": rates.to_base(commit.amount, commit.currency, today) if commit else None,
                "commit_amount": commit.amount if commit else None,
                "commit_currency": commit.currency if commit else "",
                "weighted": weighted[(year, quarter)],
                "forecast": forecasts.get((year, quarter)),
                "editable": True,
            }
        )
    return out


def partner_commit_list(*, user: User) -> QuerySet[PartnerCommit]:
    """Commits `user` may see: staff all, a partner user its own partner's; newest quarter first."""
    qs = PartnerCommit.objects.select_related("partner", "entered_by").order_by("-year", "-quarter", "partner__name")
    if user.is_vendor_staff:
        return qs
    if user.is_partner_user:
        return qs.filter(partner_id=user.partner_id)
    return qs.none()


def partner_health_get(*, partner: Partner):
    """The partner's PartnerHealth, or None before the first computation."""
    from deals.models import PartnerHealth

    return PartnerHealth.objects.filter(partner=partner).first()


__all__ = [
    "DashboardFilters",
    "DashboardSummary",
    "active_dormant_by_month",
    "dashboard_cache_warm",
    "dashboard_partners",
    "dashboard_viewed",
    "dashboard_summary",
    "forecast_snapshots",
    "kpi_scorecard",
    "partner_commit_list",
    "partner_commit_vs_pipeline",
    "partner_health_get",
    "partner_stats_by_month",
    "pipeline_by_quarter",
    "pipeline_by_stage",
    "reactivation_queue",
    "revenue_by_tier_by_month",
    "revenue_concentration",
]


# --- queue cards (registered in DealsConfig.ready) -----------------------------------------


def _mine_query(user: User) -> str:
    """A channel manager's queue pages open filtered to "mine", like the dashboard's scope."""
    return "?mine=1" if user.role == Role.CHANNEL_MANAGER else ""


def deal_queue_cards(user: User, partners: QuerySet[Partner]) -> list:
    """Cards for the deal queues, counted over the partners in the dashboard scope (3 queries):
    registrations to review (urgent: SLA breached or due today), open conflicts (urgent:
    escalated), extension requests (urgent: protection ends within 7 days)."""
    from django.urls import reverse

    from deals.models import Conflict, ConflictStatus, ExtensionStatus, ProtectionExtension
    from prm.dashboard import QueueCard

    now = timezone.now()
    end_of_today = _aware(timezone.localdate() + dt.timedelta(days=1))
    review = DealRegistration.objects.filter(status=DealStatus.SUBMITTED, partner__in=partners).aggregate(
        n=Count("pk"), urgent=Count("pk", filter=Q(review_due_at__lt=end_of_today))
    )
    conflicts = (
        Conflict.objects.filter(status=ConflictStatus.OPEN)
        .filter(Q(registration_low__partner__in=partners) | Q(registration_high__partner__in=partners))
        .aggregate(n=Count("pk"), urgent=Count("pk", filter=Q(escalated_at__isnull=False)))
    )
    extensions = ProtectionExtension.objects.filter(
        status=ExtensionStatus.PENDING, registration__partner__in=partners
    ).aggregate(
        n=Count("pk"), urgent=Count("pk", filter=Q(registration__protected_until__lt=now + dt.timedelta(days=7)))
    )
    mine = _mine_query(user)
    return [
        QueueCard(
            key="registrations_to_review",
            title=_("Registrations to review"),
            count=review["n"],
            url=reverse("staff:deal_review_queue") + mine,
            urgent=review["urgent"],
            urgent_label=_("SLA breached or due today"),
            order=10,
            icon="clipboard-check",
        ),
        QueueCard(
            key="open_conflicts",
            title=_("Open conflicts"),
            count=conflicts["n"],
            url=reverse("staff:conflict_list") + mine,
            urgent=conflicts["urgent"],
            urgent_label=_("escalated"),
            order=20,
            icon="exclamation-triangle",
        ),
        QueueCard(
            key="extension_requests",
            title=_("Extension requests"),
            count=extensions["n"],
            url=reverse("staff:extension_queue"),
            urgent=extensions["urgent"],
            urgent_label=_("protection ends within 7 days"),
            order=40,
            icon="hourglass-split",
        ),
    ]
