"""/api/v1/sales/: list scoping, filters, create permissions, returns, one error shape."""

import datetime as dt

import pytest
from django.utils import timezone

from deals.models import SalesRecord
from tests.deals.factories import ProductFactory
from tests.deals.sales_helpers import make_sale
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/sales/"


def _day(n=3):
    return (timezone.localdate() - dt.timedelta(days=n)).isoformat()


def test_sales_api_anonymous_is_401(api_client):
    assert api_client.get(URL).status_code == 401


def test_sales_api_partner_sees_own_records_only(api_client, manager, partner_a, partner_b, other_partner_user):
    make_sale(actor=manager, partner=partner_a, reference="A")
    make_sale(actor=manager, partner=partner_b, reference="B")
    api_client.force_authenticate(other_partner_user)
    body = api_client.get(URL).json()
    assert [r["reference"] for r in body["results"]] == ["B"]


def test_sales_api_staff_filters_and_orders(api_client, manager, partner_a, partner_b):
    product = ProductFactory(sku="SKU-F")
    make_sale(actor=manager, partner=partner_a, reference="A1", amount="5", product=product)
    make_sale(actor=manager, partner=partner_a, reference="A2", amount="50", kind="sell_out")
    make_sale(actor=manager, partner=partner_b, reference="B1")
    api_client.force_authenticate(manager)
    refs = lambda **q: [r["reference"] for r in api_client.get(URL, q).json()["results"]]  # noqa: E731
    assert set(refs(partner=str(partner_a.public_id))) == {"A1", "A2"}
    assert refs(kind="sell_out") == ["A2"]
    assert refs(sku="SKU-F") == ["A1"]
    assert refs(partner=str(partner_a.public_id), ordering="amount") == ["A1", "A2"]
    bad = api_client.get(URL, {"kind": "nope"})
    assert bad.status_code == 400 and set(bad.json()["error"]) == {"code", "message", "fields"}


def test_sales_api_list_query_count(api_client, manager, django_assert_max_num_queries):
    for i in range(3):
        make_sale(actor=manager, partner=PartnerFactory(), reference=f"S{i}", product=ProductFactory())
    api_client.force_authenticate(manager)
    with django_assert_max_num_queries(8) as small:
        api_client.get(URL)
    for i in range(20):
        make_sale(actor=manager, partner=PartnerFactory(), reference=f"T{i}", product=ProductFactory())
    with django_assert_max_num_queries(len(small.captured_queries)):
        api_client.get(URL)


def test_sales_api_staff_creates_for_a_partner(api_client, manager, partner_a):
    ProductFactory(sku="P-1")
    api_client.force_authenticate(manager)
    data = {
        "partner": str(partner_a.public_id),
        "kind": "sell_in",
        "occurred_on": _day(),
        "amount": "1200.00",
        "currency": "RUB",
        "product": "P-1",
        "quantity": 3,
        "reference": "API-1",
    }
    response = api_client.post(URL, data, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["product"]["sku"] == "P-1" and response.json()["source"] == "api"
    again = api_client.post(URL, data, format="json")
    assert again.status_code == 400 and "reference" in again.json()["error"]["fields"]
    no_partner = api_client.post(URL, {**data, "partner": None, "reference": "API-2"}, format="json")
    assert no_partner.status_code == 400


def test_sales_api_partner_admin_creates_own_sell_out_only(api_client, partner_admin, partner_a, partner_b):
    api_client.force_authenticate(partner_admin)
    data = {"occurred_on": _day(), "amount": "10", "currency": "USD", "partner": str(partner_b.public_id)}
    response = api_client.post(URL, data, format="json")
    assert response.status_code == 201
    assert SalesRecord.objects.get().partner == partner_a  # the partner field is ignored for partners
    sell_in = api_client.post(URL, {**data, "kind": "sell_in"}, format="json")
    assert sell_in.status_code == 403
    future = api_client.post(URL, {**data, "occurred_on": "2999-01-01"}, format="json")
    assert future.status_code == 400 and "occurred_on" in future.json()["error"]["fields"]


def test_sales_api_rep_cannot_create(api_client, partner_rep):
    api_client.force_authenticate(partner_rep)
    response = api_client.post(URL, {"occurred_on": _day(), "amount": "10", "currency": "RUB"}, format="json")
    assert response.status_code == 403


def test_sales_api_return(api_client, manager, partner_a, other_partner_user):
    sale = make_sale(actor=manager, partner=partner_a, amount="100", quantity=4, kind="sell_out")
    url = f"{URL}{sale.public_id}/return/"
    api_client.force_authenticate(other_partner_user)
    assert api_client.post(url, {"reason": "x"}, format="json").status_code == 404
    api_client.force_authenticate(manager)
    ok = api_client.post(url, {"quantity": 1, "reason": "damaged"}, format="json")
    assert ok.status_code == 201 and ok.json()["amount"] == "-25.00" and ok.json()["quantity"] == -1
    too_much = api_client.post(url, {"amount": "80", "reason": "x"}, format="json")
    assert too_much.status_code == 400 and "amount" in too_much.json()["error"]["fields"]
    assert api_client.post(f"{URL}not-a-uuid/return/", {"reason": "x"}, format="json").status_code == 404
