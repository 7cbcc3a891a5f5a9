"""Sales record pages: staff (`staff:sales_*`, the partner page's sales slot) and cabinet
(`cabinet:sales_*`). Thin adapters over deals.selectors_sales and deals.services."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from deals import selectors_sales as selectors
from deals import services
from deals.forms.sales import SalesFilterForm, SalesImportForm, SalesRecordForm, SalesReturnForm
from deals.models import SalesKind
from deals.sales_csv import parse_sales_csv, template_rows
from partners.selectors import partner_get_for_user
from prm.exceptions import ApplicationError
from prm.money import base_currency
from prm.permissions import PartnerAdminRequiredMixin, PartnerUserRequiredMixin, StaffRequiredMixin
from prm.web import csv_response, form_add_service_errors, safe_next

PAGE_SIZE = 50
FRAGMENT_RECORDS = 10
CHART_MONTHS = 24
SESSION_KEY = "sales_import"

CSV_HEADER = [
    gettext_lazy("Partner"),
    gettext_lazy("Kind"),
    gettext_lazy("Date"),
    gettext_lazy("Reference"),
    gettext_lazy("SKU"),
    gettext_lazy("Product"),
    gettext_lazy("Quantity"),
    gettext_lazy("Amount"),
    gettext_lazy("Currency"),
    gettext_lazy("Source"),
    gettext_lazy("Note"),
]


def _export(qs):
    def rows():
        yield CSV_HEADER
        for r in qs.iterator(chunk_size=1000):
            yield [
                r.partner.name,
                r.kind,
                r.occurred_on.isoformat(),
                r.reference,
                r.product.sku if r.product else "",
                r.product.name if r.product else "",
                "" if r.quantity is None else r.quantity,
                r.amount,
                r.currency,
                r.source,
                r.note,
            ]

    return csv_response(rows(), f"sales-{timezone.localdate().isoformat()}.csv")


def _list_context(request, *, staff: bool):
    form = SalesFilterForm(request.GET or None, staff=staff)
    qs = selectors.sales_list_for_user(user=request.user, filters=form.filters() if form.is_bound else {})
    return form, qs


def chart_data(*, partner_ids, months: int = CHART_MONTHS) -> dict:
    """Monthly sell-in and sell-out in the base currency for the last `months` months."""
    until = timezone.localdate()
    index = until.year * 12 + until.month - 1 - (months - 1)
    since = dt.date(index // 12, index % 12 + 1, 1)
    axis = selectors.month_starts(since, until)
    series = {SalesKind.SELL_IN: dict.fromkeys(axis, 0.0), SalesKind.SELL_OUT: dict.fromkeys(axis, 0.0)}
    for total in selectors.sales_monthly_totals(partner_ids=partner_ids, since=since, until=until, strict=False):
        series[total.kind][total.month] = float(total.amount)
    return {
        "labels": [m.strftime("%Y-%m") for m in axis],
        "datasets": [
            {"label": str(SalesKind.SELL_IN.label), "data": list(series[SalesKind.SELL_IN].values())},
            {"label": str(SalesKind.SELL_OUT.label), "data": list(series[SalesKind.SELL_OUT].values())},
        ],
        "currency": base_currency(),
    }


# --- staff ------------------------------------------------------------------------------------


class SalesListView(StaffRequiredMixin, View):
    def get(self, request):
        form, qs = _list_context(request, staff=True)
        if request.GET.get("format") == "csv":
            return _export(qs)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {"form": form, "page_obj": page, "records": page.object_list, "totals": selectors.sales_totals(qs)}
        return render(request, "staff/sales/list.html", context)


class SalesCreateView(StaffRequiredMixin, View):
    template = "staff/sales/form.html"

    def get(self, request):
        initial = {"partner": request.GET.get("partner"), "currency": base_currency()}
        return render(request, self.template, {"form": SalesRecordForm(initial=initial, staff=True)})

    def post(self, request):
        form = SalesRecordForm(request.POST, staff=True)
        if form.is_valid():
            data = dict(form.cleaned_data)
            partner = data.pop("partner")
            try:
                record = services.sales_record_create(actor=request.user, partner=partner, **data)
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Sale recorded: %(record)s.") % {"record": record})
                return redirect(safe_next(request, reverse("staff:sales_list")))
        return render(request, self.template, {"form": form}, status=400)


class SalesReturnView(StaffRequiredMixin, View):
    template = "staff/sales/return.html"
    list_url = "staff:sales_list"

    def _record(self, request, public_id):
        return selectors.sales_get_for_user(user=request.user, public_id=public_id)

    def _context(self, record, form):
        amount, quantity = services.sales_record_net(record)
        return {"record": record, "form": form, "net_amount": amount, "net_quantity": quantity}

    def get(self, request, public_id):
        record = self._record(request, public_id)
        return render(request, self.template, self._context(record, SalesReturnForm()))

    def post(self, request, public_id):
        record = self._record(request, public_id)
        form = SalesReturnForm(request.POST)
        if form.is_valid():
            try:
                result = services.sales_record_return(actor=request.user, record=record, **form.cleaned_data)
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Return recorded: %(record)s.") % {"record": result})
                return redirect(reverse(self.list_url))
        return render(request, self.template, self._context(record, form), status=400)


class _ImportBase(View):
    template = ""
    url_name = ""
    list_url = ""
    staff = True

    def _partner(self, request):
        return None if self.staff else request.user.partner

    def get(self, request):
        request.session.pop(SESSION_KEY, None)
        return render(request, self.template, {"form": SalesImportForm(), "url_name": self.url_name})

    def post(self, request):
        if request.POST.get("confirm"):
            return self._confirm(request)
        form = SalesImportForm(request.POST, request.FILES)
        context = {"form": form, "url_name": self.url_name}
        if not form.is_valid():
            return render(request, self.template, context, status=400)
        try:
            rows = parse_sales_csv(form.cleaned_data["file"].read(), need_partner=self.staff)
            result = services.sales_records_import(
                actor=request.user, rows=rows, partner=self._partner(request), dry_run=True
            )
        except ApplicationError as exc:
            form_add_service_errors(form, exc, field_map={"file": "file"})
            return render(request, self.template, context, status=400)
        token = uuid.uuid4().hex
        if result.ok and result.new:
            request.session[SESSION_KEY] = {"token": token, "rows": rows}
        context.update({"result": result, "token": token, "preview": True})
        return render(request, self.template, context, status=200 if result.ok else 400)

    def _confirm(self, request):
        stored = request.session.get(SESSION_KEY)
        if not stored or stored.get("token") != request.POST.get("token"):
            messages.error(request, _("This preview has expired; upload the file again."))
            return redirect(reverse(self.url_name))
        try:
            result = services.sales_records_import(
                actor=request.user, rows=stored["rows"], partner=self._partner(request)
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(reverse(self.url_name))
        request.session.pop(SESSION_KEY, None)
        if not result.ok:
            messages.error(request, _("The file no longer passes the checks; upload it again."))
            return redirect(reverse(self.url_name))
        messages.success(
            request,
            _("Imported %(created)s lines; %(duplicates)s were already imported and were skipped.")
            % {"created": result.created, "duplicates": result.duplicates},
        )
        return redirect(reverse(self.list_url))


class SalesImportView(StaffRequiredMixin, _ImportBase):
    template = "staff/sales/import.html"
    url_name = "staff:sales_import"
    list_url = "staff:sales_list"


class SalesImportTemplateView(StaffRequiredMixin, View):
    def get(self, request):
        return csv_response(template_rows(with_partner=True), "sales-template.csv")


class PartnerSalesFragmentView(StaffRequiredMixin, View):
    """Loaded by the partner page with hx-get: the monthly chart and the latest records."""

    def get(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        records = list(
            selectors.sales_list_for_user(user=request.user, filters={"partner": partner})[:FRAGMENT_RECORDS]
        )
        context = {"partner": partner, "records": records, "chart": chart_data(partner_ids=[partner.pk])}
        return render(request, "staff/sales/_partner_sales.html", context)


# --- cabinet ----------------------------------------------------------------------------------


class CabinetSalesListView(PartnerUserRequiredMixin, View):
    """My company's sales (reps read; the partner admin also reports sell-out and imports)."""

    def get(self, request, form=None, status=200):
        filter_form, qs = _list_context(request, staff=False)
        if request.GET.get("format") == "csv":
            return _export(qs)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "filter_form": filter_form,
            "page_obj": page,
            "records": page.object_list,
            "totals": selectors.sales_totals(qs),
            "form": form if form is not None else SalesRecordForm(initial={"currency": base_currency()}),
            "chart": chart_data(partner_ids=[request.user.partner_id], months=12),
        }
        return render(request, "cabinet/sales/list.html", context, status=status)


class CabinetSalesCreateView(PartnerAdminRequiredMixin, View):
    def post(self, request):
        form = SalesRecordForm(request.POST)
        if form.is_valid():
            try:
                record = services.sales_record_create(
                    actor=request.user, partner=request.user.partner, kind=SalesKind.SELL_OUT, **form.cleaned_data
                )
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Sell-out reported: %(record)s.") % {"record": record})
                return redirect(reverse("cabinet:sales_list"))
        return CabinetSalesListView().get(request, form=form, status=400)


class CabinetSalesImportView(PartnerAdminRequiredMixin, _ImportBase):
    template = "cabinet/sales/import.html"
    url_name = "cabinet:sales_import"
    list_url = "cabinet:sales_list"
    staff = False


class CabinetSalesImportTemplateView(PartnerAdminRequiredMixin, View):
    def get(self, request):
        return csv_response(template_rows(with_partner=False), "sell-out-template.csv")


staff_urlpatterns = [
    path("sales/", SalesListView.as_view(), name="sales_list"),
    path("sales/new/", SalesCreateView.as_view(), name="sales_create"),
    path("sales/import/", SalesImportView.as_view(), name="sales_import"),
    path("sales/import/template.csv", SalesImportTemplateView.as_view(), name="sales_import_template"),
    path("sales/<uuid:public_id>/return/", SalesReturnView.as_view(), name="sales_return"),
    path("partners/<uuid:public_id>/sales/", PartnerSalesFragmentView.as_view(), name="partner_sales"),
]

cabinet_urlpatterns = [
    path("sales/", CabinetSalesListView.as_view(), name="sales_list"),
    path("sales/new/", CabinetSalesCreateView.as_view(), name="sales_create"),
    path("sales/import/", CabinetSalesImportView.as_view(), name="sales_import"),
    path("sales/import/template.csv", CabinetSalesImportTemplateView.as_view(), name="sales_import_template"),
]
