"""Staff partner pages: list, export, partner page and its actions, forms, next steps."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from partners import services
from partners.models import (
    Agreement,
    Contact,
    Interaction,
    KeyAccountProfile,
    Partner,
    PartnerStatus,
    PartnerType,
    Region,
)
from prm.models import AuditLog, Role
from tests.factories import (
    AgreementFactory,
    ContactFactory,
    InteractionFactory,
    PartnerFactory,
    PartnerUserFactory,
    StaffUserFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db


def _url(name, *args):
    return reverse(name, args=args)


def _is_login_redirect(response):
    return response.status_code == 302 and response.url.startswith(reverse("login"))


def _names(response):
    return {p.name for p in response.context["page_obj"].object_list}


def _messages(response):
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def records(partner_a, manager):
    """One of each record on partner A, for the access tests."""
    contact = ContactFactory(partner=partner_a, full_name="Anton Alpha")
    agreement = AgreementFactory(partner=partner_a, number="AG-A-1")
    interaction = InteractionFactory(
        partner=partner_a,
        author=manager,
        subject="Kick-off",
        next_step="Send the price list",
        next_step_due=timezone.localdate(),
    )
    return {"partner": partner_a, "contact": contact, "agreement": agreement, "interaction": interaction}


# (method, url name, which record's public_id the URL takes)
STAFF_URLS = [
    ("get", "staff:partner_list", None),
    ("get", "staff:partner_export", None),
    ("get", "staff:partner_create", None),
    ("get", "staff:next_steps", None),
    ("get", "staff:partner_detail", "partner"),
    ("get", "staff:partner_edit", "partner"),
    ("get", "staff:partner_kam", "partner"),
    ("get", "staff:contact_create", "partner"),
    ("get", "staff:agreement_create", "partner"),
    ("get", "staff:interaction_create", "partner"),
    ("get", "staff:contact_edit", "contact"),
    ("get", "staff:agreement_edit", "agreement"),
    ("post", "staff:partner_status", "partner"),
    ("post", "staff:partner_verify", "partner"),
    ("post", "staff:next_step_done", "interaction"),
]
# What a POST would change if access were not refused.
POST_DATA = {
    "staff:partner_status": {"status": "suspended", "reason": "test"},
    "staff:partner_verify": {"verified": "1"},
    "staff:next_step_done": {},
}


def _build_url(records, name, arg):
    return _url(name, records[arg].public_id) if arg else _url(name)


def _assert_untouched(records):
    partner = Partner.objects.get(pk=records["partner"].pk)
    assert partner.status == PartnerStatus.ACTIVE
    assert partner.verified is False
    assert Interaction.objects.get(pk=records["interaction"].pk).next_step_done_at is None


@pytest.mark.parametrize(("method", "name", "arg"), STAFF_URLS)
def test_staff_url_anonymous_redirects_to_login(client, records, method, name, arg):
    url = _build_url(records, name, arg)
    response = client.post(url, POST_DATA.get(name, {})) if method == "post" else client.get(url)
    assert _is_login_redirect(response)
    _assert_untouched(records)


@pytest.mark.parametrize("client_fixture", ["partner_admin_client", "other_partner_client"])
@pytest.mark.parametrize(("method", "name", "arg"), STAFF_URLS)
def test_staff_url_partner_user_gets_404(request, records, client_fixture, method, name, arg):
    client = request.getfixturevalue(client_fixture)
    url = _build_url(records, name, arg)
    response = client.post(url, POST_DATA.get(name, {})) if method == "post" else client.get(url)
    assert response.status_code == 404
    _assert_untouched(records)


@pytest.mark.parametrize(("method", "name", "arg"), [u for u in STAFF_URLS if u[2]])
def test_staff_url_unknown_public_id_gets_404(manager_client, records, method, name, arg):
    url = _url(name, "00000000-0000-4000-8000-000000000000")
    response = manager_client.post(url, POST_DATA.get(name, {})) if method == "post" else manager_client.get(url)
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "name", "arg"), [u for u in STAFF_URLS if u[0] == "get"])
def test_staff_get_pages_render_for_manager(manager_client, records, method, name, arg):
    response = manager_client.get(_build_url(records, name, arg))
    assert response.status_code == 200


def test_staff_home_is_the_dashboard_with_the_partner_list_in_the_nav(manager_client):
    # Issue 6 made staff:home the channel manager dashboard (it used to redirect to the list).
    response = manager_client.get(_url("staff:home"))
    assert response.status_code == 200
    assert f'href="{_url("staff:partner_list")}" data-testid="nav-partners"' in response.content.decode()


# --- Partner list -----------------------------------------------------------------------------


def test_partner_list_shows_partners_with_badges(manager_client, partner_a, partner_b):
    gold = TierFactory(code="gold", name="Gold")
    PartnerFactory(
        name="Gamma KAM", tier=gold, is_key_account=True, is_dormant=True, verified=True, verified_at=timezone.now()
    )
    response = manager_client.get(_url("staff:partner_list"))
    assert response.status_code == 200
    assert _names(response) == {"Alpha Systems", "Beta Trade", "Gamma KAM"}
    html = response.content.decode()
    for testid in ("tier-badge", "kam-badge", "dormant-badge", "verified-badge", "status-badge"):
        assert f'data-testid="{testid}"' in html


@pytest.fixture
def catalogue(manager, partner_a):
    """Partners that differ in one attribute each from partner A (active reseller, Russia, mine)."""
    gold = TierFactory(code="gold", name="Gold", rank=30)
    other_manager = StaffUserFactory(full_name="Olga Other")
    return {
        "gold": PartnerFactory(name="Gold One", tier=gold, owner=manager),
        "distributor": PartnerFactory(name="Dist Co", partner_type=PartnerType.DISTRIBUTOR, owner=manager),
        "suspended": PartnerFactory(name="Paused Ltd", status=PartnerStatus.SUSPENDED, owner=manager),
        "theirs": PartnerFactory(name="Their Partner", owner=other_manager),
        "nobody": PartnerFactory(name="Orphan Inc", owner=None),
        "europe": PartnerFactory(name="Euro GmbH", region=Region.EUROPE, country="DE", owner=manager),
        "dormant": PartnerFactory(name="Sleepy LLC", is_dormant=True, owner=manager),
        "kam": PartnerFactory(name="Big Key", is_key_account=True, owner=manager),
        "searchable": PartnerFactory(
            name="Zeta", legal_name="Zeta Findme Holding", website_domain="zeta.example", owner=manager
        ),
        "other_manager": other_manager,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tier": "gold"}, {"Gold One"}),
        ({"partner_type": "distributor"}, {"Dist Co"}),
        ({"status": "suspended"}, {"Paused Ltd"}),
        ({"owner": "none"}, {"Orphan Inc"}),
        ({"region": "europe"}, {"Euro GmbH"}),
        ({"dormant": "yes"}, {"Sleepy LLC"}),
        ({"key_account": "yes"}, {"Big Key"}),
        ({"q": "findme"}, {"Zeta"}),
        ({"q": "zeta.example"}, {"Zeta"}),
        ({"tier": "gold", "status": "suspended"}, set()),
    ],
)
def test_partner_list_filters_include_only_matching(manager_client, catalogue, params, expected):
    response = manager_client.get(_url("staff:partner_list"), params)
    assert response.status_code == 200
    assert _names(response) == expected


def test_partner_list_filter_mine_excludes_other_managers_partners(manager_client, catalogue):
    names = _names(manager_client.get(_url("staff:partner_list"), {"owner": "me"}))
    assert "Alpha Systems" in names and "Gold One" in names
    assert "Their Partner" not in names and "Orphan Inc" not in names


def test_partner_list_filter_by_manager_public_id(manager_client, catalogue):
    owner = catalogue["other_manager"].public_id
    assert _names(manager_client.get(_url("staff:partner_list"), {"owner": owner})) == {"Their Partner"}


def test_partner_list_filter_dormant_no_and_tier_none(manager_client, catalogue):
    not_dormant = _names(manager_client.get(_url("staff:partner_list"), {"dormant": "no"}))
    assert "Sleepy LLC" not in not_dormant and "Alpha Systems" in not_dormant
    no_tier = _names(manager_client.get(_url("staff:partner_list"), {"tier": "none"}))
    assert "Gold One" not in no_tier and "Alpha Systems" in no_tier


def test_partner_list_invalid_filter_value_is_ignored_not_an_error(manager_client, catalogue):
    response = manager_client.get(_url("staff:partner_list"), {"tier": "no-such-tier", "status": "suspended"})
    assert response.status_code == 200
    assert _names(response) == {"Paused Ltd"}


def test_partner_list_sorts_by_name_desc_and_tier(manager_client, partner_a, partner_b):
    low = TierFactory(code="silver", name="Silver", rank=20)
    high = TierFactory(code="platinum", name="Platinum", rank=40)
    PartnerFactory(name="Mid", tier=low)
    PartnerFactory(name="Top", tier=high)
    by_name = manager_client.get(_url("staff:partner_list"), {"sort": "-name"})
    assert [p.name for p in by_name.context["page_obj"]] == ["Top", "Mid", "Beta Trade", "Alpha Systems"]
    by_tier = manager_client.get(_url("staff:partner_list"), {"sort": "-tier"})
    assert [p.name for p in by_tier.context["page_obj"]][:2] == ["Top", "Mid"]


def test_partner_list_sorts_by_last_activity_latest_first(manager_client):
    now = timezone.now()
    PartnerFactory(name="Old", last_activity_at=now - timedelta(days=30))
    PartnerFactory(name="Never", last_activity_at=None)
    PartnerFactory(name="Fresh", last_activity_at=now)
    response = manager_client.get(_url("staff:partner_list"), {"sort": "-last_activity"})
    assert [p.name for p in response.context["page_obj"]] == ["Fresh", "Old", "Never"]


def test_partner_list_paginates_at_50(manager_client, manager):
    PartnerFactory.create_batch(53, owner=manager)
    first = manager_client.get(_url("staff:partner_list"))
    second = manager_client.get(_url("staff:partner_list"), {"page": 2})
    assert len(first.context["page_obj"].object_list) == 50
    assert len(second.context["page_obj"].object_list) == 3


def _query_count(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def _make_listed_partners(n):
    for i in range(n):
        # A distinct tier and owner per row: an N+1 on either would show.
        PartnerFactory(name=f"Row {i:02d}", tier=TierFactory(), owner=StaffUserFactory())


def test_partner_list_query_count_does_not_grow_with_rows(manager_client, django_assert_max_num_queries):
    _make_listed_partners(3)
    small, response = _query_count(manager_client, _url("staff:partner_list"))
    assert len(response.context["page_obj"].object_list) == 3
    _make_listed_partners(12)
    with django_assert_max_num_queries(small):
        response = manager_client.get(_url("staff:partner_list"))
    assert len(response.context["page_obj"].object_list) == 15


# --- CSV export -------------------------------------------------------------------------------


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())  # BOM, so Excel reads UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_partner_export_streams_all_matching_rows_with_bom(manager_client, manager):
    PartnerFactory.create_batch(55, owner=manager, partner_type=PartnerType.DISTRIBUTOR)
    PartnerFactory(name="Ромашка", legal_name="ООО «Ромашка»", partner_type=PartnerType.DISTRIBUTOR)
    response = manager_client.get(_url("staff:partner_export"))
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0][:3] == ["Public id", "Name", "Legal name"]
    assert len(rows) == 1 + 56  # every row, not one page
    assert any(r[1] == "Ромашка" and r[2] == "ООО «Ромашка»" for r in rows[1:])


def test_partner_export_applies_list_filters(manager_client, catalogue):
    rows = _csv(manager_client.get(_url("staff:partner_export"), {"status": "suspended"}))
    assert [r[1] for r in rows[1:]] == ["Paused Ltd"]
    rows = _csv(manager_client.get(_url("staff:partner_export"), {"owner": "me", "key_account": "yes"}))
    assert [r[1] for r in rows[1:]] == ["Big Key"]


def test_partner_export_neutralises_formula_cells(manager_client):
    PartnerFactory(name="=HYPERLINK(1)", legal_name="+evil")
    rows = _csv(manager_client.get(_url("staff:partner_export"), {"q": "HYPERLINK"}))
    assert rows[1][1] == "'=HYPERLINK(1)"
    assert rows[1][2] == "'+evil"


def test_partner_list_links_export_with_current_filters(manager_client, partner_a):
    response = manager_client.get(_url("staff:partner_list"), {"status": "active"})
    assert f'href="{_url("staff:partner_export")}?status=active"' in response.content.decode()


# --- Partner page -----------------------------------------------------------------------------


def test_partner_detail_shows_profile_people_agreements_timeline_and_audit(manager_client, partner_a, partner_admin):
    contact = ContactFactory(partner=partner_a, full_name="Carl Contact", user=partner_admin)
    AgreementFactory(partner=partner_a, number="AG-777", partner_responsible=contact)
    InteractionFactory(partner=partner_a, subject="Quarterly review", next_step="Call back", contact=contact)
    services.partner_set_verified(actor=partner_a.owner, partner=partner_a, verified=True, reason="Trial passed")
    response = manager_client.get(_url("staff:partner_detail", partner_a.public_id))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Alpha Systems LLC" in html
    assert "Carl Contact" in html and 'data-testid="cabinet-user-badge"' in html
    assert "AG-777" in html
    assert "Quarterly review" in html and "Call back" in html
    assert "partner.set_verified" in html and "Trial passed" in html
    assert 'data-testid="kam-section"' not in html  # not a key account


def test_partner_detail_shows_only_allowed_transition_buttons(manager_client, partner_a):
    html = manager_client.get(_url("staff:partner_detail", partner_a.public_id)).content.decode()
    assert set(partner_a.allowed_transitions()) == {"suspended", "terminated"}
    assert 'data-testid="transition-suspended"' in html
    assert 'data-testid="transition-terminated"' in html
    assert 'data-testid="transition-onboarding"' not in html
    assert 'data-testid="transition-prospect"' not in html


def test_partner_detail_shows_kam_profile_for_key_account(manager_client, manager):
    partner = services.partner_create(
        actor=manager,
        name="Key Corp",
        legal_name="Key Corp JSC",
        partner_type=PartnerType.SYSTEM_INTEGRATOR,
        country="RU",
        region=Region.RUSSIA,
        is_key_account=True,
        kam={"senior_sponsor": "Ivan Sponsor"},
    )
    html = manager_client.get(_url("staff:partner_detail", partner.public_id)).content.decode()
    assert 'data-testid="kam-section"' in html
    assert "Ivan Sponsor" in html


def _fill_partner_page(partner, n):
    for _i in range(n):
        user = PartnerUserFactory(partner=partner, role=Role.PARTNER_REP)
        contact = ContactFactory(partner=partner, user=user)
        AgreementFactory(partner=partner, vendor_responsible=StaffUserFactory(), partner_responsible=contact)
        InteractionFactory(partner=partner, author=StaffUserFactory(), contact=contact, next_step="Follow up")
        AuditLog.objects.create(
            actor=StaffUserFactory(), action="test.event", object_type="x", object_id="1", partner_id=partner.pk
        )


def test_partner_detail_query_count_does_not_grow_with_rows(manager_client, partner_a, django_assert_max_num_queries):
    _fill_partner_page(partner_a, 3)
    url = _url("staff:partner_detail", partner_a.public_id)
    small, _response = _query_count(manager_client, url)
    _fill_partner_page(partner_a, 12)
    with django_assert_max_num_queries(small):
        response = manager_client.get(url)
    assert response.content.decode().count('data-testid="interaction-item"') == 15
    assert response.content.decode().count('data-testid="agreement-row"') == 15


# --- Status, verification, tier ---------------------------------------------------------------


def test_partner_status_allowed_transition_with_reason_changes_status(manager_client, partner_a):
    response = manager_client.post(
        _url("staff:partner_status", partner_a.public_id),
        {"status": "suspended", "reason": "Unpaid invoices"},
        follow=True,
    )
    partner_a.refresh_from_db()
    assert partner_a.status == PartnerStatus.SUSPENDED
    assert AuditLog.objects.filter(action="partner.change_status", reason="Unpaid invoices").exists()
    assert any("Suspended" in m for m in _messages(response))


def test_partner_status_illegal_transition_shows_error_and_changes_nothing(manager_client, partner_a):
    response = manager_client.post(
        _url("staff:partner_status", partner_a.public_id), {"status": "onboarding", "reason": "x"}, follow=True
    )
    assert response.status_code == 200
    partner_a.refresh_from_db()
    assert partner_a.status == PartnerStatus.ACTIVE
    assert any("cannot go from" in m for m in _messages(response))
    assert not AuditLog.objects.filter(action="partner.change_status").exists()


def test_partner_status_suspend_without_reason_is_refused(manager_client, partner_a):
    response = manager_client.post(
        _url("staff:partner_status", partner_a.public_id), {"status": "suspended", "reason": "  "}, follow=True
    )
    partner_a.refresh_from_db()
    assert partner_a.status == PartnerStatus.ACTIVE
    assert "Give a reason." in _messages(response)


def test_partner_status_unknown_value_is_refused_without_500(manager_client, partner_a):
    response = manager_client.post(_url("staff:partner_status", partner_a.public_id), {"status": "bogus"}, follow=True)
    assert response.status_code == 200
    partner_a.refresh_from_db()
    assert partner_a.status == PartnerStatus.ACTIVE
    assert _messages(response)


def test_partner_verify_toggle_sets_and_clears(manager_client, partner_a):
    url = _url("staff:partner_verify", partner_a.public_id)
    manager_client.post(url, {"verified": "1", "reason": "Trial project done"})
    partner_a.refresh_from_db()
    assert partner_a.verified and partner_a.verified_at
    manager_client.post(url, {"verified": "0"})
    partner_a.refresh_from_db()
    assert not partner_a.verified and partner_a.verified_at is None


# --- Create and edit partner ------------------------------------------------------------------


def _partner_post(**over):
    data = {
        "name": "Nord Wind",
        "legal_name": "Nord Wind LLC",
        "partner_type": "reseller",
        "status": "prospect",
        "owner": "",
        "country": " ru ",
        "region": "russia",
        "city": "Kazan",
        "website_domain": "https://WWW.NordWind.ru/about?x=1",
        "tax_id": " 7701 234-567 ",
        "industries": "banking, retail, banking",
        "email": "Info@NordWind.RU",
    }
    data.update(over)
    return data


def test_partner_create_normalises_and_redirects_to_partner_page(manager_client, manager):
    response = manager_client.post(_url("staff:partner_create"), _partner_post(owner=manager.pk))
    partner = Partner.objects.get(name="Nord Wind")
    assert response.status_code == 302
    assert response.url == _url("staff:partner_detail", partner.public_id)
    assert partner.country == "RU"
    assert partner.website_domain == "nordwind.ru"
    assert partner.tax_id == "7701234567"
    assert partner.industries == ["banking", "retail"]
    assert partner.email == "info@nordwind.ru"
    assert partner.owner == manager
    assert partner.status == PartnerStatus.PROSPECT


def test_partner_create_form_defaults_owner_to_current_manager(manager_client, manager):
    response = manager_client.get(_url("staff:partner_create"))
    assert response.context["form"]["owner"].value() == manager.pk


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country", "Russia", "two-letter country code"),
        ("country", "R1", "two-letter country code"),
        ("website_domain", "not a domain", "Enter a domain"),
        ("name", "", "This field is required"),
        ("partner_type", "pirate", "Select a valid choice"),
        ("status", "terminated", "Select a valid choice"),
    ],
)
def test_partner_create_bad_input_shows_error_and_writes_nothing(manager_client, field, value, message):
    response = manager_client.post(_url("staff:partner_create"), _partner_post(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert field in response.context["form"].errors
    assert not Partner.objects.exists()
    assert not AuditLog.objects.exists()


def test_partner_create_duplicate_tax_id_shows_error_not_500(manager_client, partner_a):
    Partner.objects.filter(pk=partner_a.pk).update(tax_id="7701234567")
    response = manager_client.post(_url("staff:partner_create"), _partner_post())
    assert response.status_code == 200
    assert response.context["form"].errors
    assert Partner.objects.count() == 1


def test_partner_create_by_partner_admin_is_404_and_writes_nothing(partner_admin_client, partner_a):
    response = partner_admin_client.post(_url("staff:partner_create"), _partner_post())
    assert response.status_code == 404
    assert not Partner.objects.filter(name="Nord Wind").exists()


def test_partner_edit_prefills_and_saves_changes(manager_client, partner_a, lead):
    url = _url("staff:partner_edit", partner_a.public_id)
    form = manager_client.get(url).context["form"]
    assert form["name"].value() == "Alpha Systems"
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(owner=lead.pk, city="Novosibirsk", website_domain="http://alpha.example/", is_key_account="on")
    data.pop("latitude", None)
    data.pop("longitude", None)
    response = manager_client.post(url, data)
    assert response.status_code == 302
    partner_a.refresh_from_db()
    assert partner_a.city == "Novosibirsk"
    assert partner_a.owner == lead
    assert partner_a.website_domain == "alpha.example"
    assert KeyAccountProfile.objects.filter(partner=partner_a).exists()


def test_partner_edit_bad_input_shows_error_and_changes_nothing(manager_client, partner_a):
    url = _url("staff:partner_edit", partner_a.public_id)
    data = _partner_post(name="Renamed", latitude="55.75")  # latitude without longitude
    response = manager_client.post(url, data)
    assert response.status_code == 200
    assert "Give both latitude and longitude" in response.content.decode()
    partner_a.refresh_from_db()
    assert partner_a.name == "Alpha Systems"
    assert not AuditLog.objects.filter(action="partner.update").exists()


def test_kam_profile_edit_saves_and_rejects_negative_volume(manager_client, partner_a):
    url = _url("staff:partner_kam", partner_a.public_id)
    base = {"currency": "RUB", "opportunity_1y": "1000", "opportunity_3y": "5000", "opportunity_5y": "9000"}
    bad = manager_client.post(url, {**base, "opportunity_1y": "-1"})
    assert bad.status_code == 200
    assert "opportunity_1y" in bad.context["form"].errors
    assert not KeyAccountProfile.objects.filter(partner=partner_a).exists()
    good = manager_client.post(url, {**base, "senior_sponsor": "CEO Petrov"})
    assert good.status_code == 302
    assert partner_a.kam_profile.senior_sponsor == "CEO Petrov"


# --- Contacts and agreements ------------------------------------------------------------------


def test_contact_create_and_edit(manager_client, partner_a):
    response = manager_client.post(
        _url("staff:contact_create", partner_a.public_id),
        {"full_name": "  Dina   Decider ", "role": "executive", "email": "Dina@Alpha.test", "is_decision_maker": "on"},
    )
    assert response.status_code == 302
    contact = Contact.objects.get(partner=partner_a, full_name="Dina Decider")
    assert contact.email == "dina@alpha.test" and contact.is_decision_maker
    response = manager_client.post(
        _url("staff:contact_edit", contact.public_id),
        {"full_name": "Dina Decider", "role": "finance", "email": "dina@alpha.test", "birthday": "1980-05-17"},
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.role == "finance"
    assert contact.birthday.isoformat() == "1980-05-17"


def test_contact_create_bad_email_shows_error_and_writes_nothing(manager_client, partner_a):
    response = manager_client.post(
        _url("staff:contact_create", partner_a.public_id), {"full_name": "X", "role": "other", "email": "not-an-email"}
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not Contact.objects.exists()


def test_contact_create_duplicate_email_shows_error_not_500(manager_client, partner_a):
    ContactFactory(partner=partner_a, email="same@alpha.test")
    response = manager_client.post(
        _url("staff:contact_create", partner_a.public_id),
        {"full_name": "Dup", "role": "other", "email": "same@alpha.test"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert Contact.objects.filter(partner=partner_a).count() == 1


def _agreement_post(**over):
    data = {
        "number": "AG-2026-01",
        "status": "active",
        "commission_pct": "7.5",
        "discount_pct": "12",
        "payment_terms_days": "30",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "signed_on": "2025-12-20",
        "auto_renew": "on",
    }
    data.update(over)
    return data


def test_agreement_create_and_edit(manager_client, partner_a, manager):
    contact = ContactFactory(partner=partner_a)
    response = manager_client.post(
        _url("staff:agreement_create", partner_a.public_id),
        _agreement_post(vendor_responsible=manager.pk, partner_responsible=contact.pk),
    )
    assert response.status_code == 302
    agreement = Agreement.objects.get(partner=partner_a, number="AG-2026-01")
    assert str(agreement.commission_pct) == "7.50" and agreement.auto_renew
    assert agreement.partner_responsible == contact
    response = manager_client.post(
        _url("staff:agreement_edit", agreement.public_id), _agreement_post(commission_pct="9", auto_renew="")
    )
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert str(agreement.commission_pct) == "9.00" and not agreement.auto_renew


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"ends_on": "2025-06-01"}, "ends_on"),
        ({"commission_pct": "150"}, "commission_pct"),
        ({"signed_on": ""}, "signed_on"),  # active needs a signing date
    ],
)
def test_agreement_create_bad_input_shows_error_and_writes_nothing(manager_client, partner_a, over, field):
    response = manager_client.post(_url("staff:agreement_create", partner_a.public_id), _agreement_post(**over))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Agreement.objects.exists()


def test_agreement_create_with_other_partners_contact_is_rejected(manager_client, partner_a, partner_b):
    foreign = ContactFactory(partner=partner_b)
    response = manager_client.post(
        _url("staff:agreement_create", partner_a.public_id), _agreement_post(partner_responsible=foreign.pk)
    )
    assert response.status_code == 200
    assert "Choose a contact of this partner." in response.content.decode()
    assert not Agreement.objects.exists()


# --- Interactions and next steps --------------------------------------------------------------


def _interaction_post(**over):
    data = {"kind": "meeting", "occurred_at": "2026-03-02T10:30", "subject": " Pipeline review ", "body": "Went well"}
    data.update(over)
    return data


def test_interaction_create_form_defaults_to_now_and_lists_only_this_partners_contacts(
    manager_client, partner_a, partner_b
):
    mine = ContactFactory(partner=partner_a)
    foreign = ContactFactory(partner=partner_b)
    form = manager_client.get(_url("staff:interaction_create", partner_a.public_id)).context["form"]
    assert list(form.fields["contact"].queryset) == [mine]
    assert foreign not in form.fields["contact"].queryset
    assert abs((form.initial["occurred_at"] - timezone.now()).total_seconds()) < 120


def test_interaction_create_logs_with_next_step(manager_client, partner_a, manager):
    contact = ContactFactory(partner=partner_a)
    due = timezone.localdate() + timedelta(days=3)
    response = manager_client.post(
        _url("staff:interaction_create", partner_a.public_id),
        _interaction_post(contact=contact.pk, next_step="Send quote", next_step_due=due.isoformat()),
    )
    assert response.status_code == 302
    interaction = Interaction.objects.get(partner=partner_a)
    assert interaction.subject == "Pipeline review"
    assert interaction.author == manager and interaction.contact == contact
    assert interaction.next_step == "Send quote" and interaction.next_step_due == due


def test_interaction_create_due_date_without_step_is_refused(manager_client, partner_a):
    response = manager_client.post(
        _url("staff:interaction_create", partner_a.public_id),
        _interaction_post(next_step="  ", next_step_due="2026-04-01"),
    )
    assert response.status_code == 200
    assert "A due date needs a next step" in response.content.decode()
    assert not Interaction.objects.exists()


def test_interaction_create_with_other_partners_contact_is_rejected(manager_client, partner_a, partner_b):
    foreign = ContactFactory(partner=partner_b)
    response = manager_client.post(
        _url("staff:interaction_create", partner_a.public_id), _interaction_post(contact=foreign.pk)
    )
    assert response.status_code == 200
    assert "Choose a contact of this partner." in response.content.decode()
    assert not Interaction.objects.exists()


def test_next_step_done_marks_step_and_redirects_to_next(manager_client, records):
    interaction = records["interaction"]
    response = manager_client.post(_url("staff:next_step_done", interaction.public_id), {"next": "/staff/next-steps/"})
    assert response.status_code == 302
    assert response.url == "/staff/next-steps/"
    interaction.refresh_from_db()
    assert interaction.next_step_done_at is not None


def test_next_step_done_ignores_offsite_next(manager_client, records):
    interaction = records["interaction"]
    response = manager_client.post(
        _url("staff:next_step_done", interaction.public_id), {"next": "https://evil.example/"}
    )
    assert response.url.startswith(_url("staff:partner_detail", records["partner"].public_id))


def test_next_step_done_htmx_returns_swapped_fragment(manager_client, records):
    interaction = records["interaction"]
    response = manager_client.post(_url("staff:next_step_done", interaction.public_id), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="step-{interaction.public_id}"' in html
    assert 'data-testid="next-step-done-badge"' in html
    assert "<html" not in html


def test_next_step_done_without_step_shows_error_not_500(manager_client, partner_a):
    interaction = InteractionFactory(partner=partner_a, next_step="")
    response = manager_client.post(_url("staff:next_step_done", interaction.public_id), follow=True)
    assert response.status_code == 200
    assert "This interaction has no next step." in _messages(response)


def test_next_steps_page_groups_open_steps_of_current_user(manager_client, manager, partner_a):
    today = timezone.localdate()
    InteractionFactory(
        partner=partner_a, author=manager, next_step="Overdue step", next_step_due=today - timedelta(days=2)
    )
    InteractionFactory(partner=partner_a, author=manager, next_step="Today step", next_step_due=today)
    InteractionFactory(
        partner=partner_a, author=manager, next_step="Later step", next_step_due=today + timedelta(days=5)
    )
    InteractionFactory(partner=partner_a, author=manager, next_step="Undated step")
    InteractionFactory(partner=partner_a, author=manager, next_step="Finished", next_step_done_at=timezone.now())
    someone = StaffUserFactory()
    InteractionFactory(partner=PartnerFactory(owner=someone), author=someone, next_step="Not mine")
    response = manager_client.get(_url("staff:next_steps"))
    groups = response.context["groups"]
    assert [s.next_step for s in groups["overdue"]["items"]] == ["Overdue step"]
    assert [s.next_step for s in groups["today"]["items"]] == ["Today step"]
    assert [s.next_step for s in groups["upcoming"]["items"]] == ["Later step"]
    assert [s.next_step for s in groups["undated"]["items"]] == ["Undated step"]
    html = response.content.decode()
    assert "Finished" not in html and "Not mine" not in html
    assert html.count('data-testid="next-step-done-button"') == 4


def _make_steps(user, n):
    for i in range(n):
        partner = PartnerFactory(owner=StaffUserFactory())
        InteractionFactory(
            partner=partner,
            author=user,
            contact=ContactFactory(partner=partner),
            next_step=f"Step {i}",
            next_step_due=timezone.localdate() + timedelta(days=i - 5),
        )


def test_next_steps_query_count_does_not_grow_with_rows(manager_client, manager, django_assert_max_num_queries):
    _make_steps(manager, 3)
    small, _response = _query_count(manager_client, _url("staff:next_steps"))
    _make_steps(manager, 12)
    with django_assert_max_num_queries(small):
        response = manager_client.get(_url("staff:next_steps"))
    assert response.context["total"] == 15
