"""Cabinet lead pages: the inbox with SLA countdowns, the lead page with Accept / Decline, the
home card. Partner B gets 404 on A's leads; a lead no longer offered to A is read-only history;
partners never see the routing or whom else a lead went to."""

import datetime as dt
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from deals import services
from deals.models import DealStatus, Lead, LeadOffer, LeadOfferStatus, LeadStatus
from tests.deals.factories import make_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def offered_lead(manager, partner_a):
    lead = make_lead(actor=manager, customer_name="Romashka Holding", description="Wants a pilot in Q3")
    services.lead_reassign(actor=manager, lead=lead, partner=partner_a, reason="Known account")
    lead.refresh_from_db()
    return lead


def _urls(lead):
    return [
        reverse("cabinet:lead_detail", args=[lead.public_id]),
        reverse("cabinet:lead_accept", args=[lead.public_id]),
        reverse("cabinet:lead_decline", args=[lead.public_id]),
    ]


def test_cabinet_lead_pages_anonymous_go_to_login(client, offered_lead):
    for url in [reverse("cabinet:lead_list"), reverse("cabinet:lead_home_card"), *_urls(offered_lead)]:
        response = client.get(url)
        assert response.status_code == 302 and reverse("login") in response.url, url


def test_cabinet_lead_pages_are_404_for_staff(manager_client, offered_lead):
    assert manager_client.get(reverse("cabinet:lead_list")).status_code == 404
    assert manager_client.get(reverse("cabinet:lead_detail", args=[offered_lead.public_id])).status_code == 404


def test_partner_b_gets_404_on_partner_as_lead_everywhere(other_partner_client, offered_lead):
    detail, accept, decline = _urls(offered_lead)
    assert other_partner_client.get(detail).status_code == 404
    assert other_partner_client.post(accept).status_code == 404
    assert other_partner_client.post(decline, {"reason": "not mine"}).status_code == 404
    html = other_partner_client.get(reverse("cabinet:lead_list")).content.decode()
    assert offered_lead.reference not in html and "Romashka" not in html
    html = other_partner_client.get(reverse("cabinet:lead_home_card")).content.decode()
    assert "Romashka" not in html
    offered_lead.refresh_from_db()
    assert offered_lead.status == LeadStatus.OFFERED
    assert other_partner_client.get(reverse("cabinet:lead_detail", args=[uuid.uuid4()])).status_code == 404


def test_inbox_lists_open_offers_with_a_countdown(partner_rep_client, offered_lead):
    html = partner_rep_client.get(reverse("cabinet:lead_list")).content.decode()
    assert 'data-testid="lead-inbox-item"' in html and "Romashka Holding" in html
    assert 'data-testid="lead-countdown" data-urgent="0"' in html
    assert "left to accept" in html


def test_countdown_turns_red_under_a_quarter_of_the_window(partner_admin_client, offered_lead):
    window = offered_lead.offer_expires_at - offered_lead.offered_at
    # 20 % of the window left: move the lead's clock back (the offer started earlier).
    Lead.objects.filter(pk=offered_lead.pk).update(
        offered_at=offered_lead.offered_at - window * 0.8, offer_expires_at=offered_lead.offer_expires_at - window * 0.8
    )
    html = partner_admin_client.get(reverse("cabinet:lead_list")).content.decode()
    assert 'data-urgent="1"' in html and "text-danger" in html


def test_inbox_queries_do_not_grow_with_rows(partner_admin_client, manager, partner_a, django_assert_max_num_queries):
    def make(n, offset):
        for i in range(n):
            lead = make_lead(actor=manager, customer_name=f"Customer {offset + i}")
            services.lead_reassign(actor=manager, lead=lead, partner=partner_a, reason="test")

    make(2, 0)
    url = reverse("cabinet:lead_list")
    with django_assert_max_num_queries(15) as few:
        assert partner_admin_client.get(url).status_code == 200
    make(8, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = partner_admin_client.get(url)
    assert response.content.decode().count('data-testid="lead-inbox-item"') == 10


def test_lead_page_shows_the_lead_without_routing_or_other_partners(partner_admin_client, offered_lead, partner_b):
    html = partner_admin_client.get(reverse("cabinet:lead_detail", args=[offered_lead.public_id])).content.decode()
    assert "Romashka Holding" in html and "Wants a pilot in Q3" in html
    assert 'data-testid="lead-accept"' in html and 'data-testid="lead-decline"' in html
    assert partner_b.name not in html
    assert "Known account" not in html  # the staff's reassignment reason
    assert "routing" not in html.lower() and "weight" not in html.lower()


def test_accept_turns_the_lead_into_an_approved_registration(partner_rep_client, partner_rep, offered_lead):
    response = partner_rep_client.post(reverse("cabinet:lead_accept", args=[offered_lead.public_id]))
    offered_lead.refresh_from_db()
    deal = offered_lead.registration
    assert offered_lead.status == LeadStatus.ACCEPTED
    assert deal.status == DealStatus.APPROVED and deal.partner == partner_rep.partner
    assert response.status_code == 302 and response.url == reverse("cabinet:deal_detail", args=[deal.public_id])
    html = partner_rep_client.get(response.url).content.decode()
    assert deal.reference in html
    # The lead page is now history with a link to the registration; no more buttons.
    html = partner_rep_client.get(reverse("cabinet:lead_detail", args=[offered_lead.public_id])).content.decode()
    assert 'data-testid="lead-registration-link"' in html and 'data-testid="lead-accept"' not in html


def test_accept_after_the_deadline_is_refused_with_a_message(partner_admin_client, offered_lead):
    Lead.objects.filter(pk=offered_lead.pk).update(offer_expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = partner_admin_client.post(reverse("cabinet:lead_accept", args=[offered_lead.public_id]), follow=True)
    assert "run out" in response.content.decode()
    offered_lead.refresh_from_db()
    assert offered_lead.status == LeadStatus.OFFERED and offered_lead.registration is None


def test_decline_needs_a_reason(partner_admin_client, offered_lead):
    response = partner_admin_client.post(
        reverse("cabinet:lead_decline", args=[offered_lead.public_id]), {"reason": " "}
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    offered_lead.refresh_from_db()
    assert offered_lead.status == LeadStatus.OFFERED and offered_lead.offered_to.name == "Alpha Systems"


def test_decline_with_spam_flag_moves_the_lead_on_and_leaves_read_only_history(
    partner_admin_client, offered_lead, partner_b, partner_a
):
    response = partner_admin_client.post(
        reverse("cabinet:lead_decline", args=[offered_lead.public_id]), {"reason": "Fake company", "spam": "on"}
    )
    assert response.status_code == 302 and response.url == reverse("cabinet:lead_list")
    offered_lead.refresh_from_db()
    assert offered_lead.spam_flags == 1
    assert offered_lead.offered_to == partner_b  # moved on
    offer = LeadOffer.objects.get(lead=offered_lead, partner=partner_a)
    assert offer.status == LeadOfferStatus.DECLINED and offer.spam
    # A sees it as history, with no buttons and nothing about B.
    html = partner_admin_client.get(reverse("cabinet:lead_detail", args=[offered_lead.public_id])).content.decode()
    assert 'data-testid="lead-readonly"' in html and "Fake company" in html
    assert 'data-testid="lead-accept"' not in html and partner_b.name not in html
    html = partner_admin_client.get(reverse("cabinet:lead_list")).content.decode()
    assert 'data-testid="lead-history-row"' in html and 'data-testid="lead-inbox-item"' not in html
    # And A can no longer accept it.
    response = partner_admin_client.post(reverse("cabinet:lead_accept", args=[offered_lead.public_id]), follow=True)
    offered_lead.refresh_from_db()
    assert offered_lead.status == LeadStatus.OFFERED and offered_lead.offered_to == partner_b
    assert "no longer offered to you" in response.content.decode()


def test_home_card_lists_leads_to_accept(partner_admin_client, offered_lead):
    html = partner_admin_client.get(reverse("cabinet:lead_home_card")).content.decode()
    assert 'data-testid="open-lead"' in html and "Romashka Holding" in html
    assert 'data-testid="lead-countdown"' in html
    home = partner_admin_client.get(reverse("cabinet:home")).content.decode()
    assert reverse("cabinet:lead_home_card") in home


def test_home_card_empty(partner_admin_client):
    html = partner_admin_client.get(reverse("cabinet:lead_home_card")).content.decode()
    assert 'data-testid="open-leads-empty"' in html


def test_nav_badge_counts_open_offers_of_my_partner_only(partner_admin_client, other_partner_client, offered_lead):
    html = partner_admin_client.get(reverse("cabinet:home")).content.decode()
    assert 'data-testid="nav-leads-count"' in html
    assert re.search(r'data-testid="nav-leads-count"[^>]*>1</span>', html)
    assert 'data-testid="nav-leads-count"' not in other_partner_client.get(reverse("cabinet:home")).content.decode()
