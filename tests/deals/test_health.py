"""Partner health: components, weights, bands, set-based computation."""

import datetime as dt

import pytest
from django.utils import timezone

from deals.models import PartnerHealth
from deals.services import health
from partners.models import Certification
from tests.deals.dashboard_factories import aware, deal_row, sale
from tests.factories import ContactFactory, InteractionFactory, PartnerFactory, PartnerUserFactory, TierFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("score", "band"), [(100, "green"), (80, "green"), (79, "yellow"), (50, "yellow"), (49, "red"), (0, "red")]
)
def test_bands(score, band):
    assert health.band_for(score) == band


def test_combine_normalises_weights():
    parts = {"a": {"score": 100}, "b": {"score": 0}}
    assert health.combine(parts, {"a": 3, "b": 1}) == 75
    assert health.combine(parts, {"a": 0.3, "b": 0.1, "unused": 5}) == 75


def strong_partner(manager):
    today = timezone.localdate()
    tier = TierFactory(min_certified_people=1)
    partner = PartnerFactory(owner=manager, tier=tier)
    sale(partner, on=today - dt.timedelta(days=120), amount="1000.00")
    sale(partner, on=today - dt.timedelta(days=10), amount="1500.00")
    user = PartnerUserFactory(partner=partner, last_login=timezone.now() - dt.timedelta(days=1))
    for _ in range(3):
        deal_row(
            partner, status="approved", value="4000.00", probability=50, submitted_on=today - dt.timedelta(days=5),
            submitter=user,
        )  # fmt: skip
    contact = ContactFactory(partner=partner)
    Certification.objects.create(contact=contact, course="Admin", earned_on=today - dt.timedelta(days=10))
    InteractionFactory(partner=partner, occurred_at=aware(today))
    return partner


def test_healthy_partner_is_green_with_a_full_breakdown(manager):
    partner = strong_partner(manager)
    assert health.partner_health_compute() == 1
    row = PartnerHealth.objects.get(partner=partner)
    assert row.band == "green" and row.score == 100
    assert set(row.breakdown) == {"revenue_trend", "pipeline", "engagement", "enablement", "relationship"}
    assert row.breakdown["revenue_trend"]["value"] == 1.5
    assert row.breakdown["engagement"]["value"] == {"registrations_90d": 3, "logins_30d": 1}
    assert abs(sum(c["weight"] for c in row.breakdown.values()) - 1) < 0.001


def test_silent_partner_is_red_and_expired_certificates_do_not_count(manager):
    today = timezone.localdate()
    partner = PartnerFactory(owner=manager)
    contact = ContactFactory(partner=partner)
    Certification.objects.create(
        contact=contact, course="Old", earned_on=today - dt.timedelta(days=800), expires_on=today - dt.timedelta(days=1)
    )
    InteractionFactory(partner=partner, occurred_at=aware(today - dt.timedelta(days=400)))
    health.partner_health_compute()
    row = PartnerHealth.objects.get(partner=partner)
    assert row.score == 0 and row.band == "red"
    assert row.breakdown["enablement"]["value"] == 0
    assert row.breakdown["relationship"]["value"] == 400


def test_weights_come_from_settings(manager, settings):
    partner = PartnerFactory(owner=manager)
    InteractionFactory(partner=partner, occurred_at=aware(timezone.localdate()))  # relationship 100, rest 0
    settings.PRM = {**settings.PRM, "HEALTH_WEIGHTS": {"relationship": 1, "revenue_trend": 1}}
    health.partner_health_compute()
    row = PartnerHealth.objects.get(partner=partner)
    assert row.score == 50 and row.band == "yellow"
    assert row.breakdown["relationship"]["weight"] == 0.5
    assert row.breakdown["pipeline"]["weight"] == 0


def test_recompute_updates_in_place_and_queries_do_not_grow(manager, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        strong_partner(manager)
    with CaptureQueriesContext(connection) as few:
        health.partner_health_compute()
    for _ in range(15):
        strong_partner(manager)
    with CaptureQueriesContext(connection) as many:
        health.partner_health_compute()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert PartnerHealth.objects.count() == 20


def test_engagement_lead_acceptance_share_of_answered_offers(manager, partner_a, partner_rep):
    import random

    from deals import services
    from deals.services.health import engagement_lead_acceptance
    from partners.models import Region
    from tests.deals.factories import make_lead

    partner_a.country, partner_a.region = "DE", Region.EUROPE
    partner_a.save(update_fields=["country", "region"])
    leads = [make_lead(country="DE", region="europe", customer_name=f"Kunde {i} GmbH") for i in range(3)]
    for lead in leads:
        services.lead_route(actor=manager, lead=lead, rng=random.Random(0))
        lead.refresh_from_db()
    services.lead_accept(user=partner_rep, lead=leads[0])
    services.lead_decline(user=partner_rep, lead=leads[1], reason="Outside our region")
    # leads[2] is still open: not counted either way.
    assert engagement_lead_acceptance([partner_a.pk], today=timezone.localdate()) == {partner_a.pk: 50}
