"""Lead beat tasks with the clock moved: reminders at half time once, timeouts re-route once,
and a second run changes nothing."""

import datetime as dt
import random
from unittest import mock

import pytest

from deals import services, tasks
from deals.models import Lead, LeadOffer, LeadOfferStatus, LeadStatus, RoutingDecision
from partners.models import Region
from prm.celery import app
from prm.models import AuditLog, Notification
from tests.deals.factories import make_lead
from tests.factories import PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def clock(when):
    return mock.patch("django.utils.timezone.now", return_value=when)


def state():
    return (
        list(Lead.objects.order_by("pk").values()),
        list(LeadOffer.objects.order_by("pk").values()),
        RoutingDecision.objects.count(),
        Notification.objects.count(),
        AuditLog.objects.count(),
    )


@pytest.fixture
def two_partners(db):
    p1 = PartnerFactory(name="One", country="DE", region=Region.EUROPE)
    p2 = PartnerFactory(name="Two", country="DE", region=Region.EUROPE)
    return p1, p2, PartnerUserFactory(partner=p1), PartnerUserFactory(partner=p2)


@pytest.fixture
def routed(two_partners, manager):
    with clock(START):
        lead = make_lead(country="DE", region="europe")
        services.lead_route(actor=manager, lead=lead, rng=random.Random(0))
    lead.refresh_from_db()
    return lead


def test_beat_schedule_has_lead_jobs_every_five_minutes():
    schedule = app.conf.beat_schedule
    assert schedule["deals-lead-offer-reminders"]["task"] == "deals.tasks.lead_offer_reminders"
    assert schedule["deals-lead-offer-expiry"]["task"] == "deals.tasks.lead_offer_expiry"
    assert schedule["deals-lead-offer-expiry"]["schedule"].minute == set(range(0, 60, 5))


def test_lead_offer_reminders_at_half_time_once(routed, two_partners):
    first_user = two_partners[2] if routed.offered_to_id == two_partners[0].pk else two_partners[3]
    with clock(START + dt.timedelta(hours=23)):
        assert tasks.lead_offer_reminders.run() == 0
    with clock(START + dt.timedelta(hours=24, minutes=1)):
        assert tasks.lead_offer_reminders.run() == 1
        before = state()
        assert tasks.lead_offer_reminders.run() == 0
        assert state() == before
    assert Notification.objects.filter(user=first_user, kind="lead.reminder").count() == 1
    offer = LeadOffer.objects.get(lead=routed)
    assert offer.reminded_at == START + dt.timedelta(hours=24, minutes=1)


def test_lead_offer_expiry_reroutes_once_with_clock_moved(routed, two_partners):
    first = routed.offered_to_id
    with clock(START + dt.timedelta(hours=47, minutes=59)):
        assert tasks.lead_offer_expiry.run() == 0
    later = START + dt.timedelta(hours=48, minutes=2)
    with clock(later):
        assert tasks.lead_offer_expiry.run() == 1
        before = state()
        assert tasks.lead_offer_expiry.run() == 0
        assert state() == before
    routed.refresh_from_db()
    assert routed.status == LeadStatus.OFFERED
    assert routed.offered_to_id != first
    assert routed.offer_expires_at == later + dt.timedelta(hours=48)
    old = LeadOffer.objects.get(lead=routed, partner_id=first)
    assert old.status == LeadOfferStatus.EXPIRED and old.responded_at == later
    assert LeadOffer.objects.filter(lead=routed, status=LeadOfferStatus.OFFERED).count() == 1
    # The second partner times out too: nobody left, the lead is unassigned; running again is a no-op.
    with clock(later + dt.timedelta(hours=49)):
        assert tasks.lead_offer_expiry.run() == 1
        routed.refresh_from_db()
        assert routed.status == LeadStatus.UNASSIGNED
        before = state()
        assert tasks.lead_offer_expiry.run() == 0
        assert state() == before


def test_lead_offer_expiry_accepts_iso_now(routed):
    assert tasks.lead_offer_expiry.run(now=(START + dt.timedelta(days=3)).isoformat()) == 1


def test_lead_accept_just_before_timeout_wins_over_task(routed, two_partners):
    user = two_partners[2] if routed.offered_to_id == two_partners[0].pk else two_partners[3]
    with clock(START + dt.timedelta(hours=47)):
        services.lead_accept(user=user, lead=routed)
    with clock(START + dt.timedelta(hours=49)):
        assert tasks.lead_offer_expiry.run() == 0
    routed.refresh_from_db()
    assert routed.status == LeadStatus.ACCEPTED


def test_leads_route_task_skips_already_routed(two_partners, manager):
    leads = [make_lead(customer_name=f"T {i}", country="DE", region="europe") for i in range(3)]
    assert tasks.leads_route.run([lead.pk for lead in leads], manager.pk) == 3
    before = state()
    assert tasks.leads_route.run([lead.pk for lead in leads], manager.pk) == 0
    assert state() == before
