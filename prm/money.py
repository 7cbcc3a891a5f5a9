"""Currency conversion for reporting, from stored rates (prm.ExchangeRate)."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from prm.exceptions import ApplicationError
from prm.models import ExchangeRate


def base_currency() -> str:
    return settings.PRM["BASE_CURRENCY"]


class RateTable:
    """Rates loaded once, for converting many amounts without a query per amount."""

    def __init__(self, rates: dict[str, list[tuple[datetime.date, Decimal]]]):
        # Newest first per currency.
        self._rates = {cur: sorted(items, reverse=True) for cur, items in rates.items()}

    @classmethod
    def load(cls, *, until: datetime.date | None = None) -> "RateTable":
        qs = ExchangeRate.objects.all()
        if until is not None:
            qs = qs.filter(valid_from__lte=until)
        rates: dict[str, list[tuple[datetime.date, Decimal]]] = {}
        for currency, valid_from, rate in qs.values_list("currency", "valid_from", "rate"):
            rates.setdefault(currency, []).append((valid_from, rate))
        return cls(rates)

    def rate(self, currency: str, on: datetime.date) -> Decimal:
        if currency == base_currency():
            return Decimal(1)
        for valid_from, rate in self._rates.get(currency, []):
            if valid_from <= on:
                return rate
        raise ApplicationError(
            _("No exchange rate for %(currency)s on or before %(date)s.")
            % {"currency": currency, "date": on.isoformat()},
            code="missing_rate",
        )

    def to_base(self, amount: Decimal, currency: str, on: datetime.date) -> Decimal:
        return (Decimal(amount) * self.rate(currency, on)).quantize(Decimal("0.01"))


def convert_to_base(amount: Decimal, currency: str, on: datetime.date) -> Decimal:
    return RateTable.load(until=on).to_base(amount, currency, on)
