"""The partners REST API under /api/v1/: every endpoint with its happy path, an anonymous
request, partner B's user (404 for partner A's objects), refused input and constant-query lists."""

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.models import (
    Agreement,
    AgreementStatus,
    Contact,
    Interaction,
    Invitation,
    Partner,
    PartnerStatus,
)
from prm.models import AuditLog, Role
from tests.factories import (
    AgreementFactory,
    ContactFactory,
    InteractionFactory,
    PartnerFactory,
    PartnerUserFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/"


def url(*parts) -> str:
    return API + "".join(f"{p}/" for p in parts)


def assert_error(response, http_status: int, code: str | None = None) -> dict:
    assert response.status_code == http_status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def ids(response) -> set[str]:
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def as_user(api_client):
    def login(user):
        api_client.force_authenticate(user)
        return api_client

    return login


def list_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def assert_constant_queries(client, path: str, make_rows, expected_rows=None):
    """Same number of queries for 3 rows and for 15 rows."""
    make_rows(3)
    small = list_queries(client, path)
    make_rows(12)
    response = client.get(path)
    if expected_rows is not None:
        assert response.json()["count"] == expected_rows
    assert list_queries(client, path) == small


# --- Partners ---------------------------------------------------------------------------------


def test_partner_list_staff_sees_every_partner(as_user, manager, partner_a, partner_b):
    response = as_user(manager).get(url("partners"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert ids(response) == {str(partner_a.public_id), str(partner_b.public_id)}
    row = next(r for r in body["results"] if r["id"] == str(partner_a.public_id))
    assert row["owner"] == {"id": str(manager.public_id), "full_name": manager.full_name}
    assert "pk" not in row and not any(isinstance(v, int) and k == "id" for k, v in row.items())


def test_partner_list_anonymous_gets_401_error(api_client, partner_a):
    response = api_client.get(url("partners"))
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_partner_list_partner_user_sees_only_own_company(as_user, partner_rep, partner_a, partner_b):
    response = as_user(partner_rep).get(url("partners"))
    assert response.status_code == 200
    assert ids(response) == {str(partner_a.public_id)}


def test_partner_retrieve_other_partners_user_gets_404(as_user, other_partner_user, partner_a):
    response = as_user(other_partner_user).get(url("partners", partner_a.public_id))
    assert_error(response, 404, "not_found")


def test_partner_retrieve_partner_user_sees_own_company(as_user, partner_rep, partner_a):
    response = as_user(partner_rep).get(url("partners", partner_a.public_id))
    assert response.status_code == 200
    assert response.json()["name"] == "Alpha Systems"


def test_partner_retrieve_malformed_id_gets_404(as_user, manager):
    assert_error(as_user(manager).get(url("partners", "not-a-uuid")), 404)


def test_partner_list_filters_narrow_the_rows(as_user, manager, lead, partner_a, partner_b):
    gold = TierFactory(code="gold", name="Gold", rank=30)
    mine = PartnerFactory(
        name="Gamma Key", owner=manager, tier=gold, is_key_account=True, country="KZ", status=PartnerStatus.SUSPENDED
    )
    other = PartnerFactory(name="Delta Dormant", owner=lead, is_dormant=True, partner_type="distributor")
    client = as_user(manager)

    def found(**params):
        response = client.get(url("partners"), params)
        assert response.status_code == 200, response.content
        return ids(response)

    assert found(tier="gold") == {str(mine.public_id)}
    assert found(is_key_account="true") == {str(mine.public_id)}
    assert found(country="kz") == {str(mine.public_id)}
    assert found(status="suspended") == {str(mine.public_id)}
    assert found(is_dormant="true") == {str(other.public_id)}
    assert found(partner_type="distributor") == {str(other.public_id)}
    assert found(owner=str(lead.public_id)) == {str(other.public_id)}
    assert str(other.public_id) not in found(owner="me")
    assert found(q="alpha") == {str(partner_a.public_id)}
    assert found(region="russia", q="beta") == {str(partner_b.public_id)}


def test_partner_list_bad_filter_value_gets_400_with_fields(as_user, manager):
    error = assert_error(as_user(manager).get(url("partners"), {"owner": "somebody", "status": "sleepy"}), 400)
    assert set(error["fields"]) == {"owner", "status"}


def test_partner_list_orders_by_requested_field(as_user, manager, partner_a, partner_b):
    client = as_user(manager)
    names = [r["name"] for r in client.get(url("partners"), {"ordering": "-name"}).json()["results"]]
    assert names == ["Beta Trade", "Alpha Systems"]
    names = [r["name"] for r in client.get(url("partners"), {"ordering": "created_at"}).json()["results"]]
    assert names == ["Alpha Systems", "Beta Trade"]


def test_partner_list_is_paginated(as_user, manager):
    PartnerFactory.create_batch(55, owner=manager)
    body = as_user(manager).get(url("partners")).json()
    assert body["count"] == 55
    assert len(body["results"]) == 50
    assert body["next"]


def test_partner_list_query_count_is_constant(as_user, manager):
    tier = TierFactory(code="silver", name="Silver", rank=20)
    recruiter = PartnerFactory(owner=manager)
    client = as_user(manager)
    assert_constant_queries(
        client,
        url("partners"),
        lambda n: PartnerFactory.create_batch(n, tier=tier, recruited_by=recruiter),
        expected_rows=16,
    )


def test_partner_create_staff_creates_with_owner_and_tier(as_user, manager, lead):
    TierFactory(code="gold", name="Gold", rank=30)
    payload = {
        "name": "Omega",
        "legal_name": "Omega LLC",
        "partner_type": "msp",
        "country": "de",
        "region": "europe",
        "website_domain": "https://www.Omega.example/about",
        "owner": str(lead.public_id),
        "tier": "gold",
        "status": "onboarding",
        "industries": ["retail"],
    }
    response = as_user(manager).post(url("partners"), payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    partner = Partner.objects.get(public_id=body["id"])
    assert (partner.owner, partner.tier.code, partner.status) == (lead, "gold", "onboarding")
    assert partner.country == "DE" and partner.website_domain == "omega.example"
    assert body["tier"] == {"code": "gold", "name": "Gold"}
    assert AuditLog.objects.filter(action="partner.create", partner_id=partner.pk).exists()


def test_partner_create_bad_input_gets_400_and_writes_nothing(as_user, manager):
    payload = {"name": "", "partner_type": "pirate", "country": "Germany", "region": "europe", "owner": "nobody"}
    error = assert_error(as_user(manager).post(url("partners"), payload, format="json"), 400, "invalid")
    assert {"name", "legal_name", "partner_type", "country", "owner"} <= set(error["fields"])
    assert not Partner.objects.exists()


def test_partner_create_unknown_owner_or_tier_gets_400(as_user, manager):
    payload = {
        "name": "Omega",
        "legal_name": "Omega LLC",
        "partner_type": "msp",
        "country": "DE",
        "region": "europe",
        "owner": str(uuid.uuid4()),
        "tier": "diamond",
    }
    error = assert_error(as_user(manager).post(url("partners"), payload, format="json"), 400)
    assert set(error["fields"]) == {"owner", "tier"}
    assert not Partner.objects.exists()


def test_partner_create_partner_user_gets_403(as_user, partner_admin):
    payload = {"name": "X", "legal_name": "X", "partner_type": "msp", "country": "DE", "region": "europe"}
    assert_error(as_user(partner_admin).post(url("partners"), payload, format="json"), 403)
    assert Partner.objects.count() == 1


def test_partner_update_staff_changes_profile(as_user, manager, lead, partner_a):
    payload = {"city": "Kazan", "owner": str(lead.public_id), "is_key_account": True, "reason": "handover"}
    response = as_user(manager).patch(url("partners", partner_a.public_id), payload, format="json")
    assert response.status_code == 200, response.content
    partner_a.refresh_from_db()
    assert (partner_a.city, partner_a.owner, partner_a.is_key_account) == ("Kazan", lead, True)
    assert response.json()["owner"]["id"] == str(lead.public_id)
    assert AuditLog.objects.get(action="partner.update").reason == "handover"


def test_partner_update_staff_put_replaces_profile(as_user, manager, partner_a):
    payload = {"name": "Alpha 2", "legal_name": "Alpha 2 LLC", "partner_type": "agency", "country": "RU"}
    payload["region"] = "russia"
    response = as_user(manager).put(url("partners", partner_a.public_id), payload, format="json")
    assert response.status_code == 200, response.content
    partner_a.refresh_from_db()
    assert (partner_a.name, partner_a.partner_type) == ("Alpha 2", "agency")


def test_partner_update_staff_status_field_gets_400_and_changes_nothing(as_user, manager, partner_a):
    payload = {"status": "terminated", "city": "Kazan"}
    error = assert_error(as_user(manager).patch(url("partners", partner_a.public_id), payload, format="json"), 400)
    assert "status" in error["message"] and set(error["fields"]) == {"status"}
    partner_a.refresh_from_db()
    assert (partner_a.status, partner_a.city) == ("active", "Moscow")


def test_partner_update_staff_bad_input_gets_400_and_changes_nothing(as_user, manager, partner_a):
    payload = {"name": "", "latitude": "91", "longitude": "10", "email": "not-mail"}
    error = assert_error(as_user(manager).patch(url("partners", partner_a.public_id), payload, format="json"), 400)
    assert {"name", "latitude", "email"} <= set(error["fields"])
    partner_a.refresh_from_db()
    assert partner_a.name == "Alpha Systems" and partner_a.latitude is None


def test_partner_update_partner_admin_changes_allowed_fields(as_user, partner_admin, partner_a):
    payload = {"description": "We sell things.", "phone": "+7 900", "industries": ["retail", "banking"]}
    response = as_user(partner_admin).patch(url("partners", partner_a.public_id), payload, format="json")
    assert response.status_code == 200, response.content
    partner_a.refresh_from_db()
    assert partner_a.description == "We sell things." and partner_a.industries == ["retail", "banking"]
    assert AuditLog.objects.filter(action="partner.update_own_profile", actor=partner_admin).exists()


def test_partner_update_partner_admin_forbidden_field_gets_400_and_changes_nothing(
    as_user, partner_admin, partner_a, lead
):
    payload = {"description": "sneaky", "tier": "gold", "owner": str(lead.public_id), "is_key_account": True}
    response = as_user(partner_admin).patch(url("partners", partner_a.public_id), payload, format="json")
    error = assert_error(response, 400, "invalid")
    assert error["message"] == "These fields cannot be changed here: is_key_account, owner, tier"
    assert set(error["fields"]) == {"tier", "owner", "is_key_account"}
    partner_a.refresh_from_db()
    assert partner_a.description == "" and partner_a.is_key_account is False
    assert not AuditLog.objects.exists()


def test_partner_update_rep_gets_403(as_user, partner_rep, partner_a):
    response = as_user(partner_rep).patch(url("partners", partner_a.public_id), {"phone": "1"}, format="json")
    assert_error(response, 403, "permission_denied")
    partner_a.refresh_from_db()
    assert partner_a.phone == ""


def test_partner_update_other_partners_admin_gets_404(as_user, other_partner_user, partner_a):
    response = as_user(other_partner_user).patch(url("partners", partner_a.public_id), {"phone": "1"}, format="json")
    assert_error(response, 404)


def test_partner_update_anonymous_gets_401(api_client, partner_a):
    assert_error(api_client.patch(url("partners", partner_a.public_id), {"phone": "1"}, format="json"), 401)


def test_partner_status_staff_moves_partner_along_lifecycle(as_user, manager, partner_a):
    payload = {"status": "suspended", "reason": "Unpaid invoices"}
    response = as_user(manager).post(url("partners", partner_a.public_id, "status"), payload, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "suspended"
    assert response.json()["allowed_transitions"] == ["active", "terminated"]
    partner_a.refresh_from_db()
    assert partner_a.status == "suspended"


def test_partner_status_illegal_transition_gets_409(as_user, manager, partner_a):
    response = as_user(manager).post(url("partners", partner_a.public_id, "status"), {"status": "prospect"})
    assert_error(response, 409, "invalid_state")
    partner_a.refresh_from_db()
    assert partner_a.status == "active"


def test_partner_status_suspend_without_reason_gets_400(as_user, manager, partner_a):
    response = as_user(manager).post(url("partners", partner_a.public_id, "status"), {"status": "suspended"})
    assert "reason" in assert_error(response, 400)["fields"]


def test_partner_status_unknown_status_gets_400(as_user, manager, partner_a):
    response = as_user(manager).post(url("partners", partner_a.public_id, "status"), {"status": "asleep"})
    assert "status" in assert_error(response, 400)["fields"]


def test_partner_status_partner_admin_gets_403(as_user, partner_admin, partner_a):
    response = as_user(partner_admin).post(url("partners", partner_a.public_id, "status"), {"status": "suspended"})
    assert_error(response, 403)


def test_partner_status_anonymous_gets_401(api_client, partner_a):
    assert_error(api_client.post(url("partners", partner_a.public_id, "status"), {"status": "suspended"}), 401)


def test_partner_verify_staff_marks_verified(as_user, manager, partner_a):
    response = as_user(manager).post(url("partners", partner_a.public_id, "verify"), {"reason": "trial passed"})
    assert response.status_code == 200, response.content
    assert response.json()["verified"] is True and response.json()["verified_at"]
    response = as_user(manager).post(url("partners", partner_a.public_id, "verify"), {"verified": False})
    assert response.json()["verified"] is False


def test_partner_verify_partner_user_gets_403(as_user, partner_admin, partner_a):
    assert_error(as_user(partner_admin).post(url("partners", partner_a.public_id, "verify")), 403)


def test_partner_tier_staff_sets_tier_with_reason(as_user, manager, partner_a):
    TierFactory(code="gold", name="Gold", rank=30)
    client = as_user(manager)
    error = assert_error(client.post(url("partners", partner_a.public_id, "tier"), {"tier": "gold"}), 400)
    assert "reason" in error["fields"]
    response = client.post(url("partners", partner_a.public_id, "tier"), {"tier": "gold", "reason": "Deal"})
    assert response.status_code == 200, response.content
    assert response.json()["tier"]["code"] == "gold"


# --- Contacts ---------------------------------------------------------------------------------


@pytest.fixture
def contact_a(partner_a):
    return ContactFactory(partner=partner_a, full_name="Alice Alpha", email="alice@alpha.test")


@pytest.fixture
def contact_b(partner_b):
    return ContactFactory(partner=partner_b, full_name="Bob Beta", email="bob@beta.test")


def test_contact_list_staff_sees_all_and_filters_by_partner(as_user, manager, contact_a, contact_b, partner_a):
    client = as_user(manager)
    assert ids(client.get(url("contacts"))) == {str(contact_a.public_id), str(contact_b.public_id)}
    assert ids(client.get(url("contacts"), {"partner": str(partner_a.public_id)})) == {str(contact_a.public_id)}
    assert ids(client.get(url("contacts"), {"q": "bob"})) == {str(contact_b.public_id)}


def test_contact_list_partner_user_sees_own_company_only(as_user, partner_rep, contact_a, contact_b):
    assert ids(as_user(partner_rep).get(url("contacts"))) == {str(contact_a.public_id)}


def test_contact_list_anonymous_gets_401(api_client):
    assert_error(api_client.get(url("contacts")), 401)


def test_contact_retrieve_other_partners_user_gets_404(as_user, other_partner_user, contact_a):
    assert_error(as_user(other_partner_user).get(url("contacts", contact_a.public_id)), 404)


def test_contact_create_partner_admin_adds_to_own_company(as_user, partner_admin, partner_a):
    payload = {"full_name": "Carl New", "email": "Carl@Alpha.test", "role": "finance", "is_decision_maker": True}
    response = as_user(partner_admin).post(url("contacts"), payload, format="json")
    assert response.status_code == 201, response.content
    contact = Contact.objects.get(public_id=response.json()["id"])
    assert (contact.partner, contact.email, contact.role) == (partner_a, "carl@alpha.test", "finance")
    assert response.json()["partner"]["id"] == str(partner_a.public_id)


def test_contact_create_partner_admin_cannot_target_another_company(as_user, partner_admin, partner_b):
    payload = {"partner": str(partner_b.public_id), "full_name": "Intruder"}
    error = assert_error(as_user(partner_admin).post(url("contacts"), payload, format="json"), 400)
    assert set(error["fields"]) == {"partner"}
    assert not Contact.objects.exists()


def test_contact_create_rep_gets_403(as_user, partner_rep):
    assert_error(as_user(partner_rep).post(url("contacts"), {"full_name": "X"}, format="json"), 403)
    assert not Contact.objects.exists()


def test_contact_create_staff_bad_input_gets_400_and_writes_nothing(as_user, manager, partner_a):
    payload = {"full_name": "", "email": "nope", "role": "wizard", "birthday": "someday"}
    error = assert_error(as_user(manager).post(url("contacts"), payload, format="json"), 400)
    assert {"partner", "full_name", "email", "role", "birthday"} <= set(error["fields"])
    payload = {"partner": str(partner_a.public_id), "full_name": ""}
    assert_error(as_user(manager).post(url("contacts"), payload, format="json"), 400)
    assert not Contact.objects.exists()


def test_contact_create_staff_adds_contact_to_any_partner(as_user, manager, partner_b):
    payload = {"partner": str(partner_b.public_id), "full_name": "Stan Staffadded"}
    response = as_user(manager).post(url("contacts"), payload, format="json")
    assert response.status_code == 201, response.content
    assert Contact.objects.get().partner == partner_b


def test_contact_update_partner_admin_changes_contact(as_user, partner_admin, contact_a):
    response = as_user(partner_admin).patch(url("contacts", contact_a.public_id), {"job_title": "CEO"}, format="json")
    assert response.status_code == 200, response.content
    contact_a.refresh_from_db()
    assert contact_a.job_title == "CEO"


def test_contact_update_rep_gets_403_and_other_partner_gets_404(as_user, partner_rep, other_partner_user, contact_a):
    assert_error(as_user(partner_rep).patch(url("contacts", contact_a.public_id), {"notes": "x"}), 403)
    assert_error(as_user(other_partner_user).patch(url("contacts", contact_a.public_id), {"notes": "x"}), 404)
    contact_a.refresh_from_db()
    assert contact_a.notes == ""


def test_contact_deactivate_partner_admin_deactivates(as_user, partner_admin, contact_a):
    response = as_user(partner_admin).post(url("contacts", contact_a.public_id, "deactivate"))
    assert response.status_code == 200 and response.json()["is_active"] is False


def test_contact_list_query_count_is_constant(as_user, manager, partner_a):
    def make(n):
        for _ in range(n):
            user = PartnerUserFactory(partner=partner_a, role=Role.PARTNER_REP)
            ContactFactory(partner=partner_a, user=user)

    assert_constant_queries(as_user(manager), url("contacts"), make, expected_rows=15)


# --- Agreements -------------------------------------------------------------------------------


@pytest.fixture
def agreement_a(partner_a, contact_a, manager):
    return AgreementFactory(partner=partner_a, number="AG-A", partner_responsible=contact_a, vendor_responsible=manager)


def test_agreement_list_staff_sees_all(as_user, manager, agreement_a, partner_b):
    other = AgreementFactory(partner=partner_b)
    assert ids(as_user(manager).get(url("agreements"))) == {str(agreement_a.public_id), str(other.public_id)}


def test_agreement_list_partner_user_sees_own_non_draft(as_user, partner_rep, agreement_a, partner_a, partner_b):
    AgreementFactory(partner=partner_a, status=AgreementStatus.DRAFT, signed_on=None)
    AgreementFactory(partner=partner_b)
    assert ids(as_user(partner_rep).get(url("agreements"))) == {str(agreement_a.public_id)}


def test_agreement_list_anonymous_gets_401(api_client):
    assert_error(api_client.get(url("agreements")), 401)


def test_agreement_retrieve_other_partners_user_gets_404(as_user, other_partner_user, agreement_a):
    assert_error(as_user(other_partner_user).get(url("agreements", agreement_a.public_id)), 404)


def test_agreement_retrieve_draft_hidden_from_partner(as_user, partner_admin, partner_a):
    draft = AgreementFactory(partner=partner_a, status=AgreementStatus.DRAFT, signed_on=None)
    assert_error(as_user(partner_admin).get(url("agreements", draft.public_id)), 404)


def test_agreement_create_staff_creates(as_user, manager, partner_a, contact_a):
    payload = {
        "partner": str(partner_a.public_id),
        "number": "AG-2026-1",
        "commission_pct": "7.5",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "vendor_responsible": str(manager.public_id),
        "partner_responsible": str(contact_a.public_id),
    }
    response = as_user(manager).post(url("agreements"), payload, format="json")
    assert response.status_code == 201, response.content
    agreement = Agreement.objects.get(public_id=response.json()["id"])
    assert (agreement.status, agreement.partner_responsible) == ("draft", contact_a)
    assert response.json()["partner_responsible"]["full_name"] == "Alice Alpha"


def test_agreement_create_bad_input_gets_400_and_writes_nothing(as_user, manager, partner_a, contact_b):
    payload = {
        "partner": str(partner_a.public_id),
        "number": "AG-1",
        "commission_pct": "150",
        "starts_on": "2026-01-01",
    }
    error = assert_error(as_user(manager).post(url("agreements"), payload, format="json"), 400)
    assert "commission_pct" in error["fields"]
    payload.update(commission_pct="5", ends_on="2025-01-01", partner_responsible=str(contact_b.public_id))
    error = assert_error(as_user(manager).post(url("agreements"), payload, format="json"), 400)
    assert "partner_responsible" in error["fields"]
    # An active agreement must be signed: the model's rule, reported through the service.
    payload = {"partner": str(partner_a.public_id), "number": "AG-1", "starts_on": "2026-01-01", "status": "active"}
    assert_error(as_user(manager).post(url("agreements"), payload, format="json"), 400)
    assert not Agreement.objects.exists()


def test_agreement_create_partner_user_gets_403(as_user, partner_admin, partner_a):
    payload = {"partner": str(partner_a.public_id), "number": "AG-1", "starts_on": "2026-01-01"}
    assert_error(as_user(partner_admin).post(url("agreements"), payload, format="json"), 403)


def test_agreement_update_staff_changes_terms(as_user, manager, agreement_a):
    payload = {"discount_pct": "12.50", "auto_renew": True, "reason": "renegotiated"}
    response = as_user(manager).patch(url("agreements", agreement_a.public_id), payload, format="json")
    assert response.status_code == 200, response.content
    agreement_a.refresh_from_db()
    assert (str(agreement_a.discount_pct), agreement_a.auto_renew) == ("12.50", True)


def test_agreement_update_bad_dates_gets_400_and_changes_nothing(as_user, manager, agreement_a):
    payload = {"ends_on": (agreement_a.starts_on - datetime.timedelta(days=1)).isoformat()}
    assert_error(as_user(manager).patch(url("agreements", agreement_a.public_id), payload, format="json"), 400)
    old_end = agreement_a.ends_on
    agreement_a.refresh_from_db()
    assert agreement_a.ends_on == old_end


def test_agreement_update_partner_user_gets_403(as_user, partner_admin, agreement_a):
    response = as_user(partner_admin).patch(url("agreements", agreement_a.public_id), {"notes": "x"}, format="json")
    assert_error(response, 403)


def test_agreement_list_query_count_is_constant(as_user, manager, partner_a):
    def make(n):
        for _ in range(n):
            AgreementFactory(
                partner=partner_a, vendor_responsible=manager, partner_responsible=ContactFactory(partner=partner_a)
            )

    assert_constant_queries(as_user(manager), url("agreements"), make, expected_rows=15)


# --- Interactions -----------------------------------------------------------------------------


def test_interaction_list_staff_sees_and_filters(as_user, manager, partner_a, partner_b):
    mine = InteractionFactory(partner=partner_a, author=manager, next_step="Send offer")
    theirs = InteractionFactory(partner=partner_b)
    client = as_user(manager)
    assert ids(client.get(url("interactions"))) == {str(mine.public_id), str(theirs.public_id)}
    assert ids(client.get(url("interactions"), {"author": "me"})) == {str(mine.public_id)}
    assert ids(client.get(url("interactions"), {"has_open_step": "true"})) == {str(mine.public_id)}
    assert ids(client.get(url("interactions"), {"has_open_step": "false"})) == {str(theirs.public_id)}
    assert ids(client.get(url("interactions"), {"partner": str(partner_b.public_id)})) == {str(theirs.public_id)}


def test_interaction_list_partner_user_gets_403(as_user, partner_admin, other_partner_user, partner_a):
    interaction = InteractionFactory(partner=partner_a)
    assert_error(as_user(partner_admin).get(url("interactions")), 403)
    assert_error(as_user(other_partner_user).get(url("interactions", interaction.public_id)), 403)


def test_interaction_list_anonymous_gets_401(api_client):
    assert_error(api_client.get(url("interactions")), 401)


def test_interaction_create_staff_logs_interaction(as_user, manager, partner_a, contact_a):
    payload = {
        "partner": str(partner_a.public_id),
        "kind": "meeting",
        "subject": "QBR",
        "contact": str(contact_a.public_id),
        "next_step": "Send the deck",
        "next_step_due": "2026-02-01",
    }
    response = as_user(manager).post(url("interactions"), payload, format="json")
    assert response.status_code == 201, response.content
    interaction = Interaction.objects.get(public_id=response.json()["id"])
    assert (interaction.author, interaction.contact, interaction.next_step) == (manager, contact_a, "Send the deck")
    assert response.json()["has_open_step"] is True


def test_interaction_create_bad_input_gets_400_and_writes_nothing(as_user, manager, partner_a, contact_b):
    payload = {"partner": str(partner_a.public_id), "kind": "telepathy", "subject": ""}
    error = assert_error(as_user(manager).post(url("interactions"), payload, format="json"), 400)
    assert {"kind", "subject"} <= set(error["fields"])
    payload = {"partner": str(partner_a.public_id), "kind": "call", "subject": "x", "contact": str(contact_b.public_id)}
    error = assert_error(as_user(manager).post(url("interactions"), payload, format="json"), 400)
    assert "contact" in error["fields"]
    payload = {"partner": str(partner_a.public_id), "kind": "call", "subject": "x", "next_step_due": "2026-02-01"}
    assert (
        "next_step" in assert_error(as_user(manager).post(url("interactions"), payload, format="json"), 400)["fields"]
    )
    assert not Interaction.objects.exists()


def test_interaction_retrieve_staff_sees_it(as_user, manager, partner_a):
    interaction = InteractionFactory(partner=partner_a)
    response = as_user(manager).get(url("interactions", interaction.public_id))
    assert response.status_code == 200 and response.json()["subject"] == "Quarterly call"


def test_interaction_complete_step_marks_done(as_user, manager, partner_a):
    interaction = InteractionFactory(partner=partner_a, next_step="Call back")
    response = as_user(manager).post(url("interactions", interaction.public_id, "complete-step"))
    assert response.status_code == 200, response.content
    assert response.json()["next_step_done_at"] and response.json()["has_open_step"] is False


def test_interaction_complete_step_without_step_gets_409(as_user, manager, partner_a):
    interaction = InteractionFactory(partner=partner_a)
    assert_error(as_user(manager).post(url("interactions", interaction.public_id, "complete-step")), 409)


def test_interaction_list_query_count_is_constant(as_user, manager, partner_a):
    def make(n):
        for _ in range(n):
            InteractionFactory(partner=partner_a, contact=ContactFactory(partner=partner_a))

    assert_constant_queries(as_user(manager), url("interactions"), make, expected_rows=15)


# --- Cabinet users ----------------------------------------------------------------------------


def test_user_list_partner_user_sees_colleagues_only(as_user, partner_rep, partner_admin, other_partner_user):
    response = as_user(partner_rep).get(url("users"))
    assert response.status_code == 200
    assert ids(response) == {str(partner_rep.public_id), str(partner_admin.public_id)}


def test_user_list_staff_sees_partner_users_and_filters_by_partner(
    as_user, manager, partner_admin, other_partner_user, partner_b
):
    client = as_user(manager)
    assert ids(client.get(url("users"))) == {str(partner_admin.public_id), str(other_partner_user.public_id)}
    assert ids(client.get(url("users"), {"partner": str(partner_b.public_id)})) == {str(other_partner_user.public_id)}


def test_user_list_anonymous_gets_401(api_client):
    assert_error(api_client.get(url("users")), 401)


def test_user_retrieve_other_partners_user_gets_404(as_user, other_partner_user, partner_rep):
    assert_error(as_user(other_partner_user).get(url("users", partner_rep.public_id)), 404)


def test_user_retrieve_staff_user_is_not_a_partner_user(as_user, partner_admin, manager):
    assert_error(as_user(partner_admin).get(url("users", manager.public_id)), 404)


def test_user_deactivate_partner_admin_deactivates_and_reactivates_colleague(as_user, partner_admin, partner_rep):
    client = as_user(partner_admin)
    response = client.post(url("users", partner_rep.public_id, "deactivate"))
    assert response.status_code == 200, response.content
    partner_rep.refresh_from_db()
    assert partner_rep.is_active is False
    assert client.post(url("users", partner_rep.public_id, "activate")).json()["is_active"] is True


def test_user_deactivate_self_gets_400(as_user, partner_admin):
    assert_error(as_user(partner_admin).post(url("users", partner_admin.public_id, "deactivate")), 400)


def test_user_deactivate_rep_gets_403(as_user, partner_rep, partner_admin):
    assert_error(as_user(partner_rep).post(url("users", partner_admin.public_id, "deactivate")), 403)
    partner_admin.refresh_from_db()
    assert partner_admin.is_active


def test_user_deactivate_other_partners_admin_gets_404(as_user, other_partner_user, partner_rep):
    assert_error(as_user(other_partner_user).post(url("users", partner_rep.public_id, "deactivate")), 404)
    partner_rep.refresh_from_db()
    assert partner_rep.is_active


def test_user_list_query_count_is_constant(as_user, manager, partner_a):
    def make(n):
        for _ in range(n):
            PartnerUserFactory(partner=PartnerFactory(owner=manager), role=Role.PARTNER_REP)

    assert_constant_queries(as_user(manager), url("users"), make, expected_rows=15)


# --- Invitations ------------------------------------------------------------------------------


def test_invitation_create_partner_admin_invites_without_exposing_token(
    as_user, partner_admin, partner_a, django_capture_on_commit_callbacks, mailoutbox, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=False):
        response = as_user(partner_admin).post(
            url("invitations"), {"email": "New@Alpha.test", "full_name": "Nina New"}, format="json"
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "email", "full_name", "role", "invited_by", "expires_at", "created_at"}
    assert body["role"] == "partner_rep" and body["email"] == "new@alpha.test"
    invitation = Invitation.objects.get(public_id=body["id"])
    assert invitation.partner == partner_a
    assert invitation.token_hash not in response.content.decode()
    assert "token" not in response.content.decode()


def test_invitation_create_existing_account_gets_400(as_user, partner_admin, partner_rep):
    error = assert_error(as_user(partner_admin).post(url("invitations"), {"email": partner_rep.email}), 400)
    assert "email" in error["fields"]
    assert not Invitation.objects.exists()


def test_invitation_create_bad_input_gets_400(as_user, partner_admin):
    error = assert_error(as_user(partner_admin).post(url("invitations"), {"email": "x", "role": "king"}), 400)
    assert set(error["fields"]) == {"email", "role"}
    assert not Invitation.objects.exists()


def test_invitation_endpoints_refuse_reps_and_staff(as_user, partner_rep, manager):
    assert_error(as_user(partner_rep).get(url("invitations")), 403)
    assert_error(as_user(partner_rep).post(url("invitations"), {"email": "a@b.test"}), 403)
    assert_error(as_user(manager).get(url("invitations")), 403)
    assert not Invitation.objects.exists()


def test_invitation_list_anonymous_gets_401(api_client):
    assert_error(api_client.get(url("invitations")), 401)


def _invite(partner, inviter, email):
    now = timezone.now()
    return Invitation.objects.create(
        partner=partner,
        email=email,
        invited_by=inviter,
        token_hash=uuid.uuid4().hex,
        expires_at=now + datetime.timedelta(hours=24),
    )


def test_invitation_list_shows_own_company_open_invitations(as_user, partner_admin, other_partner_user):
    mine = _invite(partner_admin.partner, partner_admin, "one@alpha.test")
    _invite(other_partner_user.partner, other_partner_user, "one@beta.test")
    revoked = _invite(partner_admin.partner, partner_admin, "gone@alpha.test")
    revoked.revoked_at = timezone.now()
    revoked.save()
    assert ids(as_user(partner_admin).get(url("invitations"))) == {str(mine.public_id)}


def test_invitation_revoke_withdraws_and_other_partner_gets_404(as_user, partner_admin, other_partner_user):
    invitation = _invite(partner_admin.partner, partner_admin, "one@alpha.test")
    assert_error(as_user(other_partner_user).post(url("invitations", invitation.public_id, "revoke")), 404)
    assert_error(as_user(other_partner_user).get(url("invitations", invitation.public_id)), 404)
    response = as_user(partner_admin).post(url("invitations", invitation.public_id, "revoke"))
    assert response.status_code == 200, response.content
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


def test_invitation_revoke_accepted_gets_409(as_user, partner_admin, partner_rep):
    invitation = _invite(partner_admin.partner, partner_admin, "one@alpha.test")
    invitation.accepted_at = timezone.now()
    invitation.save()
    assert_error(as_user(partner_admin).post(url("invitations", invitation.public_id, "revoke")), 409)


def test_invitation_list_query_count_is_constant(as_user, partner_admin):
    counter = iter(range(1000))

    def make(n):
        for _ in range(n):
            inviter = PartnerUserFactory(partner=partner_admin.partner, role=Role.PARTNER_ADMIN)
            _invite(partner_admin.partner, inviter, f"x{next(counter)}@alpha.test")

    assert_constant_queries(as_user(partner_admin), url("invitations"), make, expected_rows=15)


# --- Me ---------------------------------------------------------------------------------------


def test_me_partner_user_sees_self_and_company(as_user, partner_rep, partner_a):
    response = as_user(partner_rep).get(url("me"))
    assert response.status_code == 200
    assert response.json() == {
        "id": str(partner_rep.public_id),
        "email": "rep@alpha.test",
        "full_name": "Roman Rep",
        "role": "partner_rep",
        "partner": {"id": str(partner_a.public_id), "name": "Alpha Systems"},
        "language": "en",
    }


def test_me_staff_has_no_partner(as_user, manager):
    body = as_user(manager).get(url("me")).json()
    assert (body["role"], body["partner"]) == ("channel_manager", None)


def test_me_anonymous_gets_401(api_client):
    assert_error(api_client.get(url("me")), 401)


@pytest.mark.parametrize("resource", ["partners", "contacts", "agreements", "interactions", "users"])
def test_list_endpoints_expose_public_ids_only(as_user, manager, partner_admin, agreement_a, resource):
    InteractionFactory(partner=agreement_a.partner, contact=agreement_a.partner_responsible)
    rows = as_user(manager).get(url(resource)).json()["results"]
    assert rows

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "id":
                    assert uuid.UUID(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(rows)
