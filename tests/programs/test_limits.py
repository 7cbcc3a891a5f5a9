"""Limits on rewards and redemptions hold in the services and the database, not only in the
staff form and the API serializers: a reward costs at most 100,000,000 points (description at
most 4,000 characters); a redemption note and a rejection reason are at most 2,000 characters.
The API, the staff pages and the admin all answer with the service's error."""

from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from prm.exceptions import ApplicationError
from programs import selectors, services
from programs.models import (
    REDEMPTION_TEXT_MAX_LENGTH,
    REWARD_DESCRIPTION_MAX_LENGTH,
    REWARD_MAX_POINTS_COST,
    Redemption,
    RedemptionStatus,
    Reward,
)
from tests.programs.ledger_helpers import make_reward

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("prm.tasks.notification_email.delay"):
        yield


@pytest.fixture
def funded(partner_a, manager):
    services.points_adjust(actor=manager, partner=partner_a, amount=1000, reason="welcome bonus")
    return partner_a


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_limits_are_the_ones_the_form_and_the_serializers_show():
    from programs.api.rewards import RedemptionCreateSerializer, RedemptionRejectSerializer, RewardWriteSerializer
    from programs.forms.ledger import RejectRedemptionForm, RewardForm

    assert (REWARD_MAX_POINTS_COST, REWARD_DESCRIPTION_MAX_LENGTH, REDEMPTION_TEXT_MAX_LENGTH) == (
        100_000_000,
        4000,
        2000,
    )
    assert RewardForm.base_fields["points_cost"].max_value == REWARD_MAX_POINTS_COST
    assert RewardWriteSerializer().fields["points_cost"].max_value == REWARD_MAX_POINTS_COST
    assert RewardWriteSerializer().fields["description"].max_length == REWARD_DESCRIPTION_MAX_LENGTH
    assert RedemptionCreateSerializer().fields["note"].max_length == REDEMPTION_TEXT_MAX_LENGTH
    assert RedemptionRejectSerializer().fields["reason"].max_length == REDEMPTION_TEXT_MAX_LENGTH
    assert RejectRedemptionForm.base_fields["reason"].max_length == REDEMPTION_TEXT_MAX_LENGTH


def test_reward_create_refuses_a_cost_over_the_cap(manager):
    with pytest.raises(ApplicationError) as exc:
        services.reward_create(actor=manager, name="Yacht", category="gift", points_cost=REWARD_MAX_POINTS_COST + 1)
    assert set(exc.value.fields) == {"points_cost"}
    assert "100" in exc.value.message
    assert not Reward.objects.exists()
    reward = services.reward_create(actor=manager, name="Car", category="gift", points_cost=REWARD_MAX_POINTS_COST)
    assert reward.points_cost == REWARD_MAX_POINTS_COST


def test_reward_update_refuses_a_cost_over_the_cap_and_a_long_description(manager):
    reward = make_reward(cost=100)
    with pytest.raises(ApplicationError) as exc:
        services.reward_update(actor=manager, reward=reward, points_cost=REWARD_MAX_POINTS_COST + 1)
    assert set(exc.value.fields) == {"points_cost"}
    with pytest.raises(ApplicationError) as exc:
        services.reward_update(actor=manager, reward=reward, description="d" * (REWARD_DESCRIPTION_MAX_LENGTH + 1))
    assert set(exc.value.fields) == {"description"}
    reward.refresh_from_db()
    assert reward.points_cost == 100 and reward.description == ""


def test_redemption_request_refuses_a_long_note_and_debits_nothing(funded, partner_admin):
    reward = make_reward(cost=100, stock=2)
    with pytest.raises(ApplicationError) as exc:
        services.redemption_request(actor=partner_admin, reward=reward, note="n" * (REDEMPTION_TEXT_MAX_LENGTH + 1))
    assert set(exc.value.fields) == {"note"} and "2000" in exc.value.message
    reward.refresh_from_db()
    assert reward.stock == 2 and selectors.points_balance(partner=funded) == 1000
    assert not Redemption.objects.exists()


def test_redemption_reject_refuses_a_long_reason_and_keeps_the_request(funded, partner_admin, manager):
    redemption = services.redemption_request(actor=partner_admin, reward=make_reward(cost=100))
    with pytest.raises(ApplicationError) as exc:
        services.redemption_reject(actor=manager, redemption=redemption, reason="r" * (REDEMPTION_TEXT_MAX_LENGTH + 1))
    assert set(exc.value.fields) == {"reason"}
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.REQUESTED
    assert selectors.points_balance(partner=funded) == 900


def test_api_reward_write_over_the_cap_is_400_with_fields(manager):
    response = api(manager).post(
        reverse("api:reward-list"),
        {"name": "Yacht", "category": "gift", "points_cost": REWARD_MAX_POINTS_COST + 1},
        format="json",
    )
    assert response.status_code == 400
    assert "points_cost" in response.json()["error"]["fields"]
    assert not Reward.objects.exists()


def test_admin_reward_over_the_cap_is_refused(admin_user):
    from django.test import Client

    client = Client()
    client.force_login(admin_user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        reverse("admin:programs_reward_add"),
        {"name": "Yacht", "name_i18n": "{}", "category": "gift", "points_cost": REWARD_MAX_POINTS_COST + 1},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "points_cost" in response.context["adminform"].form.errors
    assert not Reward.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("points_cost", REWARD_MAX_POINTS_COST + 1),
        ("description", "d" * (REWARD_DESCRIPTION_MAX_LENGTH + 1)),
    ],
)
def test_database_refuses_a_reward_over_the_limits(field, value):
    reward = make_reward(cost=100)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reward.objects.filter(pk=reward.pk).update(**{field: value})


@pytest.mark.parametrize("field", ["note", "decision_reason"])
def test_database_refuses_redemption_text_over_the_limit(funded, partner_admin, field):
    redemption = services.redemption_request(actor=partner_admin, reward=make_reward(cost=100))
    with pytest.raises(IntegrityError), transaction.atomic():
        Redemption.objects.filter(pk=redemption.pk).update(**{field: "x" * (REDEMPTION_TEXT_MAX_LENGTH + 1)})
