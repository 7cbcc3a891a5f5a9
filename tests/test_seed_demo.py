"""`manage.py seed_demo`: the demo log-ins work, the data covers the product, a second run adds nothing."""

import datetime
import re
import time
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from django.utils import timezone

from partners.demo import DEMO_PASSWORD
from partners.models import (
    Agreement,
    AgreementStatus,
    Contact,
    Interaction,
    Invitation,
    KeyAccountProfile,
    Partner,
    PartnerStatus,
    PartnerType,
    Region,
    Tier,
)
from prm.models import Role, User

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_ONLY = re.compile(r"^[A-Za-z0-9 .,&'’-]+$")
MODELS = (User, Tier, Partner, Contact, Agreement, Interaction, KeyAccountProfile, Invitation)


def _seed() -> str:
    out = StringIO()
    started = time.monotonic()
    call_command("seed_demo", "--allow-without-debug", stdout=out)
    print(f"seed_demo took {time.monotonic() - started:.2f} s")
    return out.getvalue()


@pytest.fixture
def seeded(db, monkeypatch):
    # The partners section only: tests/deals/test_demo.py covers the deals section, seeded once.
    monkeypatch.setattr("partners.management.commands.seed_demo.SEEDERS", ["partners.demo.seed"])
    return _seed()


def _counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def test_seed_demo_creates_the_six_logins(seeded):
    request = RequestFactory().post("/accounts/login/")
    expected = {
        "admin@demo.prm": (Role.ADMINISTRATOR, None),
        "manager@demo.prm": (Role.CHANNEL_MANAGER, None),
        "lead@demo.prm": (Role.CHANNEL_LEAD, None),
        "partner@demo.prm": (Role.PARTNER_ADMIN, "Northwind Systems"),
        "rep@demo.prm": (Role.PARTNER_REP, "Northwind Systems"),
        "partner2@demo.prm": (Role.PARTNER_ADMIN, "Baltic Trade House"),
    }
    for email, (role, partner_name) in expected.items():
        user = authenticate(request, username=email, password=DEMO_PASSWORD)
        assert user is not None, email
        assert user.role == role
        assert (user.partner.name if user.partner else None) == partner_name
    admin = User.objects.get(email="admin@demo.prm")
    assert admin.is_superuser and admin.is_staff
    lead = User.objects.get(email="lead@demo.prm")
    manager = User.objects.get(email="manager@demo.prm")
    assert manager.reports_to == lead
    assert User.objects.filter(role=Role.CHANNEL_MANAGER, reports_to=lead).count() >= 3
    # Cabinet users are people at their partner.
    for email in ("partner@demo.prm", "rep@demo.prm", "partner2@demo.prm"):
        user = User.objects.get(email=email)
        assert user.contact.partner_id == user.partner_id
    northwind = Partner.objects.get(name="Northwind Systems")
    baltic = Partner.objects.get(name="Baltic Trade House")
    assert northwind.owner == manager and baltic.owner == manager
    assert northwind.status == PartnerStatus.ACTIVE and northwind.tier.code == "gold"
    assert northwind.region == Region.EUROPE
    assert "Log-ins" in seeded and "partners" in seeded


def test_seed_demo_partners_cover_types_tiers_regions_and_statuses(seeded):
    assert 180 <= Partner.objects.count() <= 230
    assert set(Partner.objects.values_list("partner_type", flat=True)) == set(PartnerType.values)
    assert list(Tier.objects.order_by("rank").values_list("name", "rank", "protection_days", "mdf_eligible")) == [
        ("Registered", 0, 60, False),
        ("Silver", 1, 90, False),
        ("Gold", 2, 90, True),
        ("Platinum", 3, 120, True),
    ]
    for tier in Tier.objects.all():
        assert tier.partners.exists(), tier
    assert {Region.RUSSIA, Region.CIS, Region.EUROPE, Region.CHINA} <= set(
        Partner.objects.values_list("region", flat=True)
    )
    statuses = set(Partner.objects.values_list("status", flat=True))
    assert statuses == set(PartnerStatus.values)
    active = Partner.objects.filter(status=PartnerStatus.ACTIVE).count()
    assert active > Partner.objects.count() / 2
    assert Partner.objects.filter(is_dormant=True).exists()
    assert 8 <= KeyAccountProfile.objects.count() <= 12
    assert Partner.objects.filter(is_key_account=True).count() == KeyAccountProfile.objects.count()
    # Every partner has real coordinates and a city; most have contacts.
    assert not Partner.objects.filter(latitude__isnull=True).exists()
    assert Contact.objects.values("partner").distinct().count() == Partner.objects.count()


def test_seed_demo_names_are_in_cyrillic_latin_and_cjk(seeded):
    names = list(Partner.objects.values_list("name", flat=True))
    assert sum(bool(CYRILLIC.search(n)) for n in names) >= 50
    assert sum(bool(CJK.search(n)) for n in names) >= 20
    assert sum(bool(LATIN_ONLY.match(n)) for n in names) >= 20
    people = list(Contact.objects.values_list("full_name", flat=True))
    assert any(CYRILLIC.search(n) for n in people)
    assert any(CJK.search(n) for n in people)
    assert any(LATIN_ONLY.match(n) for n in people)


def test_seed_demo_tax_ids_have_the_right_formats(seeded):
    for country, tax_id in Partner.objects.exclude(tax_id="").values_list("country", "tax_id"):
        if country == "RU":
            assert re.fullmatch(r"\d{10}", tax_id)
            weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
            assert sum(int(d) * w for d, w in zip(tax_id, weights, strict=False)) % 11 % 10 == int(tax_id[-1])
        elif country == "CN":
            assert re.fullmatch(r"91\d{6}[0-9A-Z]{10}", tax_id)
        elif country in ("GB", "DE", "FR", "NL", "PL", "LV", "LT", "EE", "FI", "IT", "ES", "CZ", "AT"):
            assert tax_id.startswith(country), tax_id


def test_seed_demo_history_spans_a_year_with_reminders_to_show(seeded):
    today = timezone.localdate()
    first, last = (
        Interaction.objects.earliest("occurred_at").occurred_at,
        Interaction.objects.latest("occurred_at").occurred_at,
    )
    assert (last - first).days >= 330
    assert last <= timezone.now()
    assert Interaction.objects.count() >= 1000
    assert set(Interaction.objects.values_list("kind", flat=True)) >= {"call", "meeting", "email", "note"}
    open_steps = Interaction.objects.exclude(next_step="").filter(next_step_done_at__isnull=True)
    assert open_steps.filter(next_step_due__lt=today).exists()  # overdue
    assert open_steps.filter(next_step_due__range=(today, today + datetime.timedelta(days=6))).exists()
    renewals = Agreement.objects.filter(
        status=AgreementStatus.ACTIVE, ends_on__range=(today, today + datetime.timedelta(days=30))
    )
    assert renewals.count() >= 10
    assert Agreement.objects.filter(auto_renew=True).exists()
    assert Contact.objects.filter(is_decision_maker=True).exists()
    assert Contact.objects.filter(birthday__isnull=False).count() > Contact.objects.count() / 2


def test_seed_demo_second_run_adds_nothing(seeded):
    before = _counts()
    output = _seed()
    assert "already loaded" in output
    assert _counts() == before


def test_seed_demo_refuses_without_debug_unless_told(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()
