"""Factories for the deals app. Registrations are made through the services (so keys,
references and the lifecycle are real); these build the catalogue and the inputs."""

import datetime
from decimal import Decimal

import factory
import pytest
from django.core import mail
from django.utils import timezone

from deals import services
from deals.models import DirectAccount, Holiday, Product, ProductLine
from deals.normalize import normalize_name, registrable_domain
from prm.models import Notification


class ProductLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductLine
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"Line {n}")
    code = factory.Sequence(lambda n: f"line-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    line = factory.SubFactory(ProductLineFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")


class HolidayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holiday
        django_get_or_create = ("date",)

    name = "Holiday"


class DirectAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectAccount

    name = factory.Sequence(lambda n: f"Direct Customer {n}")
    normalized_name = factory.LazyAttribute(lambda o: normalize_name(o.name))
    website = ""
    domain = factory.LazyAttribute(lambda o: registrable_domain(o.website))
    tax_id = ""


def customer_data(**overrides) -> dict:
    data = {
        "name": "ООО «Ромашка»",
        "website": "https://www.romashka.ru",
        "email": "",
        "tax_id": "7707083893",
        "country": "RU",
        "city": "Moscow",
    }
    data.update(overrides)
    return data


def make_deal(*, user, partner=None, customer=None, products=(), value="1000000.00", submit=False, **extra):
    """A registration through deal_create (draft unless submit=True)."""
    return services.deal_create(
        user=user,
        partner=partner or user.partner,
        customer=customer if customer is not None else customer_data(),
        products=products,
        value=Decimal(str(value)),
        currency=extra.pop("currency", "RUB"),
        expected_close_date=extra.pop("expected_close_date", timezone.localdate() + datetime.timedelta(days=60)),
        submit=submit,
        **extra,
    )


# --- shared fixtures (import them into a test module to use them) --------------------------


@pytest.fixture
def products(db):
    line = ProductLineFactory(name="Firewalls", code="firewalls")
    return [ProductFactory(line=line, name=f"FW-{i}") for i in range(3)]


@pytest.fixture
def send_emails():
    """Run the e-mail task synchronously for every notification not e-mailed yet."""
    from prm.tasks import notification_email

    def _send():
        mail.outbox.clear()
        for pk in Notification.objects.filter(emailed_at__isnull=True).values_list("pk", flat=True):
            notification_email.run(pk)
        return list(mail.outbox)

    return _send


# --- leads --------------------------------------------------------------------------------


def lead_fields(**overrides) -> dict:
    data = {
        "customer_name": "Northwind Traders",
        "country": "RU",
        "region": "russia",
        "city": "Moscow",
        "contact_name": "Ivan Petrov",
        "contact_email": "ivan@northwind.example",
        "estimated_value": "250000",
        "currency": "RUB",
        "source": "web",
    }
    data.update(overrides)
    return data


def make_lead(*, actor=None, route=False, rng=None, **overrides):
    """A lead through lead_create (not routed unless route=True); `actor` None = system."""
    return services.lead_create(actor=actor, route=route, rng=rng, **lead_fields(**overrides))
