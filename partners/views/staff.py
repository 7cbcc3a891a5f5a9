"""Staff pages for partners (the `staff:` namespace): thin adapters over selectors and services."""

from collections import OrderedDict
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, F, IntegerField, Value, When
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from partners import selectors, services
from partners.forms.staff import (
    AgreementForm,
    ContactForm,
    InteractionForm,
    KamProfileForm,
    PartnerCreateForm,
    PartnerFilterForm,
    PartnerForm,
    StatusChangeForm,
    VerifyForm,
)
from partners.models import PartnerStatus
from prm.exceptions import ApplicationError
from prm.permissions import StaffRequiredMixin
from prm.web import csv_response, form_add_service_errors, is_htmx, safe_next

PAGE_SIZE = 50
TIMELINE_LIMIT = 100
NEXT_STEPS_LIMIT = 300
# Active agreements ending within this many days are flagged on the partner page.
RENEWAL_NOTICE_DAYS = 60
# Suspending or terminating a partner must say why (the service enforces it; the page asks for it).
REASON_REQUIRED = {PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED}

# The lifecycle order, so "sort by status" follows the funnel rather than the alphabet.
_STATUS_ORDER = Case(
    *[When(status=s, then=Value(i)) for i, s in enumerate(PartnerStatus.values)],
    default=Value(99),
    output_field=IntegerField(),
)
SORTS = {
    "name": [F("name").asc(), F("pk").asc()],
    "-name": [F("name").desc(), F("pk").desc()],
    "tier": [F("tier__rank").asc(nulls_first=True), F("name").asc(), F("pk").asc()],
    "-tier": [F("tier__rank").desc(nulls_last=True), F("name").asc(), F("pk").asc()],
    "status": [_STATUS_ORDER.asc(), F("name").asc(), F("pk").asc()],
    "-status": [_STATUS_ORDER.desc(), F("name").asc(), F("pk").asc()],
    "last_activity": [F("last_activity_at").asc(nulls_first=True), F("name").asc(), F("pk").asc()],
    "-last_activity": [F("last_activity_at").desc(nulls_last=True), F("name").asc(), F("pk").asc()],
}


def _error_message(exc) -> str:
    if isinstance(exc, ApplicationError):
        return str(exc.message)
    return " ".join(exc.messages)


def _partner_url(partner, fragment: str = "") -> str:
    url = reverse("staff:partner_detail", args=[partner.public_id])
    return f"{url}#{fragment}" if fragment else url


# --- Partner list and export ---------------------------------------------------------------


def _filtered_partners(request):
    form = PartnerFilterForm(request.GET or None)
    form.is_valid()  # invalid parameters are dropped, the rest still filters
    qs = selectors.partner_list(user=request.user, filters=form.filters())
    return form, qs.order_by(*SORTS[form.ordering()])


def _sort_links(request, current: str) -> dict:
    """Column header links: a click sorts by the column, a second click reverses it."""
    links = {}
    for key in ("name", "tier", "status", "last_activity"):
        query = request.GET.copy()
        query.pop("page", None)
        active = current.lstrip("-") == key
        desc = active and current.startswith("-")
        query["sort"] = f"-{key}" if active and not desc else key
        links[key] = {"query": query.urlencode(), "active": active, "desc": desc}
    return links


class PartnerListView(StaffRequiredMixin, View):
    def get(self, request):
        form, qs = _filtered_partners(request)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "form": form,
            "page_obj": page,
            "partners": page.object_list,
            "sort_links": _sort_links(request, form.ordering()),
            "query_string": request.GET.urlencode(),
            "has_filters": any(v for k, v in request.GET.items() if k not in ("page", "sort")),
        }
        return render(request, "staff/partners/list.html", context)


def _csv_rows(qs):
    yield [
        _("Public id"),
        _("Name"),
        _("Legal name"),
        _("Type"),
        _("Status"),
        _("Tier"),
        _("Tier since"),
        _("Verified"),
        _("Key account"),
        _("Dormant"),
        _("Channel manager"),
        _("Manager e-mail"),
        _("Country"),
        _("Region"),
        _("City"),
        _("Website"),
        _("E-mail"),
        _("Phone"),
        _("Tax id"),
        _("Last activity"),
        _("Created"),
    ]
    yes, no = _("yes"), _("no")
    for p in qs.iterator(chunk_size=1000):
        yield [
            p.public_id,
            p.name,
            p.legal_name,
            p.get_partner_type_display(),
            p.get_status_display(),
            p.tier.name if p.tier else "",
            p.tier_since.isoformat() if p.tier_since else "",
            yes if p.verified else no,
            yes if p.is_key_account else no,
            yes if p.is_dormant else no,
            p.owner.full_name if p.owner else "",
            p.owner.email if p.owner else "",
            p.country,
            p.get_region_display(),
            p.city,
            p.website_domain,
            p.email,
            p.phone,
            p.tax_id,
            timezone.localtime(p.last_activity_at).strftime("%Y-%m-%d %H:%M") if p.last_activity_at else "",
            timezone.localtime(p.created_at).strftime("%Y-%m-%d %H:%M"),
        ]


class PartnerExportView(StaffRequiredMixin, View):
    """Every partner matching the list's filters, streamed as CSV (UTF-8 with BOM for Excel)."""

    def get(self, request):
        _form, qs = _filtered_partners(request)
        return csv_response(_csv_rows(qs), f"partners-{timezone.localdate():%Y-%m-%d}.csv")


# --- Partner page ---------------------------------------------------------------------------


class PartnerDetailView(StaffRequiredMixin, View):
    def get(self, request, public_id):
        partner = selectors.partner_get_for_user(user=request.user, public_id=public_id)
        return render(request, "staff/partners/detail.html", _detail_context(request, partner))


def _detail_context(request, partner, **extra) -> dict:
    kam = selectors.partner_kam_profile(partner=partner)
    today = timezone.localdate()
    transitions = [
        {"value": s, "label": PartnerStatus(s).label, "needs_reason": s in REASON_REQUIRED}
        for s in partner.allowed_transitions()
    ]
    context = {
        "partner": partner,
        "kam": kam,
        "contacts": selectors.contact_list(partner=partner, include_inactive=True),
        "cabinet_users": selectors.partner_user_list(partner=partner),
        "agreements": selectors.agreement_list(partner=partner),
        "interactions": selectors.interaction_list(partner=partner)[:TIMELINE_LIMIT],
        "audit_trail": selectors.partner_audit_trail(partner=partner),
        "transitions": transitions,
        "status_form": StatusChangeForm(),
        "today": today,
        "renewal_horizon": today + timedelta(days=RENEWAL_NOTICE_DAYS),
    }
    context.update(extra)
    return context


class _PartnerActionView(StaffRequiredMixin, View):
    """POST-only action on one partner; errors come back as a message on the partner page."""

    form_class = None
    success_message = ""
    fragment = ""

    def post(self, request, public_id):
        partner = selectors.partner_get_for_user(user=request.user, public_id=public_id)
        form = self.form_class(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(_partner_url(partner, self.fragment))
        try:
            self.perform(request, partner, form.cleaned_data)
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, _error_message(exc))
        else:
            messages.success(request, self.success_message)
        return redirect(_partner_url(partner, self.fragment))

    def perform(self, request, partner, data):  # pragma: no cover - overridden
        raise NotImplementedError


class PartnerStatusView(_PartnerActionView):
    form_class = StatusChangeForm
    fragment = "status"

    def perform(self, request, partner, data):
        services.partner_change_status(
            actor=request.user, partner=partner, status=data["status"], reason=data["reason"]
        )
        self.success_message = _("Status changed to “%(status)s”.") % {"status": PartnerStatus(data["status"]).label}


class PartnerVerifyView(_PartnerActionView):
    form_class = VerifyForm
    fragment = "status"

    def perform(self, request, partner, data):
        services.partner_set_verified(
            actor=request.user, partner=partner, verified=data["verified"], reason=data["reason"]
        )
        self.success_message = _("Marked as verified.") if data["verified"] else _("Verification removed.")


# --- Form pages -------------------------------------------------------------------------------


class _ServiceFormView(StaffRequiredMixin, View):
    """GET shows the form; POST validates it and hands clean data to a service.
    A service's refusal is shown on the form and nothing is written."""

    template_name = "staff/partners/form.html"
    form_class = None
    title = ""
    success_message = ""

    def load(self, request, **kwargs):
        """Fetch (and scope) the objects the form is about; sets attributes on self."""

    def form_kwargs(self) -> dict:
        return {}

    def initial(self) -> dict:
        return {}

    def perform(self, form):  # pragma: no cover - overridden
        raise NotImplementedError

    def success_url(self, obj) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def cancel_url(self) -> str:
        return reverse("staff:partner_list")

    def get(self, request, **kwargs):
        self.load(request, **kwargs)
        return self.render(self.form_class(initial=self.initial(), **self.form_kwargs()))

    def post(self, request, **kwargs):
        self.load(request, **kwargs)
        form = self.form_class(request.POST, initial=self.initial(), **self.form_kwargs())
        if form.is_valid():
            try:
                obj = self.perform(form)
            except (ApplicationError, ValidationError) as exc:
                form_add_service_errors(form, exc, summary=True)
            else:
                messages.success(request, self.success_message)
                return redirect(self.success_url(obj))
        return self.render(form)

    def render(self, form):
        context = {
            "form": form,
            "title": self.title,
            "cancel_url": self.cancel_url(),
            "partner": getattr(self, "partner", None),
        }
        return render(self.request, self.template_name, context)


class PartnerCreateView(_ServiceFormView):
    form_class = PartnerCreateForm

    @property
    def title(self):
        return _("New partner")

    def initial(self):
        return {"owner": self.request.user.pk if self.request.user.is_vendor_staff else None}

    def perform(self, form):
        self.success_message = _("Partner created.")
        return services.partner_create(actor=self.request.user, **form.cleaned_data)

    def success_url(self, obj):
        return _partner_url(obj)


class PartnerEditView(_ServiceFormView):
    form_class = PartnerForm

    def load(self, request, public_id):
        self.partner = selectors.partner_get_for_user(user=request.user, public_id=public_id)
        self.title = _("Edit %(name)s") % {"name": self.partner.name}

    def initial(self):
        return PartnerForm.initial_from(self.partner)

    def perform(self, form):
        self.success_message = _("Partner saved.")
        return services.partner_update(actor=self.request.user, partner=self.partner, data=form.cleaned_data)

    def success_url(self, obj):
        return _partner_url(obj)

    def cancel_url(self):
        return _partner_url(self.partner)


class KamProfileEditView(_ServiceFormView):
    form_class = KamProfileForm

    def load(self, request, public_id):
        self.partner = selectors.partner_get_for_user(user=request.user, public_id=public_id)
        self.title = _("Key-account profile: %(name)s") % {"name": self.partner.name}

    def initial(self):
        return KamProfileForm.initial_from(selectors.partner_kam_profile(partner=self.partner))

    def perform(self, form):
        self.success_message = _("Key-account profile saved.")
        return services.kam_profile_update(actor=self.request.user, partner=self.partner, data=form.cleaned_data)

    def success_url(self, obj):
        return _partner_url(self.partner, "kam")

    def cancel_url(self):
        return _partner_url(self.partner, "kam")


class ContactCreateView(_ServiceFormView):
    form_class = ContactForm

    def load(self, request, public_id):
        self.partner = selectors.partner_get_for_user(user=request.user, public_id=public_id)
        self.title = _("New contact at %(name)s") % {"name": self.partner.name}

    def perform(self, form):
        self.success_message = _("Contact added.")
        return services.contact_create(actor=self.request.user, partner=self.partner, **form.cleaned_data)

    def success_url(self, obj):
        return _partner_url(self.partner, "people")

    def cancel_url(self):
        return _partner_url(self.partner, "people")


class ContactEditView(_ServiceFormView):
    form_class = ContactForm

    def load(self, request, public_id):
        self.contact = selectors.contact_get_for_user(user=request.user, public_id=public_id)
        self.partner = self.contact.partner
        self.title = _("Edit contact %(name)s") % {"name": self.contact.full_name}

    def initial(self):
        return ContactForm.initial_from(self.contact)

    def perform(self, form):
        self.success_message = _("Contact saved.")
        return services.contact_update(actor=self.request.user, contact=self.contact, data=form.cleaned_data)

    def success_url(self, obj):
        return _partner_url(self.partner, "people")

    def cancel_url(self):
        return _partner_url(self.partner, "people")


class AgreementCreateView(_ServiceFormView):
    form_class = AgreementForm

    def load(self, request, public_id):
        self.partner = selectors.partner_get_for_user(user=request.user, public_id=public_id)
        self.title = _("New agreement with %(name)s") % {"name": self.partner.name}

    def form_kwargs(self):
        return {"partner": self.partner}

    def initial(self):
        return {"starts_on": timezone.localdate(), "vendor_responsible": self.request.user.pk}

    def perform(self, form):
        self.success_message = _("Agreement added.")
        return services.agreement_create(actor=self.request.user, partner=self.partner, **form.cleaned_data)

    def success_url(self, obj):
        return _partner_url(self.partner, "agreements")

    def cancel_url(self):
        return _partner_url(self.partner, "agreements")


class AgreementEditView(_ServiceFormView):
    form_class = AgreementForm

    def load(self, request, public_id):
        self.agreement = selectors.agreement_get_for_user(user=request.user, public_id=public_id)
        self.partner = self.agreement.partner
        self.title = _("Edit agreement %(number)s") % {"number": self.agreement.number}

    def form_kwargs(self):
        return {"partner": self.partner}

    def initial(self):
        return AgreementForm.initial_from(self.agreement)

    def perform(self, form):
        self.success_message = _("Agreement saved.")
        return services.agreement_update(actor=self.request.user, agreement=self.agreement, data=form.cleaned_data)

    def success_url(self, obj):
        return _partner_url(self.partner, "agreements")

    def cancel_url(self):
        return _partner_url(self.partner, "agreements")


class InteractionCreateView(_ServiceFormView):
    form_class = InteractionForm

    def load(self, request, public_id):
        self.partner = selectors.partner_get_for_user(user=request.user, public_id=public_id)
        self.title = _("Log an interaction with %(name)s") % {"name": self.partner.name}

    def form_kwargs(self):
        return {"partner": self.partner}

    def perform(self, form):
        self.success_message = _("Interaction logged.")
        return services.interaction_log(actor=self.request.user, partner=self.partner, **form.cleaned_data)

    def success_url(self, obj):
        return _partner_url(self.partner, "timeline")

    def cancel_url(self):
        return _partner_url(self.partner, "timeline")


# --- Next steps -------------------------------------------------------------------------------


class NextStepsView(StaffRequiredMixin, View):
    """The current user's open next steps, grouped as overdue / today / upcoming / no date."""

    def get(self, request):
        steps = list(selectors.next_steps_for_user(user=request.user)[: NEXT_STEPS_LIMIT + 1])
        truncated = len(steps) > NEXT_STEPS_LIMIT
        today = timezone.localdate()
        groups = OrderedDict(
            [
                ("overdue", {"label": _("Overdue"), "css": "danger", "items": []}),
                ("today", {"label": _("Today"), "css": "warning", "items": []}),
                ("upcoming", {"label": _("Upcoming"), "css": "primary", "items": []}),
                ("undated", {"label": _("No due date"), "css": "secondary", "items": []}),
            ]
        )
        for step in steps[:NEXT_STEPS_LIMIT]:
            due = step.next_step_due
            key = "undated" if due is None else "overdue" if due < today else "today" if due == today else "upcoming"
            groups[key]["items"].append(step)
        context = {"groups": groups, "total": min(len(steps), NEXT_STEPS_LIMIT), "truncated": truncated, "today": today}
        return render(request, "staff/partners/next_steps.html", context)


class NextStepDoneView(StaffRequiredMixin, View):
    """Mark an interaction's next step done. With HTMX the step's row is swapped in place."""

    def post(self, request, public_id):
        interaction = selectors.interaction_get_for_user(user=request.user, public_id=public_id)
        error = ""
        try:
            interaction = services.interaction_complete_step(actor=request.user, interaction=interaction)
        except ApplicationError as exc:
            error = str(exc.message)
        if is_htmx(request):
            context = {"step": interaction, "error": error, "today": timezone.localdate()}
            return render(request, "staff/partners/_next_step.html", context)
        if error:
            messages.error(request, error)
        else:
            messages.success(request, _("Next step done: %(step)s") % {"step": interaction.next_step})
        return redirect(safe_next(request, _partner_url(interaction.partner, "timeline")))


urlpatterns = [
    # `staff:home` is the channel manager dashboard, routed by the deals app (deals.views.staff_dashboard).
    path("partners/", PartnerListView.as_view(), name="partner_list"),
    path("partners/export.csv", PartnerExportView.as_view(), name="partner_export"),
    path("partners/new/", PartnerCreateView.as_view(), name="partner_create"),
    path("partners/<uuid:public_id>/", PartnerDetailView.as_view(), name="partner_detail"),
    path("partners/<uuid:public_id>/edit/", PartnerEditView.as_view(), name="partner_edit"),
    path("partners/<uuid:public_id>/status/", PartnerStatusView.as_view(), name="partner_status"),
    path("partners/<uuid:public_id>/verify/", PartnerVerifyView.as_view(), name="partner_verify"),
    path("partners/<uuid:public_id>/kam/", KamProfileEditView.as_view(), name="partner_kam"),
    path("partners/<uuid:public_id>/contacts/new/", ContactCreateView.as_view(), name="contact_create"),
    path("partners/<uuid:public_id>/agreements/new/", AgreementCreateView.as_view(), name="agreement_create"),
    path("partners/<uuid:public_id>/interactions/new/", InteractionCreateView.as_view(), name="interaction_create"),
    path("contacts/<uuid:public_id>/edit/", ContactEditView.as_view(), name="contact_edit"),
    path("agreements/<uuid:public_id>/edit/", AgreementEditView.as_view(), name="agreement_edit"),
    path("interactions/<uuid:public_id>/done/", NextStepDoneView.as_view(), name="next_step_done"),
    path("next-steps/", NextStepsView.as_view(), name="next_steps"),
]
