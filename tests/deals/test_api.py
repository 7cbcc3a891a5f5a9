"""The deals REST API: registrations (CRUD, lifecycle actions, pre-check), conflicts (staff
only) and the product catalogue — scoping, the one error shape, and confidentiality."""

import datetime as dt
import json
import uuid

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from deals import services
from deals.models import Conflict, ConflictStatus, DealRegistration, DealStatus, ExtensionStatus
from tests.deals import factories as deal_factories
from tests.deals.factories import customer_data, make_deal

pytestmark = pytest.mark.django_db

products = deal_factories.products

ROMASHKA = {"name": "Romashka Holding", "tax_id": "7707083893", "website": "https://romashka.ru"}


def _random_name() -> str:
    return "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:14]).capitalize()


def _customer(**overrides):
    data = {
        "name": _random_name(),
        "website": f"https://{uuid.uuid4().hex[:10]}.example",
        "tax_id": f"{uuid.uuid4().int % 10**10:010d}",
    }
    data.update(overrides)
    return customer_data(**data)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def draft(partner_admin):
    return make_deal(user=partner_admin, customer=_customer(), title="Alpha draft")


@pytest.fixture
def submitted(partner_admin):
    return make_deal(user=partner_admin, customer=_customer(), title="Alpha submitted", submit=True)


@pytest.fixture
def approved(partner_admin, manager):
    deal = make_deal(user=partner_admin, customer=_customer(), submit=True)
    return services.deal_approve(user=manager, deal=deal)


@pytest.fixture
def in_conflict(partner_admin, other_partner_user, manager):
    """B's registration approved, then A registers the same customer. (A's, B's)."""
    theirs = make_deal(
        user=other_partner_user,
        customer=customer_data(**ROMASHKA),
        submit=True,
        title="Beta secret deal",
        value="987654",
    )
    services.deal_approve(user=manager, deal=theirs, note="Staff note about Beta")
    mine = make_deal(user=partner_admin, customer=customer_data(**ROMASHKA), submit=True, title="Alpha bid")
    return mine, DealRegistration.objects.get(pk=theirs.pk)


def _no_secrets(payload, theirs):
    text = json.dumps(payload, default=str)
    for secret in ("Beta Trade", "Beta secret deal", "987654", theirs.reference, str(theirs.public_id), "Staff note"):
        assert secret not in text, secret


def _create_body(products_=(), **overrides):
    body = {
        "customer": {"name": _random_name(), "website": "https://new-customer.example", "tax_id": "1234567890"},
        "title": "API deal",
        "products": [p.pk for p in products_],
        "value": "250000.00",
        "currency": "RUB",
        "expected_close_date": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
        "stage": "discovery",
    }
    body.update(overrides)
    return body


def _error(response):
    data = response.json()
    assert set(data) == {"error"} and set(data["error"]) == {"code", "message", "fields"}
    return data["error"]


# --- anonymous -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/v1/deals/"),
        ("post", "/api/v1/deals/"),
        ("post", "/api/v1/deals/check/"),
        ("get", "/api/v1/conflicts/"),
        ("get", "/api/v1/products/"),
    ],
)
def test_api_deals_anonymous_gets_401(method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")
    assert response.status_code == 401
    _error(response)


def test_api_deal_object_routes_anonymous_gets_401(draft):
    client = APIClient()
    assert client.get(f"/api/v1/deals/{draft.public_id}/").status_code == 401
    assert client.post(f"/api/v1/deals/{draft.public_id}/submit/").status_code == 401


def test_api_deals_token_authentication_works(partner_admin, draft):
    token = Token.objects.create(user=partner_admin)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/deals/").json()["count"] == 1


# --- list / retrieve / scoping ---------------------------------------------------------------


def test_api_deal_list_scoped_to_company_for_admin_and_own_for_rep(
    partner_admin, partner_rep, other_partner_user, draft
):
    rep_deal = make_deal(user=partner_rep, customer=_customer())
    make_deal(user=other_partner_user, customer=_customer())
    ids = {d["id"] for d in api(partner_admin).get("/api/v1/deals/").json()["results"]}
    assert ids == {str(draft.public_id), str(rep_deal.public_id)}
    ids = {d["id"] for d in api(partner_rep).get("/api/v1/deals/").json()["results"]}
    assert ids == {str(rep_deal.public_id)}


def test_api_deal_retrieve_exposes_contract_fields(partner_admin, submitted):
    data = api(partner_admin).get(f"/api/v1/deals/{submitted.public_id}/").json()
    assert data["id"] == str(submitted.public_id) and data["reference"] == submitted.reference
    assert data["status"] == "submitted" and data["review_due_at"] and data["protected_until"] is None
    assert set(data["end_customer"]) >= {"name", "domain", "tax_id", "country"}
    assert data["value"] == "1000000.00" and data["currency"] == "RUB"
    assert data["has_conflict"] is False and data["flags"] == []
    assert data["conflict"] == {"exists": False, "open": False, "outcome": None}


def test_api_deal_retrieve_other_partner_gets_404(other_partner_user, draft):
    response = api(other_partner_user).get(f"/api/v1/deals/{draft.public_id}/")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_api_deal_retrieve_bad_id_gets_404(partner_admin):
    assert api(partner_admin).get("/api/v1/deals/not-a-uuid/").status_code == 404


def test_api_deal_list_filters(manager, partner_admin, partner_b, other_partner_user, draft, submitted):
    theirs = make_deal(user=other_partner_user, customer=_customer(), stage="commit")
    client = api(manager)

    def ids(**params):
        return {d["id"] for d in client.get("/api/v1/deals/", params).json()["results"]}

    assert ids(status="submitted") == {str(submitted.public_id)}
    assert ids(status=["submitted", "draft"]) == {str(submitted.public_id), str(draft.public_id), str(theirs.public_id)}
    assert ids(stage="commit") == {str(theirs.public_id)}
    assert ids(partner=str(partner_b.public_id)) == {str(theirs.public_id)}
    assert ids(q=draft.reference) == {str(draft.public_id)}
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    assert ids(expected_close_to=tomorrow) == set()
    assert len(ids(created_after=(timezone.now() - dt.timedelta(hours=1)).isoformat())) == 3


def test_api_deal_list_partner_filter_cannot_reach_other_partner(partner_admin, partner_b, other_partner_user):
    make_deal(user=other_partner_user, customer=_customer())
    assert api(partner_admin).get("/api/v1/deals/", {"partner": str(partner_b.public_id)}).json()["count"] == 0


def test_api_deal_list_bad_filter_is_400(partner_admin):
    response = api(partner_admin).get("/api/v1/deals/", {"status": "bogus"})
    assert response.status_code == 400 and "status" in _error(response)["fields"]


def test_api_deal_list_ordering(partner_admin):
    low = make_deal(user=partner_admin, customer=_customer(), value="10")
    high = make_deal(user=partner_admin, customer=_customer(), value="99999")
    client = api(partner_admin)
    assert [d["id"] for d in client.get("/api/v1/deals/", {"ordering": "value"}).json()["results"]] == [
        str(low.public_id),
        str(high.public_id),
    ]
    assert client.get("/api/v1/deals/", {"ordering": "-value"}).json()["results"][0]["id"] == str(high.public_id)


def test_api_deal_list_query_count_does_not_grow(partner_admin, products, django_assert_max_num_queries):
    client = api(partner_admin)

    def make(n):
        for _ in range(n):
            make_deal(user=partner_admin, customer=_customer(), products=products[:2], submit=True)

    make(3)
    with django_assert_max_num_queries(30) as small:
        assert client.get("/api/v1/deals/").json()["count"] == 3
    make(12)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get("/api/v1/deals/")
    assert len(response.json()["results"]) == 15


def test_api_conflict_list_query_count_does_not_grow(
    manager, partner_admin, other_partner_user, django_assert_max_num_queries
):
    def make(n):
        for _ in range(n):
            customer = _customer()
            make_deal(user=partner_admin, customer=customer, submit=True)
            make_deal(user=other_partner_user, customer=customer, submit=True)

    make(3)
    client = api(manager)
    with django_assert_max_num_queries(30) as small:
        assert client.get("/api/v1/conflicts/").json()["count"] == 3
    make(12)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/api/v1/conflicts/").json()["count"] == 15


# --- create / update ------------------------------------------------------------------------


def test_api_deal_create_draft(partner_rep, products):
    response = api(partner_rep).post("/api/v1/deals/", _create_body(products[:2]), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "draft" and data["reference"].startswith("DR-")
    assert {p["id"] for p in data["products"]} == {p.pk for p in products[:2]}
    deal = DealRegistration.objects.get(public_id=data["id"])
    assert deal.submitted_by == partner_rep and deal.stage == "discovery"


def test_api_deal_create_and_submit(partner_admin):
    response = api(partner_admin).post("/api/v1/deals/", _create_body(submit=True), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "submitted" and response.json()["review_due_at"]


def test_api_deal_create_bad_input_is_400_with_fields(partner_admin):
    body = _create_body(value="-1", currency="XXX")
    del body["customer"]
    response = api(partner_admin).post("/api/v1/deals/", body, format="json")
    assert response.status_code == 400
    assert {"value", "currency", "customer"} <= set(_error(response)["fields"])
    assert not DealRegistration.objects.exists()


def test_api_deal_create_unknown_product_is_400(partner_admin):
    response = api(partner_admin).post("/api/v1/deals/", _create_body(products=[999999]), format="json")
    assert response.status_code == 400 and "products" in _error(response)["fields"]


def test_api_deal_create_service_rule_is_400(partner_admin):
    body = _create_body(submit=True, expected_close_date="2001-01-01")
    response = api(partner_admin).post("/api/v1/deals/", body, format="json")
    assert response.status_code == 400 and "expected_close_date" in _error(response)["fields"]
    assert not DealRegistration.objects.exists()  # create and submit are one transaction


def test_api_deal_create_by_staff_for_partner(manager, partner_a):
    client = api(manager)
    assert client.post("/api/v1/deals/", _create_body(), format="json").status_code == 400
    response = client.post("/api/v1/deals/", _create_body(partner=str(partner_a.public_id)), format="json")
    assert response.status_code == 201 and response.json()["partner"]["id"] == str(partner_a.public_id)


def test_api_deal_partial_update_while_draft(partner_admin, draft):
    response = api(partner_admin).patch(
        f"/api/v1/deals/{draft.public_id}/", {"title": "Renamed", "value": "42.00"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "Renamed" and response.json()["value"] == "42.00"


def test_api_deal_put_replaces_draft(partner_admin, draft):
    body = _create_body(title="Replaced")
    response = api(partner_admin).put(f"/api/v1/deals/{draft.public_id}/", body, format="json")
    assert response.status_code == 200
    assert response.json()["end_customer"]["name"] == body["customer"]["name"]


def test_api_deal_update_after_submission_is_409(partner_admin, submitted):
    response = api(partner_admin).patch(f"/api/v1/deals/{submitted.public_id}/", {"title": "x"}, format="json")
    assert response.status_code == 409 and _error(response)["code"] == "invalid_state"


def test_api_deal_update_other_partner_is_404(other_partner_user, draft):
    response = api(other_partner_user).patch(f"/api/v1/deals/{draft.public_id}/", {"title": "x"}, format="json")
    assert response.status_code == 404
    draft.refresh_from_db()
    assert draft.title == "Alpha draft"


# --- lifecycle actions ----------------------------------------------------------------------


def test_api_deal_submit_then_submit_again_is_409(partner_admin, draft):
    client = api(partner_admin)
    assert client.post(f"/api/v1/deals/{draft.public_id}/submit/").json()["status"] == "submitted"
    response = client.post(f"/api/v1/deals/{draft.public_id}/submit/")
    assert response.status_code == 409 and _error(response)["code"] == "invalid_state"


def test_api_deal_submit_other_partner_is_404(other_partner_user, draft):
    assert api(other_partner_user).post(f"/api/v1/deals/{draft.public_id}/submit/").status_code == 404


@pytest.mark.parametrize(
    "path,body",
    [
        ("approve/", {}),
        ("reject/", {"reason": "no"}),
        ("return/", {"reason": "more"}),
        ("approve-extension/", {}),
        ("reject-extension/", {"reason": "no"}),
    ],
)
def test_api_deal_staff_actions_forbidden_for_partners(partner_admin, submitted, path, body):
    response = api(partner_admin).post(f"/api/v1/deals/{submitted.public_id}/{path}", body, format="json")
    assert response.status_code == 403
    submitted.refresh_from_db()
    assert submitted.status == DealStatus.SUBMITTED


def test_api_deal_approve_by_staff(manager, submitted):
    response = api(manager).post(f"/api/v1/deals/{submitted.public_id}/approve/", {"note": "ok"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "approved" and response.json()["protected_until"]


def test_api_deal_approve_draft_is_409(manager, draft):
    assert api(manager).post(f"/api/v1/deals/{draft.public_id}/approve/").status_code == 409


def test_api_deal_reject_needs_reason(manager, submitted):
    client = api(manager)
    response = client.post(f"/api/v1/deals/{submitted.public_id}/reject/", {}, format="json")
    assert response.status_code == 400 and "reason" in _error(response)["fields"]
    response = client.post(f"/api/v1/deals/{submitted.public_id}/reject/", {"reason": "Duplicate"}, format="json")
    assert response.json()["status"] == "rejected" and response.json()["decision_reason"] == "Duplicate"


def test_api_deal_return_by_staff(manager, submitted):
    response = api(manager).post(f"/api/v1/deals/{submitted.public_id}/return/", {"reason": "City?"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "returned"


def test_api_deal_won_and_lost(partner_admin, approved, partner_a, manager):
    client = api(partner_admin)
    response = client.post(f"/api/v1/deals/{approved.public_id}/won/", {"final_amount": "900.5"}, format="json")
    assert response.status_code == 200 and response.json()["final_amount"] == "900.50"
    other = services.deal_approve(user=manager, deal=make_deal(user=partner_admin, customer=_customer(), submit=True))
    response = client.post(f"/api/v1/deals/{other.public_id}/lost/", {"reason": "Budget"}, format="json")
    assert response.json()["status"] == "lost" and response.json()["lost_reason"] == "Budget"


def test_api_deal_won_on_submitted_is_409(partner_admin, submitted):
    response = api(partner_admin).post(
        f"/api/v1/deals/{submitted.public_id}/won/", {"final_amount": "1"}, format="json"
    )
    assert response.status_code == 409


def test_api_deal_extend_and_staff_approves_pending(partner_admin, manager, approved):
    response = api(partner_admin).post(f"/api/v1/deals/{approved.public_id}/extend/", {"reason": "Late"}, format="json")
    assert response.status_code == 201 and response.json()["status"] == "pending"
    before = approved.protected_until
    response = api(manager).post(f"/api/v1/deals/{approved.public_id}/approve-extension/", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    approved.refresh_from_db()
    assert approved.protected_until == before + dt.timedelta(days=30)
    # Nothing pending any more.
    assert api(manager).post(f"/api/v1/deals/{approved.public_id}/approve-extension/").status_code == 409


def test_api_deal_reject_named_extension(partner_admin, manager, approved):
    ext = services.deal_request_extension(user=partner_admin, deal=approved, reason="Late")
    response = api(manager).post(
        f"/api/v1/deals/{approved.public_id}/reject-extension/",
        {"extension": str(ext.public_id), "reason": "No"},
        format="json",
    )
    assert response.status_code == 200
    ext.refresh_from_db()
    assert ext.status == ExtensionStatus.REJECTED


def test_api_deal_approve_extension_of_another_deal_is_404(partner_admin, manager, approved):
    ext = services.deal_request_extension(user=partner_admin, deal=approved, reason="Late")
    other = services.deal_approve(user=manager, deal=make_deal(user=partner_admin, customer=_customer(), submit=True))
    response = api(manager).post(
        f"/api/v1/deals/{other.public_id}/approve-extension/", {"extension": str(ext.public_id)}, format="json"
    )
    assert response.status_code == 404


def test_api_deal_extend_forbidden_for_staff_and_404_for_other_partner(manager, other_partner_user, approved):
    assert api(manager).post(f"/api/v1/deals/{approved.public_id}/extend/", {"reason": "x"}).status_code == 403
    assert (
        api(other_partner_user).post(f"/api/v1/deals/{approved.public_id}/extend/", {"reason": "x"}).status_code == 404
    )


def test_api_deal_extend_on_submitted_is_409(partner_admin, submitted):
    response = api(partner_admin).post(f"/api/v1/deals/{submitted.public_id}/extend/", {"reason": "x"}, format="json")
    assert response.status_code == 409


# --- pre-check ------------------------------------------------------------------------------


def test_api_deal_check_verdicts(partner_admin, other_partner_user, manager):
    client = api(partner_admin)

    def verdict(**customer):
        response = client.post("/api/v1/deals/check/", {"customer": customer}, format="json")
        assert response.status_code == 200
        return response.json()

    assert verdict(name="Nobody Known")["verdict"] == "clear"
    theirs = make_deal(
        user=other_partner_user, customer=customer_data(**ROMASHKA), submit=True, title="Beta secret deal"
    )
    assert verdict(name="Other", website="https://romashka.ru")["verdict"] == "possible_overlap"
    services.deal_approve(user=manager, deal=theirs)
    held = verdict(name="Other", tax_id="7707083893")
    assert held["verdict"] == "held" and held["message"]
    _no_secrets(held, theirs)


def test_api_deal_check_needs_customer_name_and_partner_user(partner_admin, manager):
    response = api(partner_admin).post("/api/v1/deals/check/", {}, format="json")
    assert response.status_code == 400 and "customer" in _error(response)["fields"]
    assert api(manager).post("/api/v1/deals/check/", {"customer": {"name": "x"}}, format="json").status_code == 403


# --- confidentiality ------------------------------------------------------------------------


def test_api_partner_sees_only_a_boolean_about_the_conflict(partner_admin, in_conflict):
    mine, theirs = in_conflict
    client = api(partner_admin)
    listed = client.get("/api/v1/deals/").json()
    detail = client.get(f"/api/v1/deals/{mine.public_id}/").json()
    assert listed["results"][0]["has_conflict"] is True and detail["has_conflict"] is True
    assert detail["conflict"] == {"exists": True, "open": True, "outcome": None}
    assert detail["flags"] == []
    _no_secrets(listed, theirs)
    _no_secrets(detail, theirs)


def test_api_partner_cannot_reach_the_conflict_or_the_other_deal(partner_admin, in_conflict):
    _mine, theirs = in_conflict
    client = api(partner_admin)
    conflict = Conflict.objects.get()
    assert client.get("/api/v1/conflicts/").status_code == 403
    assert client.get(f"/api/v1/conflicts/{conflict.public_id}/").status_code == 403
    assert client.get(f"/api/v1/deals/{theirs.public_id}/").status_code == 404
    _no_secrets(client.get("/api/v1/deals/", {"q": theirs.reference}).json(), theirs)


def test_api_partner_sees_outcome_after_resolution_without_reason(partner_admin, manager, in_conflict):
    mine, theirs = in_conflict
    conflict = Conflict.objects.get()
    response = api(manager).post(
        f"/api/v1/conflicts/{conflict.public_id}/resolve/",
        {"outcome": "award", "winner": str(theirs.public_id), "reason": "Beta first 987654"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "resolved"
    detail = api(partner_admin).get(f"/api/v1/deals/{mine.public_id}/").json()
    assert detail["status"] == "rejected" and detail["conflict"]["outcome"] == "lost"
    _no_secrets(detail, theirs)
    assert "Beta first" not in json.dumps(detail)


# --- conflicts (staff) ----------------------------------------------------------------------


def test_api_conflict_list_and_retrieve_with_evidence(manager, in_conflict):
    mine, theirs = in_conflict
    client = api(manager)
    listed = client.get("/api/v1/conflicts/", {"status": "open"}).json()
    assert listed["count"] == 1
    conflict = Conflict.objects.get()
    data = client.get(f"/api/v1/conflicts/{conflict.public_id}/").json()
    assert {data["registration_low"]["id"], data["registration_high"]["id"]} == {
        str(mine.public_id),
        str(theirs.public_id),
    }
    assert "tax_id" in data["matched_fields"] and data["evidence"]
    assert data["proposed_resolution"]["winner"] == str(theirs.public_id)
    assert client.get("/api/v1/conflicts/", {"status": "resolved"}).json()["count"] == 0


def test_api_conflict_resolve_validation_and_double_resolve(manager, in_conflict):
    mine, _theirs = in_conflict
    conflict = Conflict.objects.get()
    client = api(manager)
    url = f"/api/v1/conflicts/{conflict.public_id}/resolve/"
    response = client.post(url, {"outcome": "award", "winner": str(uuid.uuid4()), "reason": "x"}, format="json")
    assert response.status_code == 400 and "winner" in _error(response)["fields"]
    response = client.post(url, {"outcome": "award", "reason": "x"}, format="json")
    assert response.status_code == 400
    assert client.post(url, {"outcome": "co_sell", "reason": "Both"}, format="json").status_code == 200
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.RESOLVED
    assert client.post(url, {"outcome": "co_sell", "reason": "Again"}, format="json").status_code == 409


def test_api_conflict_resolve_forbidden_for_partner(partner_admin, in_conflict):
    conflict = Conflict.objects.get()
    response = api(partner_admin).post(
        f"/api/v1/conflicts/{conflict.public_id}/resolve/", {"outcome": "co_sell", "reason": "x"}, format="json"
    )
    assert response.status_code == 403
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.OPEN


def test_api_conflict_unknown_id_is_404(manager):
    assert api(manager).get(f"/api/v1/conflicts/{uuid.uuid4()}/").status_code == 404


# --- products -------------------------------------------------------------------------------


def test_api_products_readable_by_partner_users(partner_rep, products):
    data = api(partner_rep).get("/api/v1/products/").json()
    assert {p["id"] for p in data["results"]} == {p.pk for p in products}
    assert data["results"][0]["line"]["code"] == "firewalls"
    assert api(partner_rep).get(f"/api/v1/products/{products[0].pk}/").status_code == 200


def test_api_products_are_read_only(manager, products):
    response = api(manager).post("/api/v1/products/", {"name": "x"}, format="json")
    assert response.status_code == 405


def test_api_products_query_count_does_not_grow(partner_rep, django_assert_max_num_queries):
    line = deal_factories.ProductLineFactory()
    deal_factories.ProductFactory.create_batch(3, line=line)
    client = api(partner_rep)
    with django_assert_max_num_queries(20) as small:
        client.get("/api/v1/products/")
    deal_factories.ProductFactory.create_batch(12, line=deal_factories.ProductLineFactory())
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/api/v1/products/").json()["count"] == 15
