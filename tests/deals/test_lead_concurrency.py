"""Two workers expiring the same offers at once (real Postgres, own connections): every
timed-out lead gets exactly one new offer, no offer is expired twice."""

import datetime as dt
import random
from unittest import mock

import pytest

from deals import services
from deals.models import Lead, LeadOffer, LeadOfferStatus, LeadStatus
from partners.models import Region
from prm.exceptions import StateError
from tests.deals.factories import make_lead
from tests.deals.test_concurrency import run_together
from tests.factories import PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("prm.tasks.notification_email.delay"):
        yield


def test_lead_offers_expire_two_workers_one_new_offer_each(manager):
    partners = [PartnerFactory(name=f"W{i}", country="DE", region=Region.EUROPE) for i in range(4)]
    for p in partners:
        PartnerUserFactory(partner=p)
    leads = [make_lead(customer_name=f"Race {i}", country="DE", region="europe") for i in range(40)]
    services.leads_route_batch(actor=manager, leads=leads, rng=random.Random(0))
    assert LeadOffer.objects.filter(status=LeadOfferStatus.OFFERED).count() == 40

    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=49)
    results = run_together([lambda: services.lead_offers_expire(now=later, chunk=7) for _ in range(2)])

    assert sum(results) == 40
    assert LeadOffer.objects.filter(status=LeadOfferStatus.EXPIRED).count() == 40
    for lead in Lead.objects.all():
        offers = list(LeadOffer.objects.filter(lead=lead).order_by("offered_at"))
        assert len(offers) == 2
        assert [o.status for o in offers] == [LeadOfferStatus.EXPIRED, LeadOfferStatus.OFFERED]
        assert offers[0].partner_id != offers[1].partner_id
        assert lead.status == LeadStatus.OFFERED and lead.offered_to_id == offers[1].partner_id
    # A third run at the same time finds nothing to do.
    assert services.lead_offers_expire(now=later) == 0


def test_lead_accept_and_expiry_race_one_outcome(manager):
    partner = PartnerFactory(name="Solo", country="DE", region=Region.EUROPE)
    user = PartnerUserFactory(partner=partner)
    PartnerFactory(name="Next", country="DE", region=Region.EUROPE, lead_weight=0)
    lead = make_lead(country="DE", region="europe")
    services.lead_reassign(actor=manager, lead=lead, partner=partner, reason="Race test")
    lead.refresh_from_db()
    deadline = lead.offer_expires_at

    def accept():
        try:
            return services.lead_accept(user=user, lead=lead)
        except StateError as exc:  # the offer may have expired first
            return exc

    results = run_together([accept, lambda: services.lead_offers_expire(now=deadline + dt.timedelta(minutes=1))])
    lead.refresh_from_db()
    offer = LeadOffer.objects.get(lead=lead, partner=partner)
    if lead.status == LeadStatus.ACCEPTED:
        assert offer.status == LeadOfferStatus.ACCEPTED and results[1] == 0
    else:
        assert offer.status == LeadOfferStatus.EXPIRED and results[1] == 1
        assert lead.status == LeadStatus.UNASSIGNED
