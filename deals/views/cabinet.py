"""The partner cabinet's deal registration pages: thin adapters over deals.selectors (reads,
scoped to the user: a rep sees its own registrations, a partner admin its company's) and
deals.services (writes).

Confidentiality: a partner learns only that another registration exists and the outcome for
its own (selectors.conflict_summary_for_partner); nothing here renders conflict rows, flags,
flag evidence or the other side of a conflict.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from deals import selectors, services
from deals.forms.cabinet import DealFilterForm, DealForm, ExtensionRequestForm, LostForm, PrecheckForm, WonForm
from deals.models import DealStatus, ExtensionStatus
from prm.exceptions import ApplicationError, StateError
from prm.permissions import PartnerUserRequiredMixin
from prm.web import csv_response, form_add_service_errors

DEALS_PER_PAGE = 25
OPEN_STATUSES = [DealStatus.DRAFT, DealStatus.RETURNED, DealStatus.SUBMITTED, DealStatus.APPROVED]
HOME_CARD_LIMIT = 5

# The customer dict's keys as the service names them → the form's field names.
CUSTOMER_FIELD_MAP = {
    "name": "customer_name",
    "website": "customer_website",
    "tax_id": "customer_tax_id",
    "country": "customer_country",
    "city": "customer_city",
    "customer": "customer_name",
}


class DealListView(PartnerUserRequiredMixin, View):
    """My company's registrations (a rep: its own), filtered; `?format=csv` exports the
    filtered list (only the partner's own rows and fields)."""

    def get(self, request):
        form = DealFilterForm(request.GET)
        deals = selectors.deal_list_for_user(request.user, form.filters())
        if request.GET.get("format") == "csv":
            return _csv(deals)
        page = Paginator(deals, DEALS_PER_PAGE).get_page(request.GET.get("page"))
        context = {"filter_form": form, "page_obj": page, "deals": page.object_list, "now": timezone.now()}
        return render(request, "cabinet/deals/list.html", context)


CSV_HEADER = [
    gettext_lazy("Reference"),
    gettext_lazy("Status"),
    gettext_lazy("End customer"),
    gettext_lazy("Opportunity"),
    gettext_lazy("Products"),
    gettext_lazy("Value"),
    gettext_lazy("Currency"),
    gettext_lazy("Stage"),
    gettext_lazy("Expected close date"),
    gettext_lazy("Registered by"),
    gettext_lazy("Submitted"),
    gettext_lazy("Review due"),
    gettext_lazy("Protected until"),
]


def _iso(value) -> str:
    return value.isoformat() if value else ""


def _csv(deals):
    def rows():
        yield [str(h) for h in CSV_HEADER]
        for deal in deals.iterator(chunk_size=500):
            yield (
                deal.reference,
                deal.get_status_display(),
                deal.customer_as_entered.name,
                deal.title,
                ", ".join(p.name for p in deal.products.all()),
                deal.value,
                deal.currency,
                deal.get_stage_display(),
                _iso(deal.expected_close_date),
                deal.submitted_by.full_name if deal.submitted_by else "",
                _iso(deal.submitted_at),
                _iso(deal.review_due_at),
                _iso(deal.protected_until),
            )

    return csv_response(rows(), "registrations.csv")


class DealCreateView(PartnerUserRequiredMixin, View):
    template_name = "cabinet/deals/form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": DealForm(), "deal": None})

    def post(self, request):
        form = DealForm(request.POST)
        submit = request.POST.get("action") == "submit"
        if form.is_valid():
            try:
                deal = services.deal_create(
                    user=request.user, partner=self.partner, submit=submit, **form.service_kwargs()
                )
            except ApplicationError as exc:
                form_add_service_errors(form, exc, field_map=CUSTOMER_FIELD_MAP)
            else:
                if submit:
                    messages.success(request, _("Registration %(ref)s submitted for review.") % {"ref": deal.reference})
                else:
                    messages.success(request, _("Draft %(ref)s saved.") % {"ref": deal.reference})
                return redirect("cabinet:deal_detail", public_id=deal.public_id)
        return render(request, self.template_name, {"form": form, "deal": None})


class DealEditView(PartnerUserRequiredMixin, View):
    """Edit a draft or returned registration; "submit" saves and submits in one go."""

    template_name = "cabinet/deals/form.html"

    def get(self, request, public_id):
        deal = selectors.deal_get_for_user(request.user, public_id)
        if not deal.is_editable:
            messages.error(request, _("This registration can no longer be edited."))
            return redirect("cabinet:deal_detail", public_id=deal.public_id)
        form = DealForm(initial=DealForm.initial_from(deal))
        return render(request, self.template_name, {"form": form, "deal": deal})

    def post(self, request, public_id):
        deal = selectors.deal_get_for_user(request.user, public_id)
        form = DealForm(request.POST)
        submit = request.POST.get("action") == "submit"
        if form.is_valid():
            try:
                deal = services.deal_update(user=request.user, deal=deal, **form.service_kwargs())
                if submit:
                    deal = services.deal_submit(user=request.user, deal=deal)
            except ApplicationError as exc:
                form_add_service_errors(form, exc, field_map=CUSTOMER_FIELD_MAP)
            else:
                text = _("Registration %(ref)s submitted for review.") if submit else _("Changes saved.")
                messages.success(request, text % {"ref": deal.reference})
                return redirect("cabinet:deal_detail", public_id=deal.public_id)
        return render(request, self.template_name, {"form": form, "deal": deal})


class DealCheckView(PartnerUserRequiredMixin, View):
    """HTMX: the live pre-submit verdict for the customer and products typed so far. It never
    says whose registration it ran into."""

    def get(self, request):
        return self._check(request, request.GET)

    def post(self, request):
        return self._check(request, request.POST)

    def _check(self, request, data):
        result = services.deal_precheck(partner=self.partner, **PrecheckForm(data).precheck_kwargs())
        return render(request, "cabinet/deals/_precheck.html", {"result": result})


def _detail_context(request, deal, **forms) -> dict:
    extensions = list(selectors.extensions_of(deal))
    used = sum(1 for e in extensions if e.status in (ExtensionStatus.PENDING, ExtensionStatus.APPROVED))
    allowed = services.max_extensions_for(deal.partner)
    return {
        "deal": deal,
        "conflict": selectors.conflict_summary_for_partner(deal),
        "timeline": selectors.deal_history_for_partner(deal),
        "extensions": extensions,
        "extensions_left": max(0, allowed - used),
        "extension_pending": any(e.status == ExtensionStatus.PENDING for e in extensions),
        "review_left": selectors.review_time_left(deal),
        "now": timezone.now(),
        "extension_form": forms.get("extension_form") or ExtensionRequestForm(),
        "won_form": forms.get("won_form") or WonForm(),
        "lost_form": forms.get("lost_form") or LostForm(),
    }


class DealDetailView(PartnerUserRequiredMixin, View):
    def get(self, request, public_id):
        deal = selectors.deal_get_for_user(request.user, public_id)
        return render(request, "cabinet/deals/detail.html", _detail_context(request, deal))


class DealSubmitView(PartnerUserRequiredMixin, View):
    def post(self, request, public_id):
        deal = selectors.deal_get_for_user(request.user, public_id)
        try:
            deal = services.deal_submit(user=request.user, deal=deal)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Registration %(ref)s submitted for review.") % {"ref": deal.reference})
        return redirect("cabinet:deal_detail", public_id=deal.public_id)


class _DealFormActionView(PartnerUserRequiredMixin, View):
    """POST a small form to a service; bad input re-renders the registration page with the form
    (400), a refused transition comes back as a message on the page."""

    form_class = None
    form_key = ""
    success_message = ""

    def act(self, deal, data):
        raise NotImplementedError

    def post(self, request, public_id):
        deal = selectors.deal_get_for_user(request.user, public_id)
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                self.act(deal, form.cleaned_data)
            except StateError as exc:
                # Not a problem with the input: the registration is not in a state for this.
                messages.error(request, exc.message)
                return redirect("cabinet:deal_detail", public_id=deal.public_id)
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, self.success_message)
                return redirect("cabinet:deal_detail", public_id=deal.public_id)
        deal = selectors.deal_get_for_user(request.user, public_id)
        context = _detail_context(request, deal, **{self.form_key: form})
        return render(request, "cabinet/deals/detail.html", context, status=400)


class DealExtendView(_DealFormActionView):
    form_class = ExtensionRequestForm
    form_key = "extension_form"
    success_message = gettext_lazy("Extension requested. Your channel manager will decide on it.")

    def act(self, deal, data):
        services.deal_request_extension(user=self.request.user, deal=deal, reason=data["reason"])


class DealWonView(_DealFormActionView):
    form_class = WonForm
    form_key = "won_form"
    success_message = gettext_lazy("Registration marked as won.")

    def act(self, deal, data):
        services.deal_mark_won(user=self.request.user, deal=deal, final_amount=data["final_amount"])


class DealLostView(_DealFormActionView):
    form_class = LostForm
    form_key = "lost_form"
    success_message = gettext_lazy("Registration marked as lost.")

    def act(self, deal, data):
        services.deal_mark_lost(user=self.request.user, deal=deal, reason=data["reason"])


class DealHomeCardView(PartnerUserRequiredMixin, View):
    """HTMX fragment for the cabinet home page: my open registrations with their countdowns."""

    def get(self, request):
        deals = selectors.deal_list_for_user(request.user, {"status": OPEN_STATUSES})[:HOME_CARD_LIMIT]
        return render(request, "cabinet/deals/_home_card.html", {"deals": deals, "now": timezone.now()})


urlpatterns = [
    path("deals/", DealListView.as_view(), name="deal_list"),
    path("deals/new/", DealCreateView.as_view(), name="deal_create"),
    path("deals/check/", DealCheckView.as_view(), name="deal_check"),
    path("deals/open/", DealHomeCardView.as_view(), name="deal_home_card"),
    path("deals/<uuid:public_id>/", DealDetailView.as_view(), name="deal_detail"),
    path("deals/<uuid:public_id>/edit/", DealEditView.as_view(), name="deal_edit"),
    path("deals/<uuid:public_id>/submit/", DealSubmitView.as_view(), name="deal_submit"),
    path("deals/<uuid:public_id>/extend/", DealExtendView.as_view(), name="deal_extend"),
    path("deals/<uuid:public_id>/won/", DealWonView.as_view(), name="deal_won"),
    path("deals/<uuid:public_id>/lost/", DealLostView.as_view(), name="deal_lost"),
]
