"""One rule for staff acting on a partner's points, redemptions and tier: a channel manager acts
on the partners of `partners.selectors.partners_in_scope` (their own; a channel lead: the
team's), an administrator on every partner, and an inactive staff user on none. The services
refuse (PermissionDenied); the staff pages answer 404 and the API 403."""

from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from prm.exceptions import PermissionDenied
from prm.models import Role
from programs import selectors, services
from programs.models import ChangeStatus, EntryState, LedgerEntry, RedemptionStatus, SourceType, TierChange
from tests.factories import StaffUserFactory, UserFactory
from tests.programs.ledger_helpers import make_reward
from tests.programs.tiers_factories import make_silver, tiers_fixture  # noqa: F401 (the "tiers" fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("prm.tasks.notification_email.delay"), mock.patch("programs.tasks_tiers.tier_change_notify.delay"):
        yield


@pytest.fixture
def stranger(db):
    """A channel manager who does not own partner A (nor reports to its manager's lead)."""
    return StaffUserFactory(role=Role.CHANNEL_MANAGER, email="stranger@example.test")


@pytest.fixture
def administrator(db):
    return UserFactory(role=Role.ADMINISTRATOR, email="ops@example.test")


@pytest.fixture
def requested(partner_a, partner_admin, manager):
    services.points_adjust(actor=manager, partner=partner_a, amount=1000, reason="welcome bonus")
    return services.redemption_request(actor=partner_admin, reward=make_reward(cost=100))


def balance(partner):
    return selectors.points_balance(partner=partner)


# --- services ------------------------------------------------------------------------------------


def test_points_adjust_only_for_partners_in_scope(partner_a, manager, lead, administrator, stranger):
    with pytest.raises(PermissionDenied) as exc:
        services.points_adjust(actor=stranger, partner=partner_a, amount=10, reason="gesture")
    assert "portfolio" in exc.value.message
    assert balance(partner_a) == 0
    for actor in (manager, lead, administrator):  # the owner, the owner's lead, an administrator
        services.points_adjust(actor=actor, partner=partner_a, amount=10, reason="gesture")
    assert balance(partner_a) == 30


def test_ledger_entry_transitions_only_for_partners_in_scope(partner_a, manager, stranger):
    entry = services.points_adjust(actor=manager, partner=partner_a, amount=10, reason="gesture")
    LedgerEntry.objects.filter(pk=entry.pk).update(state=EntryState.ACCRUED)
    entry.refresh_from_db()
    for call in (
        lambda: services.ledger_entry_approve(actor=stranger, entry=entry),
        lambda: services.ledger_entry_mark_paid(actor=stranger, entry=entry),
        lambda: services.ledger_entry_reverse(actor=stranger, entry=entry, reason="wrong"),
    ):
        with pytest.raises(PermissionDenied):
            call()
    entry.refresh_from_db()
    assert entry.state == EntryState.ACCRUED
    services.ledger_entry_approve(actor=manager, entry=entry)


def test_redemption_decisions_only_for_partners_in_scope(requested, manager, stranger):
    for call in (
        lambda: services.redemption_approve(actor=stranger, redemption=requested),
        lambda: services.redemption_reject(actor=stranger, redemption=requested, reason="no"),
    ):
        with pytest.raises(PermissionDenied):
            call()
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.REQUESTED
    services.redemption_approve(actor=manager, redemption=requested)
    with pytest.raises(PermissionDenied):
        services.redemption_fulfil(actor=stranger, redemption=requested)
    services.redemption_fulfil(actor=manager, redemption=requested)


def test_tier_lock_unlock_and_set_only_for_partners_in_scope(tiers, partner_a, manager, stranger):
    for call in (
        lambda: services.tier_lock(actor=stranger, partner=partner_a, reason="strategic"),
        lambda: services.tier_set_manual(actor=stranger, partner=partner_a, tier=tiers["gold"], reason="deal"),
    ):
        with pytest.raises(PermissionDenied):
            call()
    partner_a.refresh_from_db()
    assert partner_a.tier_id is None and not TierChange.objects.exists()
    services.tier_lock(actor=manager, partner=partner_a, reason="strategic")
    with pytest.raises(PermissionDenied):
        services.tier_unlock(actor=stranger, partner=partner_a, reason="done")


def test_tier_change_decisions_only_for_partners_in_scope(tiers, partner_a, partner_admin, manager, stranger, settings):
    settings.PRM = {**settings.PRM, "TIER_CHANGES_NEED_APPROVAL": True}
    make_silver(partner_a, partner_admin)
    services.tiers_evaluate()
    change = TierChange.objects.get(partner=partner_a, status=ChangeStatus.PENDING)
    with pytest.raises(PermissionDenied):
        services.tier_change_approve(actor=stranger, change=change)
    with pytest.raises(PermissionDenied):
        services.tier_change_reject(actor=stranger, change=change, reason="no")
    change.refresh_from_db()
    assert change.status == ChangeStatus.PENDING
    services.tier_change_approve(actor=manager, change=change)


def test_tier_services_refuse_an_inactive_staff_user(tiers, partner_a, manager):
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    with pytest.raises(PermissionDenied):
        services.tier_lock(actor=manager, partner=partner_a, reason="strategic")
    with pytest.raises(PermissionDenied):
        services.tier_set_manual(actor=manager, partner=partner_a, tier=tiers["gold"], reason="deal")
    assert not TierChange.objects.exists()


# --- pages: 404 for a partner outside the portfolio ------------------------------------------------


def test_adjust_page_out_of_scope_is_404_and_form_hidden(partner_a, manager_client, stranger, client_for):
    url = reverse("staff:ledger_adjust", args=[partner_a.public_id])
    response = client_for(stranger).post(url, {"amount": "10", "reason": "gesture"})
    assert response.status_code == 404
    assert balance(partner_a) == 0
    page = reverse("staff:ledger_partner", args=[partner_a.public_id])
    assert 'data-testid="ledger-adjust-form"' not in client_for(stranger).get(page).content.decode()
    assert 'data-testid="ledger-adjust-form"' in manager_client.get(page).content.decode()
    assert manager_client.post(url, {"amount": "10", "reason": "gesture"}).status_code == 302
    assert balance(partner_a) == 10


@pytest.mark.parametrize("name", ["staff:redemption_approve", "staff:redemption_reject", "staff:redemption_fulfil"])
def test_redemption_decision_pages_out_of_scope_are_404(requested, stranger, client_for, name):
    response = client_for(stranger).post(reverse(name, args=[requested.public_id]), {"reason": "no"})
    assert response.status_code == 404
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.REQUESTED


def test_redemption_queue_shows_no_buttons_for_partners_out_of_scope(requested, stranger, manager_client, client_for):
    html = client_for(stranger).get(reverse("staff:redemption_queue")).content.decode()
    assert str(requested.public_id) in html  # staff may see the whole queue…
    assert 'data-testid="queue-approve"' not in html  # …but act only on their portfolio
    assert 'data-testid="queue-approve"' in manager_client.get(reverse("staff:redemption_queue")).content.decode()


@pytest.mark.parametrize("name", ["staff:partner_tier_lock", "staff:partner_tier_set"])
def test_tier_action_pages_out_of_scope_are_404(tiers, partner_a, stranger, client_for, name):
    response = client_for(stranger).post(
        reverse(name, args=[partner_a.public_id]), {"reason": "x", "tier": tiers["gold"].pk}
    )
    assert response.status_code == 404
    partner_a.refresh_from_db()
    assert partner_a.tier_id is None and not TierChange.objects.exists()


def test_tier_panel_hides_the_actions_out_of_scope(tiers, partner_a, stranger, manager_client, client_for):
    url = reverse("staff:partner_tier_progress", args=[partner_a.public_id])
    html = client_for(stranger).get(url).content.decode()
    assert 'data-testid="partner-tier-panel"' in html
    assert 'data-testid="panel-lock-form"' not in html and 'data-testid="panel-set-form"' not in html
    html = manager_client.get(url).content.decode()
    assert 'data-testid="panel-lock-form"' in html and 'data-testid="panel-set-form"' in html


# --- API: 403 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["approve", "reject"])
def test_api_redemption_decisions_out_of_scope_are_403(requested, stranger, name):
    client = APIClient()
    client.force_authenticate(stranger)
    response = client.post(reverse(f"api:redemption-{name}", args=[requested.public_id]), {"reason": "no"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.REQUESTED
    assert not LedgerEntry.objects.filter(source_type=SourceType.REDEMPTION_RETURN).exists()
    assert balance(requested.partner) == Decimal(900)
