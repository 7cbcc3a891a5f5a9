"""Shared inputs for the sales tests."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from deals import services
from prm.models import ExchangeRate


def rates(**by_currency):
    """Store exchange rates valid since 2000 (base currency RUB in the test settings)."""
    for currency, rate in (by_currency or {"USD": "90", "EUR": "100"}).items():
        ExchangeRate.objects.create(currency=currency, valid_from=dt.date(2000, 1, 1), rate=Decimal(rate))


def make_sale(*, actor, partner, kind="sell_in", amount="1000.00", currency="RUB", days_ago=10, **extra):
    return services.sales_record_create(
        actor=actor,
        partner=partner,
        kind=kind,
        occurred_on=extra.pop("occurred_on", timezone.localdate() - dt.timedelta(days=days_ago)),
        amount=Decimal(str(amount)),
        currency=currency,
        **extra,
    )
