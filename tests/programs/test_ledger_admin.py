"""Django admin for the ledger: every programs model is registered; ledger entries, balances
and redemptions are read-only there (no add, change or delete); the changelists load with a
query count that does not grow with rows; the approve action goes through the service."""

import pytest
from django.contrib import admin
from django.urls import reverse

from programs import services
from programs.models import EarningRule, EntryState, LedgerEntry, PointsBalance, Redemption, Reward
from tests.programs.ledger_helpers import make_reward, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


def _url(model, view, *args):
    return reverse(f"admin:programs_{model._meta.model_name}_{view}", args=args)


def test_every_programs_ledger_model_is_in_the_admin():
    for model in (EarningRule, LedgerEntry, PointsBalance, Reward, Redemption):
        assert admin.site.is_registered(model), model


def _rows(partner, manager, admin_user, n):
    for i in range(n):
        services.points_adjust(actor=manager, partner=partner, amount=100, reason=f"bonus {i}")
        make_rule(name=f"rule {i}")
        reward = make_reward(cost=10, name=f"reward {i}")
    return reward


@pytest.mark.parametrize("model", [EarningRule, LedgerEntry, PointsBalance, Reward, Redemption])
def test_ledger_admin_changelists_load_with_flat_queries(
    admin_client, partner_a, partner_admin, manager, admin_user, model
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reward = _rows(partner_a, manager, admin_user, 1)
    services.redemption_request(actor=partner_admin, reward=reward)
    admin_client.get(_url(model, "changelist"))
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(_url(model, "changelist")).status_code == 200
    reward = _rows(partner_a, manager, admin_user, 6)
    for _ in range(3):
        services.redemption_request(actor=partner_admin, reward=reward)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(_url(model, "changelist")).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


def test_ledger_entries_are_read_only_in_the_admin(admin_client, partner_a, manager):
    entry = services.points_adjust(actor=manager, partner=partner_a, amount=100, reason="bonus")
    assert admin_client.get(_url(LedgerEntry, "add")).status_code == 403
    assert admin_client.get(_url(LedgerEntry, "delete", entry.pk)).status_code == 403
    response = admin_client.post(_url(LedgerEntry, "change", entry.pk), {"amount": "999"})
    assert response.status_code == 403  # view-only: the change form refuses a POST
    entry.refresh_from_db()
    assert entry.amount == 100


def test_ledger_admin_approve_action_uses_the_service(admin_client, partner_a, manager):
    entry = services.ledger_accrue(
        partner=partner_a, kind="spiff", amount=500, unit="RUB", source_type="deal_won", source_id="5"
    )
    response = admin_client.post(
        _url(LedgerEntry, "changelist"), {"action": "approve", "_selected_action": [entry.pk]}, follow=True
    )
    assert response.status_code == 200
    entry.refresh_from_db()
    assert entry.state == EntryState.APPROVED
