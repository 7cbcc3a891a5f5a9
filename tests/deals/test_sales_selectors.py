"""Sales selectors: scoping, base-currency conversion at the rate of each record's date."""

import datetime as dt
from decimal import Decimal

import pytest

from deals.selectors_sales import sales_list_for_user, sales_monthly_totals, sales_totals
from prm.exceptions import ApplicationError
from prm.models import ExchangeRate
from tests.deals.sales_helpers import make_sale

pytestmark = pytest.mark.django_db


def test_sales_monthly_totals_convert_at_the_rate_of_each_date(manager, partner_a, partner_b):
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2025, 1, 1), rate=Decimal("90"))
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2025, 3, 15), rate=Decimal("80"))
    make_sale(actor=manager, partner=partner_a, amount="10", currency="USD", occurred_on=dt.date(2025, 3, 14))
    make_sale(actor=manager, partner=partner_a, amount="10", currency="USD", occurred_on=dt.date(2025, 3, 15))
    make_sale(actor=manager, partner=partner_a, amount="500", occurred_on=dt.date(2025, 3, 20))
    make_sale(actor=manager, partner=partner_a, amount="-100", occurred_on=dt.date(2025, 4, 2))
    make_sale(actor=manager, partner=partner_b, amount="7", occurred_on=dt.date(2025, 4, 3), kind="sell_out")
    totals = sales_monthly_totals(since=dt.date(2025, 1, 1), until=dt.date(2025, 12, 31))
    assert [(t.month, t.kind, t.amount) for t in totals] == [
        (dt.date(2025, 3, 1), "sell_in", Decimal("2200.00")),
        (dt.date(2025, 4, 1), "sell_in", Decimal("-100.00")),
        (dt.date(2025, 4, 1), "sell_out", Decimal("7.00")),
    ]
    mine = sales_monthly_totals(
        partner_ids=[partner_b.pk],
        kind="sell_out",
        since=dt.date(2025, 1, 1),
        until=dt.date(2025, 12, 31),
        by_partner=True,
    )
    assert [(t.partner_id, t.amount) for t in mine] == [(partner_b.pk, Decimal("7.00"))]


def test_sales_monthly_totals_missing_rate_raises_unless_lenient(manager, partner_a):
    make_sale(actor=manager, partner=partner_a, amount="10", currency="CNY", occurred_on=dt.date(2025, 5, 1))
    make_sale(actor=manager, partner=partner_a, amount="10", occurred_on=dt.date(2025, 5, 2))
    with pytest.raises(ApplicationError) as exc:
        sales_monthly_totals(since=dt.date(2025, 1, 1), until=dt.date(2025, 12, 31))
    assert "CNY" in exc.value.message
    lenient = sales_monthly_totals(since=dt.date(2025, 1, 1), until=dt.date(2025, 12, 31), strict=False)
    assert [t.amount for t in lenient] == [Decimal("10.00")]


def test_sales_totals_one_query(manager, partner_a, django_assert_num_queries):
    ExchangeRate.objects.create(currency="EUR", valid_from=dt.date(2000, 1, 1), rate=Decimal("100"))
    for i in range(5):
        make_sale(actor=manager, partner=partner_a, amount="1", currency="EUR", reference=f"E{i}")
    with django_assert_num_queries(1):
        totals = sales_totals(sales_list_for_user(user=manager))
    assert totals.sell_in == Decimal("500.00") and totals.count == 5 and totals.missing_rates == ()


def test_sales_list_for_user_scopes_partner_users(manager, partner_a, partner_b, partner_rep, other_partner_user):
    mine = make_sale(actor=manager, partner=partner_a)
    theirs = make_sale(actor=manager, partner=partner_b)
    assert list(sales_list_for_user(user=partner_rep)) == [mine]
    assert list(sales_list_for_user(user=other_partner_user, filters={"partner": partner_a})) == [theirs]
    assert set(sales_list_for_user(user=manager)) == {mine, theirs}
