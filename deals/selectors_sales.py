"""Every read of sales records, and who may see what.

Staff see every partner's records; a partner user (admin or rep) sees its own company's and
gets Http404 for anything else. Totals are in the base currency, converted at stored rates
with prm.money.RateTable's rule (the latest rate on or before each record's date): the
database joins each record to the rate of its day and sums, so a report is one query and
never loads every row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Min, QuerySet
from django.utils.translation import gettext as _

from deals.models import SalesKind, SalesRecord
from partners.selectors import get_or_404, scope_to_partner
from prm.exceptions import ApplicationError
from prm.models import ExchangeRate
from prm.money import base_currency

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


# The rate of every day, from the stored rates (prm.money.RateTable's rule: the latest rate on or
# before the day): each rate covers the days up to the next one for its currency, the newest
# up to today. A few thousand rows at most, joined on (currency, day) with a hash join.
_DAILY_RATES = """
    ranges AS (
        SELECT currency, valid_from, rate,
               COALESCE(lead(valid_from) OVER (PARTITION BY currency ORDER BY valid_from) - 1,
                        GREATEST(CURRENT_DATE, valid_from)) AS valid_to
        FROM prm_exchangerate
    ),
    days AS (
        SELECT r.currency AS cur, d::date AS day, r.rate
        FROM ranges r, generate_series(r.valid_from, r.valid_to, interval '1 day') AS d
    )
"""
_GROUP_SQL = {"partner_id": "s.partner_id", "kind": "s.kind", "month": "date_trunc('month', s.occurred_on)::date"}
_CENT = Decimal("0.01")


def _base_grouped(qs: QuerySet[SalesRecord], group: list[str]) -> list[dict]:
    """Sums of `qs` in the base currency grouped by `group` (partner_id, kind, month), in one
    query: every record is converted at the rate of its date inside the database. Each row has
    `total` (None when nothing in the group could be converted), `unconverted` (records
    without a rate) and `n`."""
    try:
        inner, params = (
            qs.order_by().values("partner_id", "kind", "currency", "occurred_on", "amount").query.sql_with_params()
        )
    except EmptyResultSet:  # qs.none(): nothing to sum
        return []
    columns = ", ".join(f"{_GROUP_SQL[g]} AS {g}" for g in group)
    group_by = ", ".join(str(i + 1) for i in range(len(group)))
    # Sum per (group, currency, day) first: the join to the day's rate then runs on those sums,
    # usually far fewer rows than records (a whole list's totals: kinds × currencies × days).
    keys = ", ".join(k for k in ("partner_id", "kind", "currency", "occurred_on") if k != "partner_id" or k in group)
    sql = f"""
        WITH {_DAILY_RATES}
        SELECT {columns + "," if columns else ""}
               SUM(s.amount * CASE WHEN s.currency = %s THEN 1 ELSE days.rate END) AS total,
               SUM(s.n) FILTER (WHERE s.currency <> %s AND days.rate IS NULL) AS unconverted,
               SUM(s.n) AS n
        FROM (SELECT {keys}, SUM(amount) AS amount, COUNT(*) AS n FROM ({inner}) AS r GROUP BY {keys}) AS s
        LEFT JOIN days ON days.cur = s.currency AND days.day = s.occurred_on
        {"GROUP BY " + group_by + " ORDER BY " + group_by if group else ""}
    """  # noqa: S608 - only fixed column expressions and the ORM's own SQL are interpolated
    base = base_currency()
    with connection.cursor() as cursor:
        cursor.execute(sql, [base, base, *params])
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["unconverted"], row["n"] = int(row["unconverted"] or 0), int(row["n"] or 0)
    return rows


def _missing_currencies(qs: QuerySet[SalesRecord]) -> tuple[str, ...]:
    """Currencies of `qs` with a record dated before any stored rate (a rare second query)."""
    base = base_currency()
    missing = []
    for currency, first in (
        qs.order_by().exclude(currency=base).values_list("currency").annotate(first=Min("occurred_on"))
    ):
        earliest = ExchangeRate.objects.filter(currency=currency).aggregate(m=Min("valid_from"))["m"]
        if earliest is None or first < earliest:
            missing.append(currency)
    return tuple(sorted(missing))


def sales_totals(qs: QuerySet[SalesRecord]) -> SalesTotals:
    """Sell-in and sell-out of a (filtered, scoped) queryset in the base currency: one query,
    however many rows (more only when some currency has no stored rate)."""
    rows = _base_grouped(qs, ["kind"])
    sums = {r["kind"]: (r["total"] or Decimal(0)) for r in rows}
    unconverted = sum(r["unconverted"] for r in rows)
    return SalesTotals(
        sell_in=sums.get(SalesKind.SELL_IN, Decimal(0)).quantize(_CENT),
        sell_out=sums.get(SalesKind.SELL_OUT, Decimal(0)).quantize(_CENT),
        count=sum(r["n"] for r in rows),
        currency=base_currency(),
        missing_rates=_missing_currencies(qs) if unconverted else (),
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
    without sales are absent. One query: the database converts each record at the rate of its
    date and sums.

    Forecasts and reorder reminders read the monthly sell-in history from here. With `strict`
    (the default) a missing exchange rate raises ApplicationError, as prm.money does; with
    strict=False the amounts without a rate are left out."""
    qs = SalesRecord.objects.filter(occurred_on__gte=since, occurred_on__lte=until)
    if partner_ids is not None:
        qs = qs.filter(partner_id__in=partner_ids)
    if kind:
        qs = qs.filter(kind=kind)
    group = ["partner_id", "month", "kind"] if by_partner else ["month", "kind"]
    rows = _base_grouped(qs, group)
    if strict and any(r["unconverted"] for r in rows):
        missing = _missing_currencies(qs) or ("?",)
        raise ApplicationError(
            _("No exchange rate for %(currency)s on or before %(date)s.")
            % {"currency": ", ".join(missing), "date": until.isoformat()},
            code="missing_rate",
        )
    result = []
    for row in rows:
        if row["total"] is None:
            continue
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        result.append(
            MonthlyTotal(
                month=month,
                kind=row["kind"],
                amount=row["total"].quantize(_CENT),
                partner_id=row.get("partner_id") if by_partner else None,
            )
        )
    return result


def month_starts(since: dt.date, until: dt.date) -> list[dt.date]:
    """Every first-of-month from `since`'s month to `until`'s, for chart axes."""
    months, current = [], since.replace(day=1)
    while current <= until:
        months.append(current)
        current = (current + dt.timedelta(days=32)).replace(day=1)
    return months
