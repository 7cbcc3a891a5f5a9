"""Test data for the tier engine: the default tier ladder, won deals, sales records and
certifications (import the fixtures you use into the test module)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from deals.models import DealRegistration, DealStatus, SalesKind, SalesRecord
from partners.models import Certification
from prm.models import ExchangeRate
from tests.deals.factories import customer_data, make_deal
from tests.factories import ContactFactory, TierFactory


@pytest.fixture(name="tiers")
def tiers_fixture(db):
    """Registered (entry, no thresholds) < Silver < Gold."""
    return {
        "registered": TierFactory(code="registered", name="Registered", rank=0),
        "silver": TierFactory(
            code="silver",
            name="Silver",
            rank=1,
            min_revenue=Decimal("1000000"),
            min_won_deals=2,
            min_certified_people=1,
            discount_pct=Decimal("10"),
        ),
        "gold": TierFactory(
            code="gold",
            name="Gold",
            rank=2,
            min_revenue=Decimal("5000000"),
            min_won_deals=5,
            min_certified_people=3,
            discount_pct=Decimal("20"),
        ),
    }


def won_deal(partner, user, amount, *, currency="RUB", closed_at=None, n=0) -> DealRegistration:
    """A registration brought straight to `won` (the deals services are tested elsewhere)."""
    deal = make_deal(user=user, partner=partner, customer=customer_data(name=f"Customer {n} {amount}"))
    closed_at = closed_at or timezone.now() - datetime.timedelta(days=10)
    DealRegistration.objects.filter(pk=deal.pk).update(
        status=DealStatus.WON,
        submitted_at=closed_at - datetime.timedelta(days=5),
        last_submitted_at=closed_at - datetime.timedelta(days=5),
        approved_at=closed_at - datetime.timedelta(days=4),
        protection_days=0,
        closed_at=closed_at,
        final_amount=Decimal(str(amount)),
        currency=currency,
    )
    deal.refresh_from_db()
    return deal


def won_deals(partner, user, count, amount, **kwargs) -> list[DealRegistration]:
    return [won_deal(partner, user, amount, n=i, **kwargs) for i in range(count)]


def sale(partner, amount, *, on=None, currency="RUB", kind=SalesKind.SELL_OUT, registration=None) -> SalesRecord:
    return SalesRecord.objects.create(
        partner=partner,
        kind=kind,
        occurred_on=on or timezone.localdate() - datetime.timedelta(days=5),
        amount=Decimal(str(amount)),
        currency=currency,
        registration=registration,
    )


def certify(partner, people=1, *, expires_on=None, earned_on=None) -> list[Certification]:
    earned_on = earned_on or timezone.localdate() - datetime.timedelta(days=30)
    return [
        Certification.objects.create(
            contact=ContactFactory(partner=partner),
            course="Firewall engineer",
            earned_on=earned_on,
            expires_on=expires_on,
        )
        for _ in range(people)
    ]


def rate(currency, value, valid_from=None):
    return ExchangeRate.objects.create(
        currency=currency, valid_from=valid_from or datetime.date(2000, 1, 1), rate=Decimal(str(value))
    )


def make_silver(partner, user):
    """Exactly Silver: 2 won deals of 500,000 and one certified person."""
    won_deals(partner, user, 2, "500000.00")
    certify(partner, 1)
