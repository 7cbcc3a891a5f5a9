"""Staff pages for deal registration (the `staff:` namespace): thin adapters over
deals.selectors and deals.services. Staff may see both sides of a conflict; nothing here is
reachable by partner users (StaffRequiredMixin answers them 404)."""

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from deals import selectors, services
from deals.forms.staff import (
    ApproveForm,
    ConflictFilterForm,
    ConflictResolveForm,
    ReasonForm,
    RejectForm,
    ReturnForm,
    ReviewQueueFilterForm,
)
from deals.models import ConflictStatus, DealFlag, DealStatus, ExtensionStatus
from partners.selectors import partner_get_for_user
from prm.exceptions import ApplicationError, StateError
from prm.permissions import StaffRequiredMixin
from prm.web import csv_response, safe_next

PAGE_SIZE = 50
FRAGMENT_LIMIT = 20
HISTORY_LIMIT = 100
PROTECTION_WINDOW_DAYS = 30


# --- helpers -------------------------------------------------------------------------------


def _now():
    # One seam for "now" on these pages, so tests can move the clock without logging out.
    return timezone.now()


def _first_error(form) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return _("Check the form.")


def _iso(value) -> str:
    return value.isoformat() if value else ""


def sla_badge(deal, now) -> str:
    """red: the review is overdue; amber: past the reminder mark (75 % of the SLA by default);
    green: on time. Reads the deal's own deadlines, so a list needs no extra queries."""
    if deal.review_due_at and deal.review_due_at <= now:
        return "red"
    if deal.review_reminder_at and deal.review_reminder_at <= now:
        return "amber"
    return "green"


def _annotate_sla(deals, now):
    for deal in deals:
        deal.sla_badge = sla_badge(deal, now)
        deal.sla_overdue = deal.sla_badge == "red"
    return deals


def _review_queue(request):
    form = ReviewQueueFilterForm(request.GET or None)
    form.is_valid()
    mine = bool(form.cleaned_data.get("mine")) if form.is_bound else False
    # review_queue orders by review_due_at: overdue ones (earliest due) come first, then the
    # ones due soonest — the urgency order the page promises.
    return form, mine, selectors.review_queue(manager=request.user if mine else None)


# --- review queue --------------------------------------------------------------------------


class ReviewQueueView(StaffRequiredMixin, View):
    def get(self, request):
        form, mine, qs = _review_queue(request)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        now = _now()
        context = {
            "form": form,
            "mine": mine,
            "page_obj": page,
            "deals": _annotate_sla(list(page.object_list), now),
            "now": now,
            "query_string": request.GET.urlencode(),
        }
        return render(request, "staff/deals/review_queue.html", context)


class ReviewQueueExportView(StaffRequiredMixin, View):
    def get(self, request):
        _form, _mine, qs = _review_queue(request)
        now = _now()

        def rows():
            yield [
                _("Reference"),
                _("Partner"),
                _("Customer"),
                _("Tax id"),
                _("Website"),
                _("Opportunity"),
                _("Products"),
                _("Value"),
                _("Currency"),
                _("Expected close"),
                _("Submitted"),
                _("Review due"),
                _("SLA"),
                _("Flags"),
            ]
            for deal in qs.iterator(chunk_size=500):
                yield [
                    deal.reference,
                    deal.partner.name,
                    deal.end_customer.name,
                    deal.end_customer.tax_id,
                    deal.end_customer.website,
                    deal.title,
                    "; ".join(p.name for p in deal.products.all()),
                    deal.value,
                    deal.currency,
                    _iso(deal.expected_close_date),
                    _iso(deal.submitted_at),
                    _iso(deal.review_due_at),
                    {"red": _("overdue"), "amber": _("due soon"), "green": _("on time")}[sla_badge(deal, now)],
                    ", ".join(str(DealFlag(f).label) for f in deal.flags if f in DealFlag.values),
                ]

        return csv_response(rows(), f"review-queue-{now:%Y%m%d}.csv")


# --- one registration ----------------------------------------------------------------------


def _deal_context(request, deal, **forms):
    now = _now()
    conflicts = list(selectors.conflicts_of(deal))
    for conflict in conflicts:
        conflict.other_side = (
            conflict.registration_high if conflict.registration_low_id == deal.pk else conflict.registration_low
        )
    extensions = list(selectors.extensions_of(deal))
    time_left = selectors.review_time_left(deal, now=now)
    return {
        "deal": deal,
        "now": now,
        "sla_badge": sla_badge(deal, now) if deal.status == DealStatus.SUBMITTED else "",
        "time_left": time_left,
        "time_left_hours": round(time_left.total_seconds() / 3600, 1) if time_left is not None else None,
        "conflicts": conflicts,
        "has_open_conflict": any(c.status == ConflictStatus.OPEN for c in conflicts),
        "extensions": extensions,
        "extensions_used": sum(1 for e in extensions if e.status == ExtensionStatus.APPROVED),
        "max_extensions": services.max_extensions_for(deal.partner),
        "flag_rows": [
            {
                "flag": f,
                "label": DealFlag(f).label if f in DealFlag.values else f,
                "evidence": deal.flag_evidence.get(f),
            }
            for f in deal.flags
        ],
        "history": list(selectors.deal_history(deal)[:HISTORY_LIMIT]),
        "approve_form": forms.get("approve_form") or ApproveForm(),
        "reject_form": forms.get("reject_form") or RejectForm(prefix="reject"),
        "return_form": forms.get("return_form") or ReturnForm(prefix="return"),
        "next": request.get_full_path(),
    }


class DealDetailView(StaffRequiredMixin, View):
    def get(self, request, public_id):
        deal = selectors.deal_get_for_user(request.user, public_id)
        return render(request, "staff/deals/detail.html", _deal_context(request, deal))


class _DealDecisionView(StaffRequiredMixin, View):
    """POST from the queue or the deal page; errors become a message, never a 500."""

    form_class = ReasonForm
    prefix: str | None = None
    success_message = ""

    def call(self, request, deal, form):  # pragma: no cover - overridden
        raise NotImplementedError

    def post(self, request, public_id):
        deal = selectors.deal_get_for_user(request.user, public_id)
        fallback = reverse("staff:deal_detail", args=[deal.public_id])
        # Queue forms post unprefixed fields; the deal page's forms post prefixed ones.
        data = request.POST
        prefix = self.prefix if self.prefix and f"{self.prefix}-reason" in data else None
        form = self.form_class(data, prefix=prefix)
        if not form.is_valid():
            messages.error(request, _first_error(form))
            return redirect(safe_next(request, fallback))
        try:
            self.call(request, deal, form)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
            return redirect(safe_next(request, fallback))
        messages.success(request, self.success_message % {"reference": deal.reference})
        return redirect(safe_next(request, fallback))


class DealApproveView(_DealDecisionView):
    form_class = ApproveForm

    @property
    def success_message(self):
        return _("Registration %(reference)s approved.")

    def call(self, request, deal, form):
        services.deal_approve(user=request.user, deal=deal, note=form.cleaned_data["note"])


class DealRejectView(_DealDecisionView):
    form_class = RejectForm
    prefix = "reject"

    @property
    def success_message(self):
        return _("Registration %(reference)s rejected.")

    def call(self, request, deal, form):
        services.deal_reject(user=request.user, deal=deal, reason=form.cleaned_data["reason"])


class DealReturnView(_DealDecisionView):
    form_class = ReturnForm
    prefix = "return"

    @property
    def success_message(self):
        return _("Registration %(reference)s returned for more information.")

    def call(self, request, deal, form):
        services.deal_return(user=request.user, deal=deal, reason=form.cleaned_data["reason"])


# --- conflicts -----------------------------------------------------------------------------


def _conflicts(request):
    form = ConflictFilterForm(request.GET or None)
    form.is_valid()
    data = form.cleaned_data if form.is_bound else {}
    status = data.get("status") or "open"
    qs = selectors.conflict_list(
        status=None if status == "all" else status, manager=request.user if data.get("mine") else None
    )
    if status == "all":
        # Open first (the work to do; "open" sorts before "resolved"), then by detection time.
        qs = qs.order_by("status", "detected_at", "id")
    return form, status, qs


class ConflictListView(StaffRequiredMixin, View):
    def get(self, request):
        form, status, qs = _conflicts(request)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "form": form,
            "status": status,
            "page_obj": page,
            "conflicts": page.object_list,
            "query_string": request.GET.urlencode(),
        }
        return render(request, "staff/deals/conflict_list.html", context)


class ConflictExportView(StaffRequiredMixin, View):
    def get(self, request):
        _form, _status, qs = _conflicts(request)

        def rows():
            yield [
                _("Detected"),
                _("Status"),
                _("Outcome"),
                _("Matched on"),
                _("Name similarity"),
                _("First registration"),
                _("Partner"),
                _("Customer"),
                _("Submitted"),
                _("Second registration"),
                _("Partner"),
                _("Customer"),
                _("Submitted"),
                _("Winner"),
                _("Resolved"),
                _("Resolved by"),
                _("Reason"),
            ]
            for c in qs.iterator(chunk_size=500):
                low, high = c.registration_low, c.registration_high
                yield [
                    _iso(c.detected_at),
                    c.get_status_display(),
                    c.get_outcome_display() if c.outcome else "",
                    ", ".join(c.matched_fields),
                    c.similarity,
                    low.reference,
                    low.partner.name,
                    low.end_customer.name,
                    _iso(low.submitted_at),
                    high.reference,
                    high.partner.name,
                    high.end_customer.name,
                    _iso(high.submitted_at),
                    c.winner.reference if c.winner else "",
                    _iso(c.resolved_at),
                    c.resolved_by.full_name if c.resolved_by else "",
                    c.reason,
                ]

        return csv_response(rows(), f"conflicts-{_now():%Y%m%d}.csv")


def _conflict_context(request, conflict, form=None):
    # Both sides through the staff-scoped selector, so products come prefetched.
    low = selectors.deal_get_for_user(request.user, conflict.registration_low.public_id)
    high = selectors.deal_get_for_user(request.user, conflict.registration_high.public_id)
    proposal = selectors.conflict_proposed_resolution(conflict)
    proposed_key = "award_low" if proposal.winner.pk == low.pk else "award_high"
    common = set(conflict.evidence.get("common_products") or [])
    if form is None:
        form = ConflictResolveForm(conflict=conflict, initial={"resolution": proposed_key})
    return {
        "conflict": conflict,
        "sides": [
            {"key": "award_low", "deal": low, "common_products": common},
            {"key": "award_high", "deal": high, "common_products": common},
        ],
        "proposal": proposal,
        "proposed_key": proposed_key,
        "proposed_winner": low if proposed_key == "award_low" else high,
        "form": form,
        "is_open": conflict.status == ConflictStatus.OPEN,
    }


class ConflictDetailView(StaffRequiredMixin, View):
    def get(self, request, public_id):
        conflict = selectors.conflict_get(public_id)
        return render(request, "staff/deals/conflict_detail.html", _conflict_context(request, conflict))

    def post(self, request, public_id):
        conflict = selectors.conflict_get(public_id)
        form = ConflictResolveForm(request.POST, conflict=conflict)
        if form.is_valid():
            try:
                services.conflict_resolve(
                    user=request.user, conflict=conflict, reason=form.cleaned_data["reason"], **form.service_arguments()
                )
            except StateError as exc:
                messages.error(request, str(exc.message))
                return redirect("staff:conflict_detail", public_id=conflict.public_id)
            except ApplicationError as exc:
                for field, errors in exc.fields.items():
                    target = "resolution" if field in ("outcome", "winner") else field
                    if target in form.fields:
                        for error in errors if isinstance(errors, list | tuple) else [errors]:
                            form.add_error(target, error)
                form.add_error(None, str(exc.message))
            else:
                messages.success(request, _("Conflict resolved."))
                return redirect("staff:conflict_detail", public_id=conflict.public_id)
        context = _conflict_context(request, conflict, form=form)
        return render(request, "staff/deals/conflict_detail.html", context, status=400)


# --- protection and extensions -------------------------------------------------------------


class ProtectionExpiringView(StaffRequiredMixin, View):
    def get(self, request):
        now = _now()
        qs = selectors.protection_expiring(PROTECTION_WINDOW_DAYS, user=request.user, now=now).annotate(
            extensions_used=Count("extensions", filter=Q(extensions__status=ExtensionStatus.APPROVED))
        )
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        deals = list(page.object_list)
        for deal in deals:
            deal.days_left = max((deal.protected_until - now) // dt.timedelta(days=1), 0)
            deal.max_extensions = services.max_extensions_for(deal.partner)
        context = {"page_obj": page, "deals": deals, "window": PROTECTION_WINDOW_DAYS}
        return render(request, "staff/deals/protection_expiring.html", context)


class ExtensionQueueView(StaffRequiredMixin, View):
    def get(self, request):
        page = Paginator(selectors.extension_queue(), PAGE_SIZE).get_page(request.GET.get("page"))
        context = {"page_obj": page, "extensions": page.object_list, "reject_form": ReasonForm()}
        return render(request, "staff/deals/extension_queue.html", context)


class ExtensionApproveView(StaffRequiredMixin, View):
    def post(self, request, public_id):
        extension = selectors.extension_get(public_id)
        form = ApproveForm(request.POST)
        form.is_valid()
        try:
            services.deal_approve_extension(
                user=request.user, extension=extension, note=form.cleaned_data.get("note", "")
            )
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(
                request, _("Extension for %(reference)s approved.") % {"reference": extension.registration.reference}
            )
        return redirect(safe_next(request, reverse("staff:extension_queue")))


class ExtensionRejectView(StaffRequiredMixin, View):
    def post(self, request, public_id):
        extension = selectors.extension_get(public_id)
        form = ReasonForm(request.POST)
        if not form.is_valid():
            messages.error(request, _first_error(form))
            return redirect(safe_next(request, reverse("staff:extension_queue")))
        try:
            services.deal_reject_extension(user=request.user, extension=extension, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(
                request, _("Extension for %(reference)s rejected.") % {"reference": extension.registration.reference}
            )
        return redirect(safe_next(request, reverse("staff:extension_queue")))


# --- the partner page's registrations tab (an HTMX fragment) -------------------------------


class PartnerDealsFragmentView(StaffRequiredMixin, View):
    """Loaded by the partner page with hx-get, so the partners app never imports deals."""

    def get(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        qs = selectors.deal_list_for_user(request.user, {"partner": partner})
        deals = list(qs[: FRAGMENT_LIMIT + 1])
        context = {
            "partner": partner,
            "deals": deals[:FRAGMENT_LIMIT],
            "more": len(deals) > FRAGMENT_LIMIT,
            "limit": FRAGMENT_LIMIT,
        }
        return render(request, "staff/deals/_partner_deals.html", context)


urlpatterns = [
    path("deals/review/", ReviewQueueView.as_view(), name="deal_review_queue"),
    path("deals/review/export.csv", ReviewQueueExportView.as_view(), name="deal_review_queue_export"),
    path("deals/conflicts/", ConflictListView.as_view(), name="conflict_list"),
    path("deals/conflicts/export.csv", ConflictExportView.as_view(), name="conflict_export"),
    path("deals/conflicts/<uuid:public_id>/", ConflictDetailView.as_view(), name="conflict_detail"),
    path("deals/protection/", ProtectionExpiringView.as_view(), name="protection_expiring"),
    path("deals/extensions/", ExtensionQueueView.as_view(), name="extension_queue"),
    path("deals/extensions/<uuid:public_id>/approve/", ExtensionApproveView.as_view(), name="extension_approve"),
    path("deals/extensions/<uuid:public_id>/reject/", ExtensionRejectView.as_view(), name="extension_reject"),
    path("deals/<uuid:public_id>/", DealDetailView.as_view(), name="deal_detail"),
    path("deals/<uuid:public_id>/approve/", DealApproveView.as_view(), name="deal_approve"),
    path("deals/<uuid:public_id>/reject/", DealRejectView.as_view(), name="deal_reject"),
    path("deals/<uuid:public_id>/return/", DealReturnView.as_view(), name="deal_return"),
    path("partners/<uuid:public_id>/deals/", PartnerDealsFragmentView.as_view(), name="partner_deals"),
]
