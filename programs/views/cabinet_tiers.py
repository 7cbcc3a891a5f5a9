"""Cabinet tier pages: the partner's own tier progress (page and home card). The partner is
always the user's own company (PartnerUserRequiredMixin.partner): there is no id to guess."""

from django.shortcuts import render
from django.urls import path
from django.views import View

from prm.money import base_currency
from prm.permissions import PartnerUserRequiredMixin
from programs import selectors


class TierProgressView(PartnerUserRequiredMixin, View):
    def get(self, request):
        progress = selectors.tier_progress(partner=self.partner)
        return render(
            request, "cabinet/programs/tiers_progress.html", {"progress": progress, "currency": base_currency()}
        )


class TierProgressCardView(PartnerUserRequiredMixin, View):
    """HTMX fragment for the cabinet home page."""

    def get(self, request):
        progress = selectors.tier_progress(partner=self.partner)
        return render(
            request, "cabinet/programs/tiers_home_card.html", {"progress": progress, "currency": base_currency()}
        )


urlpatterns = [
    path("tier/", TierProgressView.as_view(), name="tier_progress"),
    path("tier/card/", TierProgressCardView.as_view(), name="tier_progress_card"),
]
