"""factory-boy factories shared by every test module. Per-app factories may live beside tests."""

import datetime

import factory
from django.utils import timezone

from partners.models import (
    Agreement,
    AgreementStatus,
    Contact,
    Interaction,
    InteractionKind,
    Partner,
    PartnerStatus,
    PartnerType,
    Region,
    Tier,
)
from prm.models import Role, User

DEFAULT_PASSWORD = "correct-horse-battery-9"


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"Tier {n}")
    code = factory.Sequence(lambda n: f"tier-{n}")
    rank = factory.Sequence(lambda n: n + 10)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    role = Role.CHANNEL_MANAGER
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffUserFactory(UserFactory):
    role = Role.CHANNEL_MANAGER


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} LLC")
    partner_type = PartnerType.RESELLER
    status = PartnerStatus.ACTIVE
    country = "RU"
    region = Region.RUSSIA
    city = "Moscow"
    owner = factory.SubFactory(StaffUserFactory)


class PartnerUserFactory(UserFactory):
    role = Role.PARTNER_ADMIN
    partner = factory.SubFactory(PartnerFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    partner = factory.SubFactory(PartnerFactory)
    full_name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"contact{n}@partner.test")
    job_title = "Sales director"


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agreement

    partner = factory.SubFactory(PartnerFactory)
    number = factory.Sequence(lambda n: f"AG-{n:05d}")
    status = AgreementStatus.ACTIVE
    commission_pct = 5
    discount_pct = 10
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=100))
    ends_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=265))
    signed_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=101))


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    partner = factory.SubFactory(PartnerFactory)
    author = factory.SubFactory(StaffUserFactory)
    kind = InteractionKind.CALL
    occurred_at = factory.LazyFunction(timezone.now)
    subject = "Quarterly call"
