"""The leads API: per-URL personas (happy path, anonymous 401, partner B 404), staff-only
fields, accept / decline / route, filters and a query count that does not grow with rows."""

import random
import uuid

import pytest
from rest_framework.test import APIClient

from deals import services
from deals.models import DealRegistration, DealStatus, Lead, LeadOffer, LeadOfferStatus, LeadStatus
from partners.models import Region
from tests.deals.factories import ProductLineFactory, lead_fields, make_lead
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/"


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def offered(manager, partner_a, partner_admin):
    """A lead offered to partner A (the only German partner); partner B is in Russia."""
    partner_a.country, partner_a.region = "DE", Region.EUROPE
    partner_a.save(update_fields=["country", "region"])
    lead = make_lead(country="DE", region="europe", customer_name="Kunde GmbH")
    services.lead_route(actor=manager, lead=lead, rng=random.Random(0))
    lead.refresh_from_db()
    assert lead.offered_to_id == partner_a.pk
    return lead


def detail(lead, suffix=""):
    return f"{URL}{lead.public_id}/{suffix}"


# --- anonymous ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "route/", "accept/", "decline/"])
def test_api_lead_routes_anonymous_gets_401(offered, suffix):
    client = api()
    response = client.post(detail(offered, suffix)) if suffix else client.get(detail(offered))
    assert response.status_code == 401
    assert api().get(URL).status_code == 401
    assert api().post(URL, {}, format="json").status_code == 401


# --- list / retrieve ----------------------------------------------------------------------


def test_api_lead_list_staff_sees_all_with_offered_to(manager, offered):
    make_lead(customer_name="Unrouted")
    data = api(manager).get(URL).json()
    assert data["count"] == 2
    row = next(r for r in data["results"] if r["id"] == str(offered.public_id))
    assert row["status"] == "offered"
    assert row["offered_to"]["name"] == offered.offered_to.name
    assert row["offer_expires_at"] is not None


def test_api_lead_list_partner_sees_only_its_offers_without_staff_fields(partner_admin, partner_rep, offered):
    make_lead(customer_name="Not offered to A")
    for user in (partner_admin, partner_rep):
        data = api(user).get(URL).json()
        assert [r["id"] for r in data["results"]] == [str(offered.public_id)]
        assert "offered_to" not in data["results"][0]
        assert data["results"][0]["status"] == "offered"


def test_api_lead_list_other_partner_sees_nothing(other_partner_user, offered):
    assert api(other_partner_user).get(URL).json()["count"] == 0


def test_api_lead_retrieve_staff_has_routing_breakdown(manager, offered):
    data = api(manager).get(detail(offered)).json()
    assert data["reference"] == offered.reference
    (decision,) = data["routing"]
    assert decision["band"] == "country"
    assert decision["partner"]["name"] == offered.offered_to.name
    assert decision["candidates"][0]["probability"] == 1.0
    assert decision["candidate_count"] == 1


def test_api_lead_retrieve_partner_has_no_routing(partner_admin, offered):
    data = api(partner_admin).get(detail(offered)).json()
    assert "routing" not in data and "offered_to" not in data
    assert data["status"] == "offered"


def test_api_lead_retrieve_other_partner_gets_404(other_partner_user, offered):
    assert api(other_partner_user).get(detail(offered)).status_code == 404


def test_api_lead_retrieve_unknown_or_bad_id_gets_404(manager):
    assert api(manager).get(f"{URL}{uuid.uuid4()}/").status_code == 404
    assert api(manager).get(f"{URL}not-a-uuid/").status_code == 404


def test_api_lead_after_decline_partner_sees_only_its_declined_offer(manager, partner_admin, offered):
    PartnerFactory(country="DE", region=Region.EUROPE, name="Next GmbH")
    api(partner_admin).post(detail(offered, "decline/"), {"reason": "Not our market"}, format="json")
    data = api(partner_admin).get(detail(offered)).json()
    assert data["status"] == "declined"
    assert data["offer_expires_at"] is None
    offered.refresh_from_db()
    assert offered.offered_to.name == "Next GmbH"  # the lead did move on, and A is not told where
    assert "Next GmbH" not in str(data)


def test_api_lead_list_filters(manager, offered):
    make_lead(customer_name="Moscow lead", country="RU")
    client = api(manager)
    assert [r["reference"] for r in client.get(URL, {"country": "de"}).json()["results"]] == [offered.reference]
    assert client.get(URL, {"status": "new"}).json()["count"] == 1
    assert client.get(URL, {"q": "Moscow"}).json()["count"] == 1
    assert client.get(URL, {"status": "bogus"}).status_code == 400


def test_api_lead_list_query_count_does_not_grow(manager, partner_admin, partner_a, django_assert_max_num_queries):
    partner_a.country = "DE"
    partner_a.save(update_fields=["country"])

    def count(user):
        with django_assert_max_num_queries(8) as ctx:
            assert api(user).get(URL).status_code == 200
        return len(ctx.captured_queries)

    for i in range(2):
        services.lead_create(actor=manager, rng=random.Random(i), **lead_fields(customer_name=f"A{i}", country="DE"))
    few = (count(manager), count(partner_admin))
    for i in range(12):
        services.lead_create(actor=manager, rng=random.Random(i), **lead_fields(customer_name=f"B{i}", country="DE"))
    assert (count(manager), count(partner_admin)) == few


# --- create -------------------------------------------------------------------------------


def test_api_lead_create_by_staff_routes(manager, partner_a):
    line = ProductLineFactory(code="firewalls")
    response = api(manager).post(
        URL,
        {
            "customer_name": "Globex",
            "country": "RU",
            "region": "russia",
            "product_line": "firewalls",
            "estimated_value": "1000.00",
            "source": "event",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "offered"
    assert data["offered_to"]["id"] == str(partner_a.public_id)
    assert data["product_line"] == line.code


def test_api_lead_create_without_routing(manager):
    response = api(manager).post(URL, {"customer_name": "Globex", "country": "RU", "route": False}, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "new"


def test_api_lead_create_bad_input_is_400_with_fields(manager):
    response = api(manager).post(URL, {"customer_name": "", "country": "Germany"}, format="json")
    assert response.status_code == 400
    assert {"customer_name", "country"} <= set(response.json()["error"]["fields"])
    response = api(manager).post(URL, {"customer_name": "X", "country": "12"}, format="json")
    assert response.status_code == 400
    assert "country" in response.json()["error"]["fields"]
    assert not Lead.objects.exists()


def test_api_lead_create_partner_user_forbidden(partner_admin):
    assert api(partner_admin).post(URL, lead_fields(), format="json").status_code == 403


# --- route --------------------------------------------------------------------------------


def test_api_lead_route_by_staff(manager, partner_a):
    lead = make_lead()
    response = api(manager).post(detail(lead, "route/"))
    assert response.status_code == 200
    assert response.json()["status"] == "offered"


def test_api_lead_route_partner_forbidden_and_accepted_conflict(manager, partner_admin, other_partner_user, offered):
    assert api(partner_admin).post(detail(offered, "route/")).status_code == 403
    assert api(other_partner_user).post(detail(offered, "route/")).status_code == 403
    services.lead_accept(user=partner_admin, lead=offered)
    response = api(manager).post(detail(offered, "route/"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"


# --- accept / decline ---------------------------------------------------------------------


def test_api_lead_accept_creates_approved_registration(partner_rep, offered):
    response = api(partner_rep).post(detail(offered, "accept/"))
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "accepted"
    deal = DealRegistration.objects.get(public_id=data["registration"])
    assert deal.status == DealStatus.APPROVED and deal.submitted_by_id == partner_rep.pk
    assert api(partner_rep).post(detail(offered, "accept/")).status_code == 409


def test_api_lead_accept_other_partner_gets_404(other_partner_user, offered):
    assert api(other_partner_user).post(detail(offered, "accept/")).status_code == 404
    assert api(other_partner_user).post(detail(offered, "decline/"), {"reason": "x"}, format="json").status_code == 404
    offered.refresh_from_db()
    assert offered.status == LeadStatus.OFFERED


def test_api_lead_accept_staff_forbidden(manager, offered):
    assert api(manager).post(detail(offered, "accept/")).status_code == 403


def test_api_lead_decline_needs_reason_then_reroutes(partner_admin, offered, partner_a):
    client = api(partner_admin)
    response = client.post(detail(offered, "decline/"), {"reason": ""}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]
    response = client.post(detail(offered, "decline/"), {"reason": "Spam", "spam": True}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    offer = LeadOffer.objects.get(lead=offered, partner=partner_a)
    assert offer.status == LeadOfferStatus.DECLINED and offer.spam
    offered.refresh_from_db()
    assert offered.status == LeadStatus.UNASSIGNED
    assert client.post(detail(offered, "decline/"), {"reason": "again"}, format="json").status_code == 409


def test_api_schema_documents_lead_routes(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    names = schema["components"]["schemas"]
    decline_name = next(n for n in names if n.startswith("LeadDecline"))
    for path in ("/api/v1/leads/", "/api/v1/leads/{id}/route/", "/api/v1/leads/{id}/accept/"):
        assert path in schema["paths"]
    assert "reason" in schema["components"]["schemas"][decline_name]["properties"]
