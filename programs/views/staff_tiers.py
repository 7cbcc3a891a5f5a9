"""Staff tier pages: the partner page's tier panel (progress, history, lock/unlock, manual set,
approve/reject), the what-if calculator and the tier report. Thin adapters over
programs.selectors (reads) and programs.services (writes)."""

import datetime

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from partners.selectors import (
    get_or_404,
    partner_get_for_user,
    partner_get_in_scope,
    partner_in_scope,
    partners_in_scope,
)
from prm.dashboard import QueueCard
from prm.exceptions import ApplicationError
from prm.money import base_currency
from prm.permissions import StaffRequiredMixin
from prm.web import csv_response
from programs import selectors, services
from programs.forms.tiers import OptionalReasonForm, ReasonForm, TierSetForm, WhatIfForm
from programs.models import TierChange

REPORT_DEFAULT_DAYS = 30
HISTORY_LIMIT = 20


def _panel_url(partner) -> str:
    return reverse("staff:partner_detail", kwargs={"public_id": partner.public_id}) + "#status"


class PartnerTierPanelView(StaffRequiredMixin, View):
    """HTMX fragment on the staff partner page (status tab): progress, history, actions."""

    def get(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        context = {
            "partner": partner,
            "progress": selectors.tier_progress(partner=partner),
            "history": selectors.tier_history(partner=partner, limit=HISTORY_LIMIT),
            "set_form": TierSetForm(initial={"tier": partner.tier_id}),
            "currency": base_currency(),
            # Any staff user reads the panel; only the partner's portfolio locks, sets or decides.
            "can_act": partner_in_scope(user=request.user, partner=partner),
        }
        return render(request, "staff/programs/tiers_partner_panel.html", context)


class _PartnerTierActionView(StaffRequiredMixin, View):
    """POST a reason (and maybe a tier) to a service; come back to the partner page."""

    form_class = ReasonForm
    success_message = ""

    def act(self, partner, data):
        raise NotImplementedError

    def post(self, request, public_id):
        partner = partner_get_in_scope(user=request.user, public_id=public_id)
        form = self.form_class(request.POST)
        if not form.is_valid():
            messages.error(request, _("Give a reason."))
            return redirect(_panel_url(partner))
        try:
            self.act(partner, form.cleaned_data)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, self.success_message)
        return redirect(_panel_url(partner))


class PartnerTierLockView(_PartnerTierActionView):
    success_message = gettext_lazy("Tier locked.")

    def act(self, partner, data):
        services.tier_lock(actor=self.request.user, partner=partner, reason=data["reason"])


class PartnerTierUnlockView(_PartnerTierActionView):
    success_message = gettext_lazy("Tier unlocked: the rules apply again at the next evaluation.")

    def act(self, partner, data):
        services.tier_unlock(actor=self.request.user, partner=partner, reason=data["reason"])


class PartnerTierSetView(_PartnerTierActionView):
    form_class = TierSetForm
    success_message = gettext_lazy("Tier set.")

    def act(self, partner, data):
        services.tier_set_manual(actor=self.request.user, partner=partner, tier=data["tier"], reason=data["reason"])


class _ChangeDecisionView(StaffRequiredMixin, View):
    form_class = ReasonForm
    success_message = ""

    def act(self, change, data):
        raise NotImplementedError

    def post(self, request, pk):
        change = get_or_404(
            TierChange.objects.filter(partner__in=partners_in_scope(user=request.user)).select_related("partner"),
            pk=pk,
        )
        form = self.form_class(request.POST)
        if not form.is_valid():
            messages.error(request, _("Give a reason."))
        else:
            try:
                self.act(change, form.cleaned_data)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, self.success_message)
        return redirect(
            request.POST.get("next") == "report" and reverse("staff:tier_report") or _panel_url(change.partner)
        )


class TierChangeApproveView(_ChangeDecisionView):
    form_class = OptionalReasonForm
    success_message = gettext_lazy("Tier change approved and applied.")

    def act(self, change, data):
        services.tier_change_approve(actor=self.request.user, change=change, reason=data["reason"])


class TierChangeRejectView(_ChangeDecisionView):
    success_message = gettext_lazy("Tier change rejected: the partner keeps its tier.")

    def act(self, change, data):
        services.tier_change_reject(actor=self.request.user, change=change, reason=data["reason"])


class TierWhatIfView(StaffRequiredMixin, View):
    """What-if calculator; HTMX requests get only the result fragment (live update)."""

    def get(self, request):
        form = WhatIfForm(request.GET or None)
        result = selectors.tier_whatif(**form.cleaned_data) if form.is_valid() else None
        context = {"form": form, "result": result, "tiers": selectors.tier_list(), "currency": base_currency()}
        if request.headers.get("HX-Request"):
            return render(request, "staff/programs/tiers_whatif_result.html", context)
        return render(request, "staff/programs/tiers_whatif.html", context)


def _report_since(request) -> tuple[int, datetime.datetime]:
    try:
        days = max(1, min(int(request.GET.get("days", REPORT_DEFAULT_DAYS)), 3660))
    except ValueError:
        days = REPORT_DEFAULT_DAYS
    return days, timezone.now() - datetime.timedelta(days=days)


class TierReportView(StaffRequiredMixin, View):
    """At risk, newly qualified, pending approvals and the tier distribution of the partners in
    the user's scope; `?export=at_risk|promoted|pending` streams that list as CSV."""

    def get(self, request):
        partners = partners_in_scope(user=request.user)
        days, since = _report_since(request)
        export = request.GET.get("export")
        if export in CSV_EXPORTS:
            return CSV_EXPORTS[export](partners, since)
        distribution = selectors.tier_distribution(partners=partners)
        at_risk = list(selectors.partners_at_risk(partners=partners))
        for status in at_risk:
            status.lacks_text = _lacks(status)
        context = {
            "days": days,
            "currency": base_currency(),
            "at_risk": at_risk,
            "promoted": list(selectors.tier_promotions(partners=partners, since=since)),
            "pending": list(selectors.tier_changes_pending(partners=partners)),
            "distribution": distribution,
            "chart": {"labels": [n for n, _c in distribution], "counts": [c for _n, c in distribution]},
        }
        return render(request, "staff/programs/tiers_report.html", context)


def _iso(value):
    return value.isoformat() if value else ""


def _name(tier):
    return tier.name if tier else ""


def _lacks(status) -> str:
    metrics = selectors.TierMetrics.from_json(status.last_metrics)
    tier = status.partner.tier
    return "; ".join(g.text for g in selectors.tier_gaps(metrics, tier) if not g.met) if tier else ""


def _csv_at_risk(partners, since):
    def rows():
        yield [_("Partner"), _("Tier"), _("Would drop to"), _("At risk since"), _("Demotion due on"), _("Lacks")]
        for st in selectors.partners_at_risk(partners=partners).iterator(chunk_size=500):
            yield [
                st.partner.name,
                _name(st.partner.tier),
                _name(st.at_risk_tier),
                _iso(st.at_risk_since),
                _iso(st.demotion_due_on),
                _lacks(st),
            ]

    return csv_response(rows(), "tiers-at-risk.csv")


def _change_rows(qs):
    yield [_("Partner"), _("Kind"), _("From"), _("To"), _("Date"), _("Revenue"), _("Won deals"), _("Certified people")]
    for c in qs.iterator(chunk_size=500):
        m = c.metrics or {}
        yield [
            c.partner.name,
            c.get_kind_display(),
            _name(c.from_tier),
            _name(c.to_tier),
            _iso(c.created_at),
            m.get("revenue", ""),
            m.get("won_deals", ""),
            m.get("certified_people", ""),
        ]


def _csv_promoted(partners, since):
    return csv_response(_change_rows(selectors.tier_promotions(partners=partners, since=since)), "tiers-promoted.csv")


def _csv_pending(partners, since):
    return csv_response(_change_rows(selectors.tier_changes_pending(partners=partners)), "tiers-pending.csv")


CSV_EXPORTS = {"at_risk": _csv_at_risk, "promoted": _csv_promoted, "pending": _csv_pending}


def tier_queue_cards(user, partners) -> list[QueueCard]:
    """Dashboard cards (prm.dashboard registry): partners at risk of demotion, changes awaiting
    approval. Two COUNT queries whatever the number of partners."""
    today = timezone.localdate()
    at_risk = selectors.partners_at_risk(partners=partners)
    return [
        QueueCard(
            key="tiers_at_risk",
            title=str(gettext_lazy("Partners at risk of demotion")),
            count=at_risk.count(),
            url=reverse("staff:tier_report"),
            urgent=at_risk.filter(demotion_due_on__lte=today + datetime.timedelta(days=14)).count(),
            urgent_label=str(gettext_lazy("demotion within 14 days")),
            order=60,
            icon="graph-down-arrow",
        ),
        QueueCard(
            key="tier_changes_pending",
            title=str(gettext_lazy("Tier changes awaiting approval")),
            count=selectors.tier_changes_pending(partners=partners).count(),
            url=reverse("staff:tier_report") + "#pending",
            order=61,
            icon="award",
        ),
    ]


urlpatterns = [
    path("partners/<uuid:public_id>/tier-progress/", PartnerTierPanelView.as_view(), name="partner_tier_progress"),
    path("partners/<uuid:public_id>/tier-lock/", PartnerTierLockView.as_view(), name="partner_tier_lock"),
    path("partners/<uuid:public_id>/tier-unlock/", PartnerTierUnlockView.as_view(), name="partner_tier_unlock"),
    path("partners/<uuid:public_id>/tier-set/", PartnerTierSetView.as_view(), name="partner_tier_set"),
    path("tiers/changes/<int:pk>/approve/", TierChangeApproveView.as_view(), name="tier_change_approve"),
    path("tiers/changes/<int:pk>/reject/", TierChangeRejectView.as_view(), name="tier_change_reject"),
    path("tiers/what-if/", TierWhatIfView.as_view(), name="tier_whatif"),
    path("tiers/report/", TierReportView.as_view(), name="tier_report"),
]
