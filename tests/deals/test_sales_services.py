"""Sales record services: who may record what, validation, returns, CSV import."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from deals import services
from deals.models import SalesRecord
from prm.exceptions import ApplicationError, PermissionDenied
from prm.models import AuditLog
from tests.deals.factories import ProductFactory
from tests.deals.sales_helpers import make_sale

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


def test_sales_record_create_staff_records_sell_in_with_audit(manager, partner_a):
    record = make_sale(actor=manager, partner=partner_a, reference="INV-1", quantity=2)
    assert record.amount == Decimal("1000.00") and record.kind == "sell_in" and record.entered_by == manager
    assert AuditLog.objects.filter(action="sales.create", object_id=str(record.pk), partner_id=partner_a.pk).exists()


def test_sales_record_create_partner_admin_reports_own_sell_out(partner_admin, partner_a):
    record = make_sale(actor=partner_admin, partner=partner_a, kind="sell_out")
    assert record.partner == partner_a


def test_sales_record_create_partner_admin_cannot_record_sell_in(partner_admin, partner_a):
    with pytest.raises(PermissionDenied):
        make_sale(actor=partner_admin, partner=partner_a, kind="sell_in")


def test_sales_record_create_refuses_other_partner_and_reps(partner_admin, partner_rep, partner_a, partner_b):
    with pytest.raises(PermissionDenied):
        make_sale(actor=partner_admin, partner=partner_b, kind="sell_out")
    with pytest.raises(PermissionDenied):
        make_sale(actor=partner_rep, partner=partner_a, kind="sell_out")
    assert not SalesRecord.objects.exists()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"occurred_on": dt.date.today() + dt.timedelta(days=2)}, "occurred_on"),
        ({"amount": "0"}, "amount"),
        ({"amount": "-5", "quantity": 3}, "quantity"),
        ({"amount": "12.345"}, "amount"),
        ({"kind": "sideways"}, "kind"),
    ],
)
def test_sales_record_create_rejects_bad_input_with_field_errors(manager, partner_a, override, field):
    data = {"kind": "sell_in", "occurred_on": TODAY(), "amount": "100", "currency": "RUB", "quantity": None}
    data.update(override)
    with pytest.raises(ApplicationError) as exc:
        services.sales_record_create(actor=manager, partner=partner_a, **data)
    assert field in exc.value.fields
    assert not SalesRecord.objects.exists()


def test_sales_record_create_refuses_a_used_reference(manager, partner_a):
    make_sale(actor=manager, partner=partner_a, reference="INV-9")
    with pytest.raises(ApplicationError) as exc:
        make_sale(actor=manager, partner=partner_a, reference="INV-9")
    assert "reference" in exc.value.fields
    # Same reference for sell-out is another line.
    make_sale(actor=manager, partner=partner_a, reference="INV-9", kind="sell_out")


def test_sales_record_return_full_then_nothing_left(manager, partner_a):
    sale = make_sale(actor=manager, partner=partner_a, amount="500", quantity=5, reference="INV-2")
    ret = services.sales_record_return(actor=manager, record=sale, reason="damaged")
    assert ret.amount == Decimal("-500.00") and ret.quantity == -5
    assert ret.reference.startswith("R-" + sale.public_id.hex) and "INV-2" in ret.note and "damaged" in ret.note
    assert AuditLog.objects.filter(action="sales.return", object_id=str(ret.pk), reason="damaged").exists()
    with pytest.raises(ApplicationError):
        services.sales_record_return(actor=manager, record=sale, amount="1", reason="again")


def test_sales_record_return_partial_quantity_is_pro_rata_and_bounded(manager, partner_a):
    sale = make_sale(actor=manager, partner=partner_a, amount="1000", quantity=10)
    first = services.sales_record_return(actor=manager, record=sale, quantity=3, reason="x")
    assert first.amount == Decimal("-300.00") and first.quantity == -3
    with pytest.raises(ApplicationError) as exc:
        services.sales_record_return(actor=manager, record=sale, quantity=8, reason="x")
    assert "quantity" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        services.sales_record_return(actor=manager, record=sale, amount="700.01", reason="x")
    assert "amount" in exc.value.fields
    services.sales_record_return(actor=manager, record=sale, amount="700", reason="x")
    assert services.sales_record_net(sale) == (Decimal("0.00"), 7)
    assert SalesRecord.objects.filter(partner=partner_a).count() == 3


def test_sales_record_return_needs_a_reason_and_is_not_returnable(manager, partner_a):
    sale = make_sale(actor=manager, partner=partner_a)
    with pytest.raises(ApplicationError):
        services.sales_record_return(actor=manager, record=sale, reason=" ")
    ret = services.sales_record_return(actor=manager, record=sale, amount="10", reason="r")
    with pytest.raises(ApplicationError):
        services.sales_record_return(actor=manager, record=ret, reason="r")


def test_sales_record_return_partner_b_cannot_return_a_sale_of_a(manager, partner_a, other_partner_user):
    sale = make_sale(actor=manager, partner=partner_a, kind="sell_out")
    with pytest.raises(PermissionDenied):
        services.sales_record_return(actor=other_partner_user, record=sale, reason="r")


def _rows(partner, n=3, **override):
    rows = []
    for i in range(n):
        row = {
            "partner": partner.name,
            "kind": "sell_in",
            "date": (TODAY() - dt.timedelta(days=i + 1)).isoformat(),
            "reference": f"INV-{i}",
            "sku": "",
            "quantity": "2",
            "amount": "1 000,50",
            "currency": "rub",
            "note": "",
        }
        row.update(override)
        rows.append(row)
    return rows


def test_sales_records_import_creates_then_reimport_creates_nothing(manager, partner_a):
    product = ProductFactory(sku="ABC-1")
    rows = _rows(partner_a, sku="abc-1")
    result = services.sales_records_import(actor=manager, rows=rows)
    assert result.ok and result.committed and result.created == 3
    records = SalesRecord.objects.filter(partner=partner_a)
    assert records.count() == 3 and {r.product_id for r in records} == {product.pk}
    assert {r.amount for r in records} == {Decimal("1000.50")} and {r.source for r in records} == {"csv"}
    assert AuditLog.objects.filter(action="sales.import", partner_id=partner_a.pk).count() == 1
    again = services.sales_records_import(actor=manager, rows=rows)
    assert again.created == 0 and again.duplicates == 3 and again.ok
    assert SalesRecord.objects.count() == 3


def test_sales_records_import_is_all_or_nothing_with_per_line_errors(manager, partner_a):
    rows = _rows(partner_a, n=4)
    rows[1]["currency"] = "GBP"
    rows[2]["date"] = (TODAY() + dt.timedelta(days=3)).isoformat()
    rows[3]["partner"] = "Nobody Ltd"
    result = services.sales_records_import(actor=manager, rows=rows)
    assert not result.ok and not result.committed
    assert [r.line for r in result.errors] == [3, 4, 5]
    assert "GBP" in result.errors[0].errors[0]
    assert "Nobody Ltd" in " ".join(result.errors[2].errors)
    assert not SalesRecord.objects.exists()


def test_sales_records_import_refuses_duplicate_reference_in_file_and_missing_reference(manager, partner_a):
    rows = _rows(partner_a, n=3)
    rows[1]["reference"] = rows[0]["reference"]
    rows[2]["reference"] = ""
    result = services.sales_records_import(actor=manager, rows=rows)
    assert [r.line for r in result.errors] == [3, 4]
    assert not SalesRecord.objects.exists()


def test_sales_records_import_dry_run_writes_nothing(manager, partner_a):
    result = services.sales_records_import(actor=manager, rows=_rows(partner_a), dry_run=True)
    assert result.ok and result.new == 3 and not result.committed
    assert not SalesRecord.objects.exists()


def test_sales_records_import_partner_admin_imports_own_sell_out_only(partner_admin, partner_a, partner_b):
    rows = _rows(partner_b, kind="")  # the partner column is ignored for a partner admin
    result = services.sales_records_import(actor=partner_admin, rows=rows)
    assert result.created == 3
    assert set(SalesRecord.objects.values_list("partner_id", "kind")) == {(partner_a.pk, "sell_out")}
    bad = services.sales_records_import(actor=partner_admin, rows=_rows(partner_a, kind="sell_in", reference="X"))
    assert not bad.ok


def test_sales_records_import_refuses_reps(partner_rep, partner_a):
    with pytest.raises(PermissionDenied):
        services.sales_records_import(actor=partner_rep, rows=_rows(partner_a))
