"""The partner cabinet's points and rewards pages: thin adapters over programs.selectors (reads,
scoped to the user's company) and programs.services (writes). Reps see the points and the
catalogue; only partner admins redeem (the mixin answers a rep 404 on the redeem route and the
page says why the button is missing)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from prm.exceptions import ApplicationError
from prm.permissions import PartnerAdminRequiredMixin, PartnerUserRequiredMixin
from prm.web import csv_response
from programs import selectors, services
from programs.forms.ledger import LedgerFilterForm, RedeemForm, RedemptionFilterForm
from programs.models import RedemptionStatus
from programs.selectors.ledger_sources import attach_source_references
from programs.views.ledger_display import entry_rows_for_csv, ledger_csv_header, rewards_with_availability

HISTORY_PER_PAGE = 25
REDEMPTIONS_PER_PAGE = 25
EXPIRY_WARNING_DAYS = 30


def _points_summary(partner) -> dict:
    return {
        "balance": selectors.points_balance(partner=partner),
        "expiring": selectors.points_expiring_soon(partner=partner, days=EXPIRY_WARNING_DAYS),
    }


class PointsView(PartnerUserRequiredMixin, View):
    """Balance, what expires soon, and the history with the rule behind each entry;
    `?format=csv` exports the filtered history (own company only)."""

    def get(self, request):
        form = LedgerFilterForm(request.GET or None)
        entries = selectors.ledger_list_for_user(user=request.user, filters=form.filters())
        if request.GET.get("format") == "csv":
            return csv_response(
                entry_rows_for_csv(entries, header=ledger_csv_header(staff=False)),
                f"points-{timezone.localdate():%Y%m%d}.csv",
            )
        page = Paginator(entries, HISTORY_PER_PAGE).get_page(request.GET.get("page"))
        context = {
            "filter_form": form,
            "page_obj": page,
            "entries": attach_source_references(page.object_list),
            **_points_summary(self.partner),
        }
        return render(request, "cabinet/programs/ledger_points.html", context)


class PointsCardView(PartnerUserRequiredMixin, View):
    """HTMX fragment for the cabinet home: balance and what expires soon."""

    def get(self, request):
        return render(request, "cabinet/programs/ledger_points_card.html", _points_summary(self.partner))


def _rewards_context(request, partner, **extra) -> dict:
    balance = selectors.points_balance(partner=partner)
    rewards = rewards_with_availability(selectors.reward_list(user=request.user), balance=balance)
    return {
        "rewards": rewards,
        "balance": balance,
        "can_redeem": request.user.is_partner_admin,
        "redeem_form": RedeemForm(),
        **extra,
    }


class RewardCatalogueView(PartnerUserRequiredMixin, View):
    def get(self, request):
        return render(request, "cabinet/programs/ledger_rewards.html", _rewards_context(request, self.partner))


class RewardRedeemView(PartnerAdminRequiredMixin, View):
    """A partner admin asks for a reward: points are debited at once; staff approve and fulfil."""

    def post(self, request, public_id):
        reward = selectors.reward_get_for_user(user=request.user, public_id=public_id)
        form = RedeemForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Enter a quantity of at least 1."))
            return redirect("cabinet:rewards")
        try:
            redemption = services.redemption_request(
                actor=request.user, reward=reward, quantity=form.cleaned_data["quantity"]
            )
        except ApplicationError as exc:
            # Insufficient balance, out of stock, withdrawn reward: said in words on the page.
            messages.error(request, exc.message)
            return redirect("cabinet:rewards")
        messages.success(
            request,
            _("%(reward)s requested for %(points)s points. Your channel manager will confirm it.")
            % {"reward": reward.display_name(), "points": redemption.points},
        )
        return redirect("cabinet:redemptions")


class RedemptionListView(PartnerUserRequiredMixin, View):
    def get(self, request):
        form = RedemptionFilterForm(request.GET or None)
        redemptions = selectors.redemption_list_for_user(user=request.user, filters=form.filters())
        page = Paginator(redemptions, REDEMPTIONS_PER_PAGE).get_page(request.GET.get("page"))
        context = {
            "filter_form": form,
            "page_obj": page,
            "redemptions": page.object_list,
            "can_cancel": request.user.is_partner_admin,
            "requested": RedemptionStatus.REQUESTED,
        }
        return render(request, "cabinet/programs/ledger_redemptions.html", context)


class RedemptionCancelView(PartnerAdminRequiredMixin, View):
    success_message = gettext_lazy("Redemption cancelled; the points are back on your balance.")

    def post(self, request, public_id):
        redemption = selectors.redemption_get_for_user(user=request.user, public_id=public_id)
        try:
            services.redemption_cancel(actor=request.user, redemption=redemption)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, self.success_message)
        return redirect("cabinet:redemptions")


urlpatterns = [
    path("points/", PointsView.as_view(), name="points"),
    path("points/card/", PointsCardView.as_view(), name="points_card"),
    path("rewards/", RewardCatalogueView.as_view(), name="rewards"),
    path("rewards/<uuid:public_id>/redeem/", RewardRedeemView.as_view(), name="reward_redeem"),
    path("redemptions/", RedemptionListView.as_view(), name="redemptions"),
    path("redemptions/<uuid:public_id>/cancel/", RedemptionCancelView.as_view(), name="redemption_cancel"),
]
