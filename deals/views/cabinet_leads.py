"""The partner cabinet's lead pages: the inbox of open offers with their SLA countdowns, the
history of leads the partner answered, a lead page with Accept / Decline.

Confidentiality: partner users see only the lead itself and their own offer (`lead.my_offer`,
set by the selectors); never whom else it was offered to, nor the routing. A lead no longer
offered to this partner is read-only history; another partner's lead is 404.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from deals import selectors_leads, services
from deals.forms.leads import LeadDeclineForm
from deals.models import LeadOfferStatus, LeadStatus
from prm.exceptions import ApplicationError, StateError
from prm.permissions import PartnerUserRequiredMixin
from prm.web import form_add_service_errors

HISTORY_PER_PAGE = 25
HOME_CARD_LIMIT = 5
# Below this share of the acceptance window left, the countdown turns red.
URGENT_FRACTION = 0.25


def annotate_countdown(leads, now):
    """time_left / urgent on each open offer, from the lead's own columns (no queries)."""
    for lead in leads:
        lead.time_left = None
        lead.urgent = False
        if lead.status == LeadStatus.OFFERED and lead.offer_expires_at:
            window = (lead.offer_expires_at - lead.offered_at).total_seconds() if lead.offered_at else 0
            left = (lead.offer_expires_at - now).total_seconds()
            lead.time_left = max(left, 0)
            lead.urgent = left <= 0 or (window > 0 and left / window < URGENT_FRACTION)
    return leads


def _is_open_for(lead, partner) -> bool:
    return lead.status == LeadStatus.OFFERED and lead.offered_to_id == partner.pk


class LeadInboxView(PartnerUserRequiredMixin, View):
    def get(self, request):
        now = timezone.now()
        inbox = annotate_countdown(list(selectors_leads.lead_inbox(user=request.user)), now)
        open_ids = {lead.pk for lead in inbox}
        history_qs = selectors_leads.lead_list_for_user(user=request.user, filters={}).exclude(pk__in=open_ids)
        page = Paginator(history_qs, HISTORY_PER_PAGE).get_page(request.GET.get("page"))
        history = list(page.object_list)
        for lead in history:
            lead.my_offer = selectors_leads.my_offer(lead)
        context = {"inbox": inbox, "page_obj": page, "history": history, "now": now}
        return render(request, "cabinet/leads/list.html", context)


def _detail_context(request, lead, decline_form=None):
    now = timezone.now()
    partner = request.user.partner
    is_open = _is_open_for(lead, partner)
    annotate_countdown([lead], now)
    my_offer = selectors_leads.my_offer(lead)
    return {
        "lead": lead,
        "my_offer": my_offer,
        "is_open": is_open,
        "accepted_by_us": lead.status == LeadStatus.ACCEPTED and lead.offered_to_id == partner.pk,
        "offer_status": my_offer.get_status_display() if my_offer else "",
        "declined": bool(my_offer and my_offer.status == LeadOfferStatus.DECLINED),
        "decline_form": decline_form or LeadDeclineForm(),
        "now": now,
    }


class LeadDetailView(PartnerUserRequiredMixin, View):
    def get(self, request, public_id):
        lead = selectors_leads.lead_get_for_user(user=request.user, public_id=public_id)
        return render(request, "cabinet/leads/detail.html", _detail_context(request, lead))


class LeadAcceptView(PartnerUserRequiredMixin, View):
    def post(self, request, public_id):
        lead = selectors_leads.lead_get_for_user(user=request.user, public_id=public_id)
        try:
            deal = services.lead_accept(user=request.user, lead=lead)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
            return redirect("cabinet:lead_detail", public_id=lead.public_id)
        messages.success(
            request,
            _("Lead %(lead)s accepted: it is now your approved registration %(ref)s.")
            % {"lead": lead.reference, "ref": deal.reference},
        )
        return redirect("cabinet:deal_detail", public_id=deal.public_id)


class LeadDeclineView(PartnerUserRequiredMixin, View):
    def post(self, request, public_id):
        lead = selectors_leads.lead_get_for_user(user=request.user, public_id=public_id)
        form = LeadDeclineForm(request.POST)
        if form.is_valid():
            try:
                services.lead_decline(
                    user=request.user, lead=lead, reason=form.cleaned_data["reason"], spam=form.cleaned_data["spam"]
                )
            except StateError as exc:
                messages.error(request, str(exc.message))
                return redirect("cabinet:lead_detail", public_id=lead.public_id)
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(
                    request, _("Lead %(lead)s declined. Thank you for the reason.") % {"lead": lead.reference}
                )
                return redirect("cabinet:lead_list")
        lead = selectors_leads.lead_get_for_user(user=request.user, public_id=public_id)
        return render(request, "cabinet/leads/detail.html", _detail_context(request, lead, form), status=400)


class LeadHomeCardView(PartnerUserRequiredMixin, View):
    """HTMX fragment for the cabinet home: leads waiting for an answer, with countdowns."""

    def get(self, request):
        now = timezone.now()
        leads = list(selectors_leads.lead_inbox(user=request.user)[: HOME_CARD_LIMIT + 1])
        context = {
            "leads": annotate_countdown(leads[:HOME_CARD_LIMIT], now),
            "more": len(leads) > HOME_CARD_LIMIT,
            "now": now,
        }
        return render(request, "cabinet/leads/_home_card.html", context)


urlpatterns = [
    path("leads/", LeadInboxView.as_view(), name="lead_list"),
    path("leads/open/", LeadHomeCardView.as_view(), name="lead_home_card"),
    path("leads/<uuid:public_id>/", LeadDetailView.as_view(), name="lead_detail"),
    path("leads/<uuid:public_id>/accept/", LeadAcceptView.as_view(), name="lead_accept"),
    path("leads/<uuid:public_id>/decline/", LeadDeclineView.as_view(), name="lead_decline"),
]
