"""Every read of sales records, and who may see what.

Staff see every partner's records; a partner user (admin or rep) sees its own company's and
gets Http404 for anything else. Totals are in the base currency, converted at stored rates
(prm.money.RateTable) with the rate of each record's date: the database groups by currency
and day in one query and Python converts the groups, so a report never loads every row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth

from deals.models import SalesKind, SalesRecord
from partners.selectors import get_or_404, scope_to_partner
from prm.exceptions import ApplicationError
from prm.money import RateTable

_RELATED = ("partner", "product", "entered_by", "end_customer", "registration")


def sales_list_for_user(*, user, filters: dict | None = None) -> QuerySet[SalesRecord]:
    """Records `user` may see, newest first, with partner/product/author loaded.

    filters (all optional): kind, date_from, date_to (dates, inclusive), product (Product or
    id), q (reference contains, case-insensitive), returns (True: only returns; False: only
    sales). Staff only: partner (Partner or id), partner_ids (list)."""
    filters = filters or {}
    qs = scope_to_partner(SalesRecord.objects.select_related(*_RELATED), user=user)
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("date_from"):
        qs = qs.filter(occurred_on__gte=filters["date_from"])
    if filters.get("date_to"):
        qs = qs.filter(occurred_on__lte=filters["date_to"])
    if filters.get("product"):
        qs = qs.filter(product_id=getattr(filters["product"], "pk", filters["product"]))
    if filters.get("q"):
        qs = qs.filter(reference__icontains=filters["q"].strip())
    if filters.get("returns") is True:
        qs = qs.filter(amount__lt=0)
    elif filters.get("returns") is False:
        qs = qs.filter(amount__gt=0)
    if user.is_vendor_staff:
        if filters.get("partner"):
            qs = qs.filter(partner_id=getattr(filters["partner"], "pk", filters["partner"]))
        if filters.get("partner_ids") is not None:
            qs = qs.filter(partner_id__in=filters["partner_ids"])
    return qs.order_by("-occurred_on", "-id")


def sales_get_for_user(*, user, public_id) -> SalesRecord:
    """One record by public id, or Http404 when `user` may not see it."""
    return get_or_404(scope_to_partner(SalesRecord.objects.select_related(*_RELATED), user=user), public_id=public_id)


@dataclass(frozen=True)
class SalesTotals:
    sell_in: Decimal
    sell_out: Decimal
    count: int
    currency: str
    missing_rates: tuple[str, ...] = ()  # currencies left out because no rate is stored


def _convert_groups(rows, rates: RateTable) -> tuple[list[tuple[dict, Decimal]], set[str]]:
    converted, missing = [], set()
    for row in rows:
        try:
            rate = rates.rate(row["currency"], row["occurred_on"])
        except ApplicationError:  # no stored rate for this currency on that day
            missing.add(row["currency"])
            continue
        converted.append((row, (row["total"] * rate).quantize(Decimal("0.01"))))
    return converted, missing


def sales_totals(qs: QuerySet[SalesRecord]) -> SalesTotals:
    """Sell-in and sell-out of a (filtered, scoped) queryset, in the base currency. Two queries
    (the grouped sums and the rates), however many rows."""
    from prm.money import base_currency

    rows = list(
        qs.order_by()
        .values("kind", "currency", "occurred_on")
        .annotate(total=Sum("amount"), n=Count("id"))
        .values("kind", "currency", "occurred_on", "total", "n")
    )
    until = max((r["occurred_on"] for r in rows), default=None)
    converted, missing = _convert_groups(rows, RateTable.load(until=until)) if rows else ([], set())
    sums = {SalesKind.SELL_IN: Decimal(0), SalesKind.SELL_OUT: Decimal(0)}
    for row, amount in converted:
        sums[row["kind"]] += amount
    return SalesTotals(
        sell_in=sums[SalesKind.SELL_IN],
        sell_out=sums[SalesKind.SELL_OUT],
        count=sum(r["n"] for r in rows),
        currency=base_currency(),
        missing_rates=tuple(sorted(missing)),
    )


@dataclass(frozen=True)
class MonthlyTotal:
    month: dt.date  # the first day of the month
    kind: str
    amount: Decimal  # in the base currency; returns already netted
    partner_id: int | None = None  # set when by_partner=True


def sales_monthly_totals(
    *,
    partner_ids: list[int] | None = None,
    kind: str | None = None,
    since: dt.date,
    until: dt.date,
    by_partner: bool = False,
    strict: bool = True,
) -> list[MonthlyTotal]:
    """Net sales per calendar month (and kind, and partner with `by_partner`) between `since`
    and `until` inclusive, in the base currency, ordered by (partner, month, kind). Months
    without sales are absent. One query for the sums and one for the rates.

    Forecasts and reorder reminders read the monthly sell-in history from here. With
    `strict` (the default) a missing exchange rate raises ApplicationError, as prm.money does;
    with strict=False the amounts without a rate are left out."""
    qs = SalesRecord.objects.filter(occurred_on__gte=since, occurred_on__lte=until)
    if partner_ids is not None:
        qs = qs.filter(partner_id__in=partner_ids)
    if kind:
        qs = qs.filter(kind=kind)
    group = ["kind", "currency", "occurred_on"] + (["partner_id"] if by_partner else [])
    rows = list(
        qs.order_by()
        .annotate(month=TruncMonth("occurred_on"))
        .values(*group, "month")
        .annotate(total=Sum("amount"))
        .values(*group, "month", "total")
    )
    rates = RateTable.load(until=until)
    if strict:
        converted = [(row, rates.to_base(row["total"], row["currency"], row["occurred_on"])) for row in rows]
    else:
        converted, _missing = _convert_groups(rows, rates)
    sums: dict[tuple, Decimal] = {}
    for row, amount in converted:
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        key = (row.get("partner_id") if by_partner else None, month, row["kind"])
        sums[key] = sums.get(key, Decimal(0)) + amount
    return [
        MonthlyTotal(month=month, kind=k, amount=amount, partner_id=pid)
        for (pid, month, k), amount in sorted(sums.items(), key=lambda item: (item[0][0] or 0, item[0][1], item[0][2]))
    ]


def month_starts(since: dt.date, until: dt.date) -> list[dt.date]:
    """Every first-of-month from `since`'s month to `until`'s, for chart axes."""
    months, current = [], since.replace(day=1)
    while current <= until:
        months.append(current)
        current = (current + dt.timedelta(days=32)).replace(day=1)
    return months
