"""Staff pages for points and rewards (the `staff:` namespace): a partner's ledger (fragment on
the partner page, and a full page with filters and CSV), manual adjustments, the redemption
queue, the points liability report and the rewards catalogue. Thin adapters over
programs.selectors and programs.services; partner users get 404 everywhere here."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from partners.selectors import (
    partner_get_for_user,
    partner_get_in_scope,
    partner_ids_in_scope,
    partner_in_scope,
    partners_in_scope,
)
from prm.exceptions import ApplicationError
from prm.permissions import StaffRequiredMixin
from prm.web import csv_response, form_add_service_errors, safe_next
from programs import selectors, services
from programs.forms.ledger import (
    AdjustmentForm,
    LedgerFilterForm,
    RedemptionQueueFilterForm,
    RejectRedemptionForm,
    RewardForm,
)
from programs.models import RedemptionStatus
from programs.selectors import RedemptionFilters
from programs.selectors.ledger_sources import attach_source_references
from programs.views.ledger_display import entry_rows_for_csv, ledger_csv_header

PAGE_SIZE = 50
FRAGMENT_ENTRIES = 10


def _iso(value) -> str:
    return value.isoformat() if value else ""


# --- a partner's ledger --------------------------------------------------------------------


def _ledger_summary(partner, user) -> dict:
    return {
        "partner": partner,
        "balance": selectors.points_balance(partner=partner),
        "expiring": selectors.points_expiring_soon(partner=partner),
        # Any staff user reads the ledger; only the partner's portfolio adjusts it.
        "can_adjust": partner_in_scope(user=user, partner=partner),
    }


class PartnerLedgerFragmentView(StaffRequiredMixin, View):
    """Loaded into the partner page with hx-get: balance, the latest entries, the adjustment form."""

    def get(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        entries = selectors.ledger_list_for_user(
            user=request.user, filters=LedgerFilterForm().filters(partner=str(partner.public_id))
        )
        context = {
            **_ledger_summary(partner, request.user),
            "entries": attach_source_references(entries[:FRAGMENT_ENTRIES]),
            "adjust_form": AdjustmentForm(),
            "next": reverse("staff:partner_detail", args=[partner.public_id]),
        }
        return render(request, "staff/programs/ledger_partner_fragment.html", context)


def _partner_ledger_page(request, partner, *, adjust_form=None, status=200):
    form = LedgerFilterForm(request.GET or None)
    entries = selectors.ledger_list_for_user(user=request.user, filters=form.filters(partner=str(partner.public_id)))
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **_ledger_summary(partner, request.user),
        "filter_form": form,
        "page_obj": page,
        "entries": attach_source_references(page.object_list),
        "adjust_form": adjust_form or AdjustmentForm(),
        "next": request.get_full_path(),
    }
    return render(request, "staff/programs/ledger_partner.html", context, status=status)


class PartnerLedgerView(StaffRequiredMixin, View):
    """The full ledger of one partner; `?format=csv` exports the filtered entries."""

    def get(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        if request.GET.get("format") == "csv":
            form = LedgerFilterForm(request.GET)
            entries = selectors.ledger_list_for_user(
                user=request.user, filters=form.filters(partner=str(partner.public_id))
            )
            header = ledger_csv_header(staff=True)
            return csv_response(
                entry_rows_for_csv(entries, header=header, staff=True),
                f"points-{partner.public_id}-{timezone.localdate():%Y%m%d}.csv",
            )
        return _partner_ledger_page(request, partner)


class PointsAdjustView(StaffRequiredMixin, View):
    """POST a manual adjustment (reason required, audited). Bad input re-renders the partner's
    ledger page with the form and its errors (400)."""

    def post(self, request, public_id):
        partner = partner_get_in_scope(user=request.user, public_id=public_id)
        form = AdjustmentForm(request.POST)
        if form.is_valid():
            try:
                entry = services.points_adjust(
                    actor=request.user,
                    partner=partner,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                )
            except ApplicationError as exc:
                form_add_service_errors(form, exc, summary=True)
            else:
                messages.success(
                    request,
                    _("%(points)s points recorded for %(partner)s.")
                    % {"points": int(entry.amount), "partner": partner.name},
                )
                return redirect(safe_next(request, reverse("staff:ledger_partner", args=[partner.public_id])))
        return _partner_ledger_page(request, partner, adjust_form=form, status=400)


# --- redemption queue ----------------------------------------------------------------------


def _queue(request):
    form = RedemptionQueueFilterForm(request.GET or None)
    values = form.values()
    partners = partners_in_scope(user=request.user) if values["mine"] else None
    if values["status"]:
        filters = RedemptionFilters(status=values["status"])
        qs = selectors.redemption_list_for_user(user=request.user, filters=filters)
        if partners is not None:
            qs = qs.filter(partner__in=partners)
    else:
        qs = selectors.redemption_queue(partners=partners)
    return form, qs


class RedemptionQueueView(StaffRequiredMixin, View):
    def get(self, request):
        form, qs = _queue(request)
        if request.GET.get("format") == "csv":
            return _queue_csv(qs)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "filter_form": form,
            "page_obj": page,
            "redemptions": page.object_list,
            # Rows the user may decide (the partner is in their portfolio); others show no buttons.
            "actionable": partner_ids_in_scope(user=request.user, partner_ids=[r.partner_id for r in page.object_list]),
            "reject_form": RejectRedemptionForm(),
            "statuses": RedemptionStatus,
            "next": request.get_full_path(),
        }
        return render(request, "staff/programs/ledger_redemption_queue.html", context)


def _queue_csv(qs):
    def rows():
        yield [
            _("Requested"),
            _("Partner"),
            _("Reward"),
            _("Category"),
            _("Quantity"),
            _("Points"),
            _("Status"),
            _("Requested by"),
            _("Decided by"),
            _("Decided"),
            _("Fulfilled"),
            _("Reason"),
        ]
        for r in qs.iterator(chunk_size=500):
            yield [
                _iso(r.created_at),
                r.partner.name,
                r.reward.name,
                r.reward.get_category_display(),
                r.quantity,
                r.points,
                r.get_status_display(),
                r.requested_by.full_name,
                r.decided_by.full_name if r.decided_by_id else "",
                _iso(r.decided_at),
                _iso(r.fulfilled_at),
                r.decision_reason,
            ]

    return csv_response(rows(), f"redemptions-{timezone.localdate():%Y%m%d}.csv")


class _RedemptionDecisionView(StaffRequiredMixin, View):
    """POST from the queue; a refused transition (already decided: StateError) or bad input
    comes back as a message on the queue, never a 500."""

    success_message = ""
    form_class = None

    def act(self, request, redemption, data):  # pragma: no cover - overridden
        raise NotImplementedError

    def post(self, request, public_id):
        redemption = selectors.redemption_get_in_scope(user=request.user, public_id=public_id)
        data = {}
        if self.form_class is not None:
            form = self.form_class(request.POST)
            if not form.is_valid():
                messages.error(request, _("Give a reason for the rejection; the partner sees it."))
                return redirect(safe_next(request, reverse("staff:redemption_queue")))
            data = form.cleaned_data
        try:
            self.act(request, redemption, data)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, self.success_message % {"partner": redemption.partner.name})
        return redirect(safe_next(request, reverse("staff:redemption_queue")))


class RedemptionApproveView(_RedemptionDecisionView):
    success_message = gettext_lazy("Redemption of %(partner)s approved.")

    def act(self, request, redemption, data):
        services.redemption_approve(actor=request.user, redemption=redemption)


class RedemptionFulfilView(_RedemptionDecisionView):
    success_message = gettext_lazy("Redemption of %(partner)s marked as fulfilled.")

    def act(self, request, redemption, data):
        services.redemption_fulfil(actor=request.user, redemption=redemption)


class RedemptionRejectView(_RedemptionDecisionView):
    success_message = gettext_lazy("Redemption of %(partner)s rejected; the points were returned.")
    form_class = RejectRedemptionForm

    def act(self, request, redemption, data):
        services.redemption_reject(actor=request.user, redemption=redemption, reason=data["reason"])


# --- points liability ------------------------------------------------------------------------


def _liability(request):
    mine = request.GET.get("mine") == "1"
    partners = partners_in_scope(user=request.user) if mine else None
    return mine, selectors.points_liability(partners=partners)


class PointsLiabilityView(StaffRequiredMixin, View):
    """Outstanding points by partner and in total, in points and in the base currency, with a
    chart by tier; `?format=csv` exports the rows."""

    def get(self, request):
        mine, liability = _liability(request)
        if request.GET.get("format") == "csv":
            return _liability_csv(liability)
        page = Paginator(liability.rows, PAGE_SIZE).get_page(request.GET.get("page"))
        chart = {
            "labels": [row["tier"] or str(_("No tier")) for row in liability.by_tier],
            "points": [float(row["points"]) for row in liability.by_tier],
            "values": [float(row["value"]) for row in liability.by_tier],
            "pointsLabel": str(_("Points")),
            "valueLabel": str(_("Value, %(currency)s") % {"currency": liability.currency}),
        }
        context = {"liability": liability, "mine": mine, "page_obj": page, "rows": page.object_list, "chart": chart}
        return render(request, "staff/programs/ledger_liability.html", context)


def _liability_csv(liability):
    def rows():
        yield [_("Partner"), _("Tier"), _("Points"), _("Value (%(currency)s)") % {"currency": liability.currency}]
        for row in liability.rows:
            partner = row["partner"]
            yield [partner.name, partner.tier.name if partner.tier_id else "", row["points"], row["value"]]
        yield [_("Total"), "", liability.total_points, liability.total_value]

    return csv_response(rows(), f"points-liability-{timezone.localdate():%Y%m%d}.csv")


# --- rewards catalogue ---------------------------------------------------------------------


class RewardListView(StaffRequiredMixin, View):
    def get(self, request):
        rewards = selectors.reward_list(user=request.user, include_inactive=True)
        return render(request, "staff/programs/ledger_rewards.html", {"rewards": rewards})


class RewardCreateView(StaffRequiredMixin, View):
    template_name = "staff/programs/ledger_reward_form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": RewardForm(), "reward": None})

    def post(self, request):
        form = RewardForm(request.POST)
        if form.is_valid():
            try:
                reward = services.reward_create(actor=request.user, **form.service_kwargs())
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Reward %(name)s added to the catalogue.") % {"name": reward.name})
                return redirect("staff:reward_list")
        return render(request, self.template_name, {"form": form, "reward": None}, status=400)


class RewardEditView(StaffRequiredMixin, View):
    template_name = "staff/programs/ledger_reward_form.html"

    def get(self, request, public_id):
        reward = selectors.reward_get_for_user(user=request.user, public_id=public_id)
        form = RewardForm(initial=RewardForm.initial_from(reward))
        return render(request, self.template_name, {"form": form, "reward": reward})

    def post(self, request, public_id):
        reward = selectors.reward_get_for_user(user=request.user, public_id=public_id)
        form = RewardForm(request.POST)
        if form.is_valid():
            try:
                reward = services.reward_update(actor=request.user, reward=reward, **form.service_kwargs())
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Reward %(name)s saved.") % {"name": reward.name})
                return redirect("staff:reward_list")
        return render(request, self.template_name, {"form": form, "reward": reward}, status=400)


urlpatterns = [
    path("partners/<uuid:public_id>/points/", PartnerLedgerFragmentView.as_view(), name="partner_ledger"),
    path("programs/points/<uuid:public_id>/", PartnerLedgerView.as_view(), name="ledger_partner"),
    path("programs/points/<uuid:public_id>/adjust/", PointsAdjustView.as_view(), name="ledger_adjust"),
    path("programs/redemptions/", RedemptionQueueView.as_view(), name="redemption_queue"),
    path("programs/redemptions/<uuid:public_id>/approve/", RedemptionApproveView.as_view(), name="redemption_approve"),
    path("programs/redemptions/<uuid:public_id>/fulfil/", RedemptionFulfilView.as_view(), name="redemption_fulfil"),
    path("programs/redemptions/<uuid:public_id>/reject/", RedemptionRejectView.as_view(), name="redemption_reject"),
    path("programs/liability/", PointsLiabilityView.as_view(), name="points_liability"),
    path("programs/rewards/", RewardListView.as_view(), name="reward_list"),
    path("programs/rewards/new/", RewardCreateView.as_view(), name="reward_create"),
    path("programs/rewards/<uuid:public_id>/edit/", RewardEditView.as_view(), name="reward_edit"),
]
