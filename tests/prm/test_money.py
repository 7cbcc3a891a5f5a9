import datetime
from decimal import Decimal

import pytest

from prm.exceptions import ApplicationError
from prm.models import ExchangeRate
from prm.money import RateTable, convert_to_base

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates():
    ExchangeRate.objects.create(currency="USD", valid_from=datetime.date(2026, 1, 1), rate=Decimal("90"))
    ExchangeRate.objects.create(currency="USD", valid_from=datetime.date(2026, 6, 1), rate=Decimal("80"))


def test_convert_to_base_uses_latest_rate_on_or_before_date(rates):
    assert convert_to_base(Decimal("10"), "USD", datetime.date(2026, 3, 1)) == Decimal("900.00")
    assert convert_to_base(Decimal("10"), "USD", datetime.date(2026, 6, 1)) == Decimal("800.00")


def test_convert_to_base_is_identity_for_base_currency():
    assert convert_to_base(Decimal("12.34"), "RUB", datetime.date(2026, 1, 1)) == Decimal("12.34")


def test_convert_to_base_without_rate_says_so(rates):
    with pytest.raises(ApplicationError) as exc:
        convert_to_base(Decimal("1"), "USD", datetime.date(2025, 12, 31))
    assert "USD" in str(exc.value.message)
    with pytest.raises(ApplicationError):
        convert_to_base(Decimal("1"), "EUR", datetime.date(2026, 12, 31))


def test_rate_table_converts_many_amounts_with_one_query(rates, django_assert_num_queries):
    with django_assert_num_queries(1):
        table = RateTable.load()
        total = sum(table.to_base(Decimal("1"), "USD", datetime.date(2026, 7, d)) for d in range(1, 29))
    assert total == Decimal("2240.00")


def test_exchange_rate_must_be_positive():
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        ExchangeRate.objects.create(currency="EUR", valid_from=datetime.date(2026, 1, 1), rate=Decimal("0"))
