"""The rewards API: /api/v1/rewards/ (catalogue; staff write) and /api/v1/redemptions/ (partner
admins ask, staff approve / fulfil / reject, a partner admin cancels) — one error shape, 409 when
already decided, 404 across partners, reps cannot redeem."""

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from programs import services
from programs.models import Redemption, RedemptionStatus, Reward
from tests.programs.ledger_helpers import make_reward

pytestmark = pytest.mark.django_db


def api(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def give(partner, points, manager):
    return services.points_adjust(actor=manager, partner=partner, amount=Decimal(points), reason="Credit")


@pytest.fixture
def reward(db):
    return make_reward(cost=100, stock=3, name="Branded mug")


@pytest.fixture
def requested(partner_a, partner_admin, manager, reward):
    give(partner_a, 500, manager)
    return services.redemption_request(actor=partner_admin, reward=reward)


REWARDS = reverse("api:reward-list")
REDEMPTIONS = reverse("api:redemption-list")


def _detail(name, obj):
    return reverse(f"api:{name}-detail", args=[obj.public_id])


def _action(name, obj):
    return reverse(f"api:redemption-{name}", args=[obj.public_id])


# --- rewards ------------------------------------------------------------------------------------


def test_rewards_list_for_partner_users_hides_withdrawn(partner_rep, reward):
    withdrawn = make_reward(name="Old")
    withdrawn.active = False
    withdrawn.save(update_fields=["active"])
    response = api(partner_rep).get(REWARDS)
    assert response.status_code == 200
    ids = [r["id"] for r in response.json()["results"]]
    assert ids == [str(reward.public_id)]
    assert response.json()["results"][0]["stock"] == 3
    assert api(partner_rep).get(_detail("reward", withdrawn)).status_code == 404


def test_rewards_list_for_staff_includes_withdrawn_and_filters(manager, reward):
    make_reward(name="Ticket", category="ticket")
    response = api(manager).get(REWARDS, {"category": "ticket"})
    assert [r["name"] for r in response.json()["results"]] == ["Ticket"]
    assert api(manager).get(REWARDS, {"category": "nonsense"}).status_code == 400


def test_rewards_anonymous_is_401(reward):
    response = api().get(REWARDS)
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_staff_create_and_update_reward(manager):
    response = api(manager).post(
        REWARDS,
        {"name": "Voucher", "category": "training", "points_cost": 1500, "name_i18n": {"ru": "Ваучер"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    reward = Reward.objects.get(public_id=response.json()["id"])
    assert (reward.points_cost, reward.stock, reward.name_i18n) == (1500, None, {"ru": "Ваучер"})
    changed = api(manager).patch(_detail("reward", reward), {"stock": 7, "active": False}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["stock"], changed.json()["active"]) == (7, False)


def test_staff_create_reward_bad_input_has_fields(manager):
    response = api(manager).post(REWARDS, {"name": "", "category": "gift", "points_cost": 0}, format="json")
    assert response.status_code == 400
    assert {"name", "points_cost"} <= set(response.json()["error"]["fields"])
    assert not Reward.objects.exists()


def test_partner_users_cannot_write_rewards(partner_admin, reward):
    assert api(partner_admin).post(REWARDS, {"name": "x", "category": "gift", "points_cost": 1}).status_code == 403
    assert api(partner_admin).patch(_detail("reward", reward), {"points_cost": 1}).status_code == 403
    reward.refresh_from_db()
    assert reward.points_cost == 100


# --- redemptions: create -------------------------------------------------------------------------


def test_partner_admin_redeems_and_points_are_debited(partner_a, partner_admin, manager, reward):
    give(partner_a, 500, manager)
    response = api(partner_admin).post(REDEMPTIONS, {"reward": str(reward.public_id), "quantity": 2}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["points"], body["status"], body["partner"]["name"]) == (200, "requested", "Alpha Systems")
    partner_a.points_balance.refresh_from_db()
    assert partner_a.points_balance.balance == 300


def test_redeem_insufficient_balance_is_400_with_code(partner_a, partner_admin, manager, reward):
    give(partner_a, 50, manager)
    response = api(partner_admin).post(REDEMPTIONS, {"reward": str(reward.public_id)}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "insufficient_points"
    assert "Not enough points" in response.json()["error"]["message"]
    assert not Redemption.objects.exists()


def test_redeem_out_of_stock_is_400_with_code(partner_a, partner_admin, manager, reward):
    give(partner_a, 5000, manager)
    response = api(partner_admin).post(REDEMPTIONS, {"reward": str(reward.public_id), "quantity": 4}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "out_of_stock"
    reward.refresh_from_db()
    assert reward.stock == 3


def test_reps_cannot_redeem(partner_a, partner_rep, manager, reward):
    give(partner_a, 500, manager)
    response = api(partner_rep).post(REDEMPTIONS, {"reward": str(reward.public_id)}, format="json")
    assert response.status_code == 403
    assert not Redemption.objects.exists()


def test_staff_cannot_redeem_and_anonymous_is_refused(manager, reward):
    assert api(manager).post(REDEMPTIONS, {"reward": str(reward.public_id)}, format="json").status_code == 403
    assert api().post(REDEMPTIONS, {"reward": str(reward.public_id)}, format="json").status_code in (401, 403)
    assert not Redemption.objects.exists()


def test_redeem_unknown_reward_is_404(partner_admin):
    response = api(partner_admin).post(REDEMPTIONS, {"reward": str(uuid.uuid4())}, format="json")
    assert response.status_code == 404


# --- redemptions: read and scope --------------------------------------------------------------------


def test_redemptions_list_is_scoped(requested, partner_rep, other_partner_user, manager):
    assert [r["id"] for r in api(partner_rep).get(REDEMPTIONS).json()["results"]] == [str(requested.public_id)]
    assert api(other_partner_user).get(REDEMPTIONS).json()["results"] == []
    assert api(other_partner_user).get(_detail("redemption", requested)).status_code == 404
    assert [r["id"] for r in api(manager).get(REDEMPTIONS, {"status": "requested"}).json()["results"]] == [
        str(requested.public_id)
    ]
    assert api(manager).get(REDEMPTIONS, {"status": "approved"}).json()["results"] == []
    assert api().get(REDEMPTIONS).status_code in (401, 403)


def test_redemptions_list_query_count_is_flat(partner_a, partner_admin, manager, django_assert_max_num_queries):
    give(partner_a, 100_000, manager)
    services.redemption_request(actor=partner_admin, reward=make_reward(cost=10))
    client = api(manager)
    with django_assert_max_num_queries(10) as few:
        client.get(REDEMPTIONS)
    for _ in range(8):
        services.redemption_request(actor=partner_admin, reward=make_reward(cost=10))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(REDEMPTIONS).json()["results"]) == 9


# --- redemptions: transitions --------------------------------------------------------------------


def test_staff_approve_then_fulfil(requested, manager):
    approved = api(manager).post(_action("approve", requested))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decided_by"]["full_name"] == "Max Manager"
    fulfilled = api(manager).post(_action("fulfil", requested))
    assert fulfilled.status_code == 200 and fulfilled.json()["status"] == "fulfilled"


def test_already_decided_is_409(requested, manager):
    api(manager).post(_action("approve", requested))
    again = api(manager).post(_action("approve", requested))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_decided"
    api(manager).post(_action("fulfil", requested))
    assert api(manager).post(_action("reject", requested), {"reason": "late"}).status_code == 409
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.FULFILLED


def test_fulfil_before_approval_is_409(requested, manager):
    assert api(manager).post(_action("fulfil", requested)).status_code == 409


def test_reject_requires_reason_and_returns_points(partner_a, requested, manager, reward):
    missing = api(manager).post(_action("reject", requested), {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["fields"]
    response = api(manager).post(_action("reject", requested), {"reason": "Discontinued"}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["decision_reason"]) == ("rejected", "Discontinued")
    partner_a.points_balance.refresh_from_db()
    assert partner_a.points_balance.balance == 500
    reward.refresh_from_db()
    assert reward.stock == 3


def test_partner_users_cannot_decide(requested, partner_admin, other_partner_user):
    for name in ("approve", "fulfil", "reject"):
        assert api(partner_admin).post(_action(name, requested), {"reason": "x"}).status_code == 403
        assert api(other_partner_user).post(_action(name, requested), {"reason": "x"}).status_code == 403
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.REQUESTED


def test_partner_admin_cancels_while_requested(partner_a, requested, partner_admin, manager):
    response = api(partner_admin).post(_action("cancel", requested))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    partner_a.points_balance.refresh_from_db()
    assert partner_a.points_balance.balance == 500
    assert api(partner_admin).post(_action("cancel", requested)).status_code == 409


def test_cancel_by_partner_b_is_404_by_rep_403_by_staff_403(requested, other_partner_user, partner_rep, manager):
    assert api(other_partner_user).post(_action("cancel", requested)).status_code == 404
    assert api(partner_rep).post(_action("cancel", requested)).status_code == 403
    assert api(manager).post(_action("cancel", requested)).status_code == 403
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.REQUESTED


def test_schema_says_partner_admins_cancel_not_the_requester(client):
    """The docs state the rule the service applies: only the partner's admins cancel."""
    schema = client.get(reverse("schema"), HTTP_ACCEPT="application/json").json()
    cancel = schema["paths"]["/api/v1/redemptions/{id}/cancel/"]["post"]
    words = f"{cancel.get('summary', '')} {cancel.get('description', '')}".lower()
    assert "partner admin" in words
    assert "requester" not in words


def test_schema_documents_the_rewards_endpoints(client):
    schema = client.get(reverse("schema"), HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/rewards/", "/api/v1/redemptions/{id}/approve/", "/api/v1/redemptions/{id}/cancel/"):
        assert path in schema
