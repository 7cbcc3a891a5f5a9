"""Lead services: create, accept, decline, re-assign, close, bulk import (all or nothing)."""

import datetime as dt
import random
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from deals import services
from deals.models import (
    DealRegistration,
    DealStatus,
    EndCustomer,
    Lead,
    LeadImport,
    LeadImportStatus,
    LeadOffer,
    LeadOfferStatus,
    LeadStatus,
    RoutingDecision,
)
from partners.models import Region
from prm.exceptions import ApplicationError, PermissionDenied, StateError
from prm.models import AuditLog, Notification, Role
from tests.deals.factories import ProductFactory, lead_fields, make_lead
from tests.factories import PartnerFactory, PartnerUserFactory, TierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def offered(manager, partner_a, partner_admin, partner_rep):
    """A lead offered to partner A (the only German partner)."""
    partner_a.country, partner_a.region = "DE", Region.EUROPE
    partner_a.save(update_fields=["country", "region"])
    lead = make_lead(country="DE", region="europe", customer_name="Kunde GmbH", estimated_value="120000")
    decision = services.lead_route(actor=manager, lead=lead, rng=random.Random(0))
    assert decision.partner_id == partner_a.pk
    lead.refresh_from_db()
    return lead


# --- create -------------------------------------------------------------------------------


def test_lead_create_makes_reference_customer_and_audit(manager):
    lead = make_lead(actor=manager, customer_website="https://www.northwind-traders.com")
    assert lead.reference.startswith(f"L-{timezone.now().year}-")
    assert lead.status == LeadStatus.NEW
    assert lead.end_customer.domain == "northwind-traders.com"
    assert AuditLog.objects.filter(action="lead.create", object_id=str(lead.pk)).exists()
    second = make_lead(actor=manager, customer_website="https://northwind-traders.com/contact")
    assert second.end_customer_id == lead.end_customer_id
    assert int(second.reference.rsplit("-", 1)[1]) == int(lead.reference.rsplit("-", 1)[1]) + 1


def test_lead_create_with_route_offers_at_once(manager, partner_a):
    lead = services.lead_create(actor=manager, rng=random.Random(0), **lead_fields())
    assert lead.status == LeadStatus.OFFERED
    assert lead.offered_to_id == partner_a.pk


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_name", ""),
        ("country", "Germany"),
        ("region", "mars"),
        ("latitude", "95"),
        ("estimated_value", "-5"),
        ("estimated_value", "lots"),
        ("currency", "XXX"),
        ("source", "pigeon"),
        ("product_line", 999999),
    ],
)
def test_lead_create_bad_input_names_the_field_and_writes_nothing(manager, field, value):
    with pytest.raises(ApplicationError) as exc:
        services.lead_create(actor=manager, **lead_fields(**{field: value}))
    assert field in exc.value.fields
    assert not Lead.objects.exists()
    assert not EndCustomer.objects.exists()


def test_lead_create_needs_both_coordinates(manager):
    with pytest.raises(ApplicationError) as exc:
        services.lead_create(actor=manager, **lead_fields(latitude="50.1"))
    assert "latitude" in exc.value.fields


def test_lead_create_refused_for_partner_user(partner_admin):
    with pytest.raises(PermissionDenied):
        services.lead_create(actor=partner_admin, **lead_fields())


def test_leads_create_bulk_all_or_nothing(manager, partner_a):
    imp = LeadImport.objects.create(created_by=manager, file_name="leads.csv")
    rows = [lead_fields(customer_name=f"Row {i}") for i in range(5)]
    rows[3]["country"] = "ZZZ"
    rows[4]["estimated_value"] = "-1"
    with pytest.raises(ApplicationError) as exc:
        services.leads_create_bulk(actor=manager, rows=rows, lead_import=imp)
    assert set(exc.value.fields) == {"row 4", "row 5"}
    assert not Lead.objects.exists()
    imp.refresh_from_db()
    assert imp.status == LeadImportStatus.FAILED
    assert [e["row"] for e in imp.errors] == ["row 4", "row 5"]


def test_leads_create_bulk_creates_and_routes_every_row(manager, partner_a):
    imp = LeadImport.objects.create(created_by=manager, file_name="leads.csv")
    seen = []
    rows = [lead_fields(customer_name=f"Row {i}") for i in range(60)]
    leads = services.leads_create_bulk(
        actor=manager, rows=rows, lead_import=imp, progress=lambda d, t: seen.append((d, t)), rng=random.Random(1)
    )
    assert len(leads) == 60
    assert Lead.objects.filter(lead_import=imp, status=LeadStatus.OFFERED, offered_to=partner_a).count() == 60
    assert seen == [(50, 60), (60, 60)]
    imp.refresh_from_db()
    assert (imp.status, imp.total, imp.processed, imp.created_count) == (LeadImportStatus.DONE, 60, 60, 60)


def test_leads_create_bulk_failure_late_in_the_transaction_rolls_back(manager, partner_a):
    rows = [lead_fields(customer_name=f"Row {i}") for i in range(3)]
    rows[2]["products"] = [987654]
    with pytest.raises(ApplicationError):
        services.leads_create_bulk(actor=manager, rows=rows)
    assert not Lead.objects.exists()


# --- accept -------------------------------------------------------------------------------


def test_lead_accept_makes_approved_registration_with_tier_protection(offered, partner_a, partner_rep):
    tier = TierFactory(code="silver", protection_days=60)
    partner_a.tier = tier
    partner_a.save(update_fields=["tier"])
    product = ProductFactory()
    offered.products.add(product)
    deal = services.lead_accept(user=partner_rep, lead=offered)
    offered.refresh_from_db()
    assert deal.status == DealStatus.APPROVED
    assert deal.partner_id == partner_a.pk and deal.submitted_by_id == partner_rep.pk
    assert deal.protection_days == 60
    assert deal.protected_until - deal.approved_at == dt.timedelta(days=60)
    assert deal.value == Decimal("120000")
    assert deal.end_customer_id == offered.end_customer_id
    assert list(deal.products.all()) == [product]
    assert offered.status == LeadStatus.ACCEPTED and offered.registration_id == deal.pk
    offer = LeadOffer.objects.get(lead=offered)
    assert offer.status == LeadOfferStatus.ACCEPTED and offer.responded_by_id == partner_rep.pk
    assert AuditLog.objects.filter(action="lead.accept", object_id=str(offered.pk)).exists()


def test_lead_accept_after_deadline_refused(offered, partner_admin):
    later = offered.offer_expires_at + dt.timedelta(minutes=1)
    with mock.patch("django.utils.timezone.now", return_value=later), pytest.raises(StateError):
        services.lead_accept(user=partner_admin, lead=offered)
    assert not DealRegistration.objects.exists()


def test_lead_accept_by_other_partner_refused(offered, other_partner_user, manager):
    with pytest.raises(PermissionDenied):
        services.lead_accept(user=other_partner_user, lead=offered)
    with pytest.raises(PermissionDenied):
        services.lead_accept(user=manager, lead=offered)
    offered.refresh_from_db()
    assert offered.status == LeadStatus.OFFERED


def test_lead_accept_twice_refused(offered, partner_admin, partner_rep):
    services.lead_accept(user=partner_admin, lead=offered)
    with pytest.raises(StateError):
        services.lead_accept(user=partner_rep, lead=offered)
    assert DealRegistration.objects.count() == 1


# --- decline ------------------------------------------------------------------------------


def test_lead_decline_needs_reason(offered, partner_admin):
    with pytest.raises(ApplicationError) as exc:
        services.lead_decline(user=partner_admin, lead=offered, reason="  ")
    assert "reason" in exc.value.fields
    offered.refresh_from_db()
    assert offered.status == LeadStatus.OFFERED


def test_lead_decline_with_spam_reroutes_and_never_comes_back(offered, partner_admin, partner_a):
    other = PartnerFactory(country="DE", region=Region.EUROPE)
    decision = services.lead_decline(user=partner_admin, lead=offered, reason="Fake company", spam=True)
    offered.refresh_from_db()
    assert decision.partner_id == other.pk
    assert offered.offered_to_id == other.pk and offered.spam_flags == 1
    declined = LeadOffer.objects.get(lead=offered, partner=partner_a)
    assert (declined.status, declined.decline_reason, declined.spam) == (
        LeadOfferStatus.DECLINED,
        "Fake company",
        True,
    )
    with pytest.raises(ApplicationError):
        services.lead_reassign(actor=offered.created_by or _staff(), lead=offered, partner=partner_a, reason="again")


def _staff():
    from tests.factories import StaffUserFactory

    return StaffUserFactory(role=Role.CHANNEL_MANAGER)


def test_lead_decline_last_partner_leaves_lead_unassigned(offered, partner_admin):
    decision = services.lead_decline(user=partner_admin, lead=offered, reason="Busy")
    offered.refresh_from_db()
    assert decision.band == "none"
    assert offered.status == LeadStatus.UNASSIGNED


# --- re-assign, close, re-route -----------------------------------------------------------


def test_lead_reassign_manual_decision_audited(offered, manager, partner_a):
    other = PartnerFactory(country="FR", region=Region.EUROPE)
    user = PartnerUserFactory(partner=other)
    decision = services.lead_reassign(actor=manager, lead=offered, partner=other, reason="Customer asked for them")
    offered.refresh_from_db()
    assert decision.manual and decision.band == "manual" and decision.actor_id == manager.pk
    assert offered.offered_to_id == other.pk
    assert LeadOffer.objects.get(lead=offered, partner=partner_a).status == LeadOfferStatus.WITHDRAWN
    assert AuditLog.objects.filter(action="lead.reassign", reason="Customer asked for them").exists()
    assert Notification.objects.filter(user=user, kind="lead.offered").count() == 1


def test_lead_reassign_needs_reason_staff_and_active_partner(offered, manager, partner_admin):
    other = PartnerFactory(country="FR", status="suspended")
    with pytest.raises(ApplicationError):
        services.lead_reassign(actor=manager, lead=offered, partner=other, reason="")
    with pytest.raises(PermissionDenied):
        services.lead_reassign(actor=partner_admin, lead=offered, partner=other, reason="x")
    with pytest.raises(ApplicationError):
        services.lead_reassign(actor=manager, lead=offered, partner=other, reason="x")


def test_lead_route_when_offered_withdraws_and_accepted_refused(offered, manager, partner_admin, partner_a):
    services.lead_route(actor=manager, lead=offered, rng=random.Random(0))
    assert LeadOffer.objects.get(lead=offered, partner=partner_a).status == LeadOfferStatus.WITHDRAWN
    offered.refresh_from_db()
    assert offered.status == LeadStatus.UNASSIGNED


def test_lead_route_accepted_refused(offered, manager, partner_admin):
    services.lead_accept(user=partner_admin, lead=offered)
    with pytest.raises(StateError):
        services.lead_route(actor=manager, lead=offered)
    with pytest.raises(StateError):
        services.lead_close(actor=manager, lead=offered, reason="x")


def test_lead_close_withdraws_offer(offered, manager, partner_a):
    services.lead_close(actor=manager, lead=offered, reason="Duplicate of L-1")
    offered.refresh_from_db()
    assert offered.status == LeadStatus.CLOSED and offered.offered_to is None
    assert LeadOffer.objects.get(lead=offered).status == LeadOfferStatus.WITHDRAWN


def test_lead_offer_notifies_partner_users(offered, partner_admin, partner_rep):
    assert Notification.objects.filter(kind="lead.offered", user__in=[partner_admin, partner_rep]).count() == 2


def test_decisions_numbered_per_lead(offered, partner_admin):
    services.lead_decline(user=partner_admin, lead=offered, reason="No")
    assert list(RoutingDecision.objects.filter(lead=offered).values_list("attempt", flat=True)) == [1, 2]


# --- selectors ----------------------------------------------------------------------------


def test_lead_queue_cards_registered_and_scoped(offered, manager, partner_a, partner_admin):
    from partners.selectors import partners_in_scope
    from prm.dashboard import queue_cards

    make_lead(customer_name="Nobody", country="JP")
    services.lead_route(actor=manager, lead=Lead.objects.get(customer_name="Nobody"))
    cards = {c.key: c for c in queue_cards(manager, partners_in_scope(user=manager))}
    assert cards["leads_unaccepted"].count == 1
    assert cards["leads_unassigned"].count == 1
    assert cards["leads_unaccepted"].url.endswith("?status=offered")
    other = _staff()
    cards = {c.key: c for c in queue_cards(other, partners_in_scope(user=other))}
    assert cards["leads_unaccepted"].count == 0
    partner_cards = queue_cards(partner_admin, partners_in_scope(user=partner_admin))
    assert not [c for c in partner_cards if c.key.startswith("leads_")]


def test_lead_queue_counts_overdue(offered):
    from deals.selectors_leads import lead_queue_counts

    assert lead_queue_counts().overdue == 0
    assert lead_queue_counts(now=offered.offer_expires_at + dt.timedelta(seconds=1)).overdue == 1


def test_fairness_stats_and_funnel(offered, manager, partner_a, partner_admin, django_assert_num_queries):
    from deals.selectors_leads import fairness_stats, lead_funnel

    other = PartnerFactory(country="DE", region=Region.EUROPE, name="Zeta")
    other_user = PartnerUserFactory(partner=other)
    t0 = offered.offered_at
    with mock.patch("django.utils.timezone.now", return_value=t0 + dt.timedelta(hours=3)):
        deal = services.lead_accept(user=partner_admin, lead=offered)
    second = make_lead(customer_name="Second", country="DE", region="europe")
    services.lead_reassign(actor=manager, lead=second, partner=other, reason="test")
    services.lead_decline(user=other_user, lead=second, reason="no")
    services.deal_mark_won(user=partner_admin, deal=deal, final_amount=Decimal("1000"))
    with django_assert_num_queries(1):
        rows = {r.partner_name: r for r in fairness_stats()}
    a = rows["Alpha Systems"]
    assert (a.offered, a.accepted, a.declined, a.timed_out, a.won) == (2, 1, 0, 0, 1)
    assert a.median_hours_to_accept == 3.0
    assert a.acceptance_rate == 1.0
    z = rows["Zeta"]
    assert (z.offered, z.accepted, z.declined, z.median_hours_to_accept) == (1, 0, 1, None)
    assert [r.partner_name for r in fairness_stats(partners=[other.pk])] == ["Zeta"]
    funnel = lead_funnel()
    assert (funnel.offered, funnel.accepted, funnel.won) == (2, 1, 1)


def test_lead_list_for_user_scoping_and_query_count(
    offered, manager, partner_admin, other_partner_user, django_assert_max_num_queries
):
    from django.http import Http404

    from deals.selectors_leads import lead_get_for_user, lead_inbox, lead_list_for_user, my_offer

    assert list(lead_list_for_user(user=partner_admin, filters={})) == [offered]
    assert list(lead_list_for_user(user=other_partner_user, filters={})) == []
    assert list(lead_inbox(user=partner_admin)) == [offered]
    assert list(lead_inbox(user=other_partner_user)) == []
    with pytest.raises(Http404):
        lead_get_for_user(user=other_partner_user, public_id=offered.public_id)
    got = lead_get_for_user(user=partner_admin, public_id=offered.public_id)
    assert my_offer(got).status == LeadOfferStatus.OFFERED
    for i in range(10):
        services.lead_create(actor=manager, rng=random.Random(i), **lead_fields(customer_name=f"Q{i}", country="DE"))

    for user in (manager, partner_admin):
        with django_assert_max_num_queries(2):
            rows = list(lead_list_for_user(user=user, filters={"country": "de"}))
            for row in rows:
                str(row.end_customer), str(row.offered_to), str(row.product_line)
                my_offer(row)
        assert len(rows) == 11
