"""Sales pages, staff and cabinet: happy path, anonymous, partner B (404), query counts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deals.models import SalesRecord
from tests.deals.factories import ProductFactory
from tests.deals.sales_helpers import make_sale, rates
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def _day(n=5):
    return (timezone.localdate() - dt.timedelta(days=n)).isoformat()


STAFF_URLS = [
    ("staff:sales_list", False),
    ("staff:sales_create", False),
    ("staff:sales_import", False),
    ("staff:sales_import_template", False),
]


@pytest.mark.parametrize(("name", "_"), STAFF_URLS)
def test_staff_sales_pages_anonymous_redirect_and_partner_404(name, _, other_partner_client):
    url = reverse(name)
    assert Client().get(url).status_code == 302
    assert other_partner_client.get(url).status_code == 404


def test_staff_sales_list_shows_records_and_base_currency_totals(manager, manager_client, partner_a, partner_b):
    rates(USD="90")
    make_sale(actor=manager, partner=partner_a, amount="1000", reference="A-1")
    make_sale(actor=manager, partner=partner_b, amount="10", currency="USD", reference="B-1")
    make_sale(actor=manager, partner=partner_a, kind="sell_out", amount="50", reference="A-2")
    response = manager_client.get(reverse("staff:sales_list"))
    assert response.status_code == 200
    totals = response.context["totals"]
    assert totals.sell_in == Decimal("1900.00") and totals.sell_out == Decimal("50.00")
    filtered = manager_client.get(reverse("staff:sales_list"), {"partner": partner_a.public_id, "kind": "sell_in"})
    assert [r.reference for r in filtered.context["records"]] == ["A-1"]


def test_staff_sales_list_warns_about_missing_rates(manager, manager_client, partner_a):
    make_sale(actor=manager, partner=partner_a, amount="10", currency="EUR")
    response = manager_client.get(reverse("staff:sales_list"))
    assert response.context["totals"].missing_rates == ("EUR",)
    assert b'data-testid="missing-rates"' in response.content


def test_staff_sales_list_query_count_does_not_grow(manager, manager_client, partner_a, django_assert_max_num_queries):
    product = ProductFactory()
    for i in range(3):
        make_sale(actor=manager, partner=partner_a, reference=f"X{i}", product=product)
    with django_assert_max_num_queries(14) as small:
        manager_client.get(reverse("staff:sales_list"))
    for i in range(30):
        make_sale(actor=manager, partner=PartnerFactory(), reference=f"Y{i}", product=ProductFactory(), days_ago=i + 1)
    with django_assert_max_num_queries(len(small.captured_queries)):
        manager_client.get(reverse("staff:sales_list"))


def test_staff_sales_export_csv(manager, manager_client, partner_a):
    make_sale(actor=manager, partner=partner_a, reference="=cmd")
    response = manager_client.get(reverse("staff:sales_list"), {"format": "csv"})
    body = b"".join(response.streaming_content).decode()
    assert "Alpha Systems" in body and "'=cmd" in body


def test_staff_sales_create_records_and_shows_errors(manager_client, partner_a):
    url = reverse("staff:sales_create")
    data = {
        "partner": partner_a.public_id,
        "kind": "sell_in",
        "occurred_on": _day(),
        "amount": "100",
        "currency": "RUB",
        "reference": "M-1",
    }
    assert manager_client.post(url, data).status_code == 302
    assert SalesRecord.objects.get().reference == "M-1"
    response = manager_client.post(url, {**data, "quantity": "-2"})
    assert response.status_code == 400 and response.context["form"].errors["quantity"]
    response = manager_client.post(url, {**data, "reference": "M-1"})
    assert response.status_code == 400 and SalesRecord.objects.count() == 1


def test_staff_sales_return_flow(manager, manager_client, partner_a, other_partner_client):
    sale = make_sale(actor=manager, partner=partner_a, amount="300", quantity=3)
    url = reverse("staff:sales_return", args=[sale.public_id])
    assert Client().get(url).status_code == 302
    assert other_partner_client.get(url).status_code == 404
    assert manager_client.get(url).status_code == 200
    too_much = manager_client.post(url, {"amount": "301", "reason": "x"})
    assert too_much.status_code == 400
    assert manager_client.post(url, {"quantity": "1", "reason": "broken"}).status_code == 302
    assert SalesRecord.objects.get(amount__lt=0).amount == Decimal("-100.00")


def _csv(text: str, *, bom=False, name="sales.csv"):
    data = text.encode("utf-8")
    return SimpleUploadedFile(name, (b"\xef\xbb\xbf" if bom else b"") + data, content_type="text/csv")


def test_staff_sales_import_preview_then_confirm_then_reimport_is_a_no_op(manager_client, partner_a):
    text = (
        "partner;kind;date;reference;sku;quantity;amount;currency;note\n"
        f"{partner_a.name};sell_in;{_day()};IMP-1;;2;1000;RUB;\n"
        f"{partner_a.name};sell_in;{_day(40)};IMP-2;;1;500;RUB;first\n"
    )
    url = reverse("staff:sales_import")
    preview = manager_client.post(url, {"file": _csv(text, bom=True)})
    assert preview.status_code == 200 and preview.context["result"].new == 2
    assert not SalesRecord.objects.exists()
    token = preview.context["token"]
    done = manager_client.post(url, {"confirm": "1", "token": token})
    assert done.status_code == 302 and SalesRecord.objects.count() == 2
    again = manager_client.post(url, {"file": _csv(text.replace(";", ","))})
    assert again.context["result"].duplicates == 2 and b'data-testid="import-nothing"' in again.content
    assert manager_client.post(url, {"confirm": "1", "token": token}).status_code == 302
    assert SalesRecord.objects.count() == 2


def test_staff_sales_import_shows_line_errors_and_writes_nothing(manager_client, partner_a):
    text = (
        "partner,kind,date,reference,amount,currency\n"
        f"{partner_a.name},sell_in,{_day()},E-1,100,RUB\n"
        f"{partner_a.name},sell_in,2999-01-01,E-2,100,XXX\n"
    )
    response = manager_client.post(reverse("staff:sales_import"), {"file": _csv(text)})
    assert response.status_code == 400
    assert [r.line for r in response.context["result"].errors] == [3]
    assert b'data-testid="import-errors"' in response.content and not SalesRecord.objects.exists()


def test_staff_sales_import_refuses_bad_files(manager_client):
    url = reverse("staff:sales_import")
    latin = SimpleUploadedFile("s.csv", "date;amount\n".encode("utf-16"), content_type="text/csv")
    assert manager_client.post(url, {"file": latin}).status_code == 400
    missing = manager_client.post(url, {"file": _csv("date,amount\n2026-01-01,5\n")})
    assert missing.status_code == 400 and "reference" in missing.content.decode()


def test_staff_sales_import_template_downloads(manager_client):
    response = manager_client.get(reverse("staff:sales_import_template"))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0].startswith("partner,kind,date,reference")


def test_partner_sales_fragment(manager, manager_client, partner_a, other_partner_client):
    rates()
    make_sale(actor=manager, partner=partner_a, amount="700", reference="F-1")
    url = reverse("staff:partner_sales", args=[partner_a.public_id])
    assert Client().get(url).status_code == 302
    assert other_partner_client.get(url).status_code == 404
    response = manager_client.get(url)
    assert response.status_code == 200 and b"F-1" in response.content
    chart = response.context["chart"]
    assert len(chart["labels"]) == 24 and sum(chart["datasets"][0]["data"]) == 700.0


def test_partner_page_has_the_sales_slot(manager_client, partner_a):
    response = manager_client.get(reverse("staff:partner_detail", args=[partner_a.public_id]))
    assert reverse("staff:partner_sales", args=[partner_a.public_id]).encode() in response.content


# --- cabinet --------------------------------------------------------------------------------


def test_cabinet_sales_list_own_records_only(manager, partner_a, partner_b, partner_rep_client, other_partner_client):
    make_sale(actor=manager, partner=partner_a, reference="MINE")
    make_sale(actor=manager, partner=partner_b, reference="THEIRS")
    url = reverse("cabinet:sales_list")
    assert Client().get(url).status_code == 302
    response = partner_rep_client.get(url)
    assert [r.reference for r in response.context["records"]] == ["MINE"]
    assert b'data-testid="sales-read-only"' in response.content and b"sellout-form" not in response.content
    assert [r.reference for r in other_partner_client.get(url).context["records"]] == ["THEIRS"]


def test_cabinet_sales_list_query_count(manager, partner_a, partner_admin_client, django_assert_max_num_queries):
    make_sale(actor=manager, partner=partner_a, reference="Q0")
    url = reverse("cabinet:sales_list")
    with django_assert_max_num_queries(25) as small:
        partner_admin_client.get(url)
    for i in range(25):
        make_sale(actor=manager, partner=partner_a, reference=f"Q{i + 1}", product=ProductFactory(), days_ago=i + 1)
    with django_assert_max_num_queries(len(small.captured_queries)):
        partner_admin_client.get(url)


def test_cabinet_partner_admin_reports_sell_out(partner_admin_client, partner_a, partner_rep_client):
    url = reverse("cabinet:sales_create")
    data = {"occurred_on": _day(), "amount": "250", "currency": "RUB", "reference": "SO-1"}
    assert partner_rep_client.post(url, data).status_code == 404
    assert partner_admin_client.post(url, data).status_code == 302
    record = SalesRecord.objects.get()
    assert record.partner == partner_a and record.kind == "sell_out"
    bad = partner_admin_client.post(url, {**data, "reference": "SO-2", "currency": "GBP"})
    assert bad.status_code == 400


def test_cabinet_sales_import_for_partner_admin(partner_admin_client, partner_a, partner_rep_client):
    url = reverse("cabinet:sales_import")
    assert partner_rep_client.get(url).status_code == 404
    assert Client().get(url).status_code == 302
    text = f"date,reference,quantity,amount,currency\n{_day()},C-1,1,99.5,RUB\n"
    preview = partner_admin_client.post(url, {"file": _csv(text)})
    assert preview.status_code == 200
    partner_admin_client.post(url, {"confirm": "1", "token": preview.context["token"]})
    record = SalesRecord.objects.get()
    assert (record.partner, record.kind, record.amount) == (partner_a, "sell_out", Decimal("99.50"))
    template = partner_admin_client.get(reverse("cabinet:sales_import_template"))
    assert b"partner" not in b"".join(template.streaming_content).split(b"\n")[0]


def test_cabinet_sales_pages_are_not_for_staff(manager_client):
    assert manager_client.get(reverse("cabinet:sales_list")).status_code == 404


@pytest.mark.parametrize(
    "name", ["cabinet:sales_list", "cabinet:sales_create", "cabinet:sales_import", "cabinet:sales_import_template"]
)
def test_cabinet_sales_urls_anonymous_go_to_log_in(name):
    assert Client().get(reverse(name)).status_code == 302
    assert Client().post(reverse(name)).status_code == 302
    assert not SalesRecord.objects.exists()


def test_staff_sales_create_and_import_refuse_partner_b_posts(other_partner_client, partner_a):
    data = {"partner": partner_a.public_id, "kind": "sell_in", "occurred_on": _day(), "amount": "1", "currency": "RUB"}
    assert other_partner_client.post(reverse("staff:sales_create"), data).status_code == 404
    assert other_partner_client.post(reverse("staff:sales_import"), {"confirm": "1"}).status_code == 404
    assert not SalesRecord.objects.exists()
