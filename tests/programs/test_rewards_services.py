"""Rewards and redemptions: request debits at once, approve → fulfil, reject/cancel return the
points and the stock; clear errors; who may do what; selectors scoped by partner."""

from unittest import mock

import pytest

from prm.exceptions import ApplicationError, PermissionDenied, StateError
from prm.models import AuditLog, Notification
from programs import selectors, services
from programs.models import EntryState, LedgerEntry, RedemptionStatus, SourceType
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


def balance(partner):
    return selectors.points_balance(partner=partner)


def test_redemption_request_debits_points_and_takes_stock(funded, partner_admin):
    reward = make_reward(cost=300, stock=5)
    redemption = services.redemption_request(actor=partner_admin, reward=reward, quantity=2)
    reward.refresh_from_db()
    assert redemption.status == RedemptionStatus.REQUESTED and redemption.points == 600
    assert balance(funded) == 400 and reward.stock == 3
    debit = LedgerEntry.objects.get(source_type=SourceType.REDEMPTION, source_id=str(redemption.pk))
    assert debit.amount == -600 and debit.user == partner_admin
    assert AuditLog.objects.filter(action="redemption.request", object_id=str(redemption.pk)).exists()


def test_redemption_request_refuses_short_balance_and_stock_cleanly(funded, partner_admin):
    pricey = make_reward(cost=1500, name="Laptop")
    with pytest.raises(ApplicationError) as exc:
        services.redemption_request(actor=partner_admin, reward=pricey)
    assert exc.value.code == "insufficient_points" and "1500" in exc.value.message
    scarce = make_reward(cost=10, stock=1, name="Ticket")
    with pytest.raises(ApplicationError) as exc:
        services.redemption_request(actor=partner_admin, reward=scarce, quantity=2)
    assert exc.value.code == "out_of_stock"
    scarce.refresh_from_db()
    assert scarce.stock == 1 and balance(funded) == 1000
    assert not LedgerEntry.objects.filter(source_type=SourceType.REDEMPTION).exists()


def test_redemption_request_only_partner_admins(funded, partner_rep, manager):
    reward = make_reward(cost=10)
    for actor in (partner_rep, manager):
        with pytest.raises(PermissionDenied):
            services.redemption_request(actor=actor, reward=reward)


def test_redemption_inactive_reward_refused(funded, partner_admin, manager):
    reward = make_reward(cost=10)
    services.reward_update(actor=manager, reward=reward, active=False)
    with pytest.raises(ApplicationError) as exc:
        services.redemption_request(actor=partner_admin, reward=reward)
    assert exc.value.code == "reward_inactive"


def test_redemption_approve_then_fulfil_notifies_requester(funded, partner_admin, manager):
    redemption = services.redemption_request(actor=partner_admin, reward=make_reward(cost=100))
    with pytest.raises(StateError):
        services.redemption_fulfil(actor=manager, redemption=redemption)
    services.redemption_approve(actor=manager, redemption=redemption)
    services.redemption_fulfil(actor=manager, redemption=redemption)
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.FULFILLED
    assert redemption.decided_by == manager and redemption.fulfilled_at is not None
    assert Notification.objects.filter(user=partner_admin, kind="redemption_approved").count() == 1
    assert Notification.objects.filter(user=partner_admin, kind="redemption_fulfilled").count() == 1
    with pytest.raises(StateError) as exc:
        services.redemption_approve(actor=manager, redemption=redemption)
    assert exc.value.code == "already_decided"
    assert balance(funded) == 900


def test_redemption_reject_returns_points_and_stock(funded, partner_admin, manager):
    reward = make_reward(cost=250, stock=2)
    redemption = services.redemption_request(actor=partner_admin, reward=reward)
    with pytest.raises(ApplicationError):
        services.redemption_reject(actor=manager, redemption=redemption, reason="")
    services.redemption_approve(actor=manager, redemption=redemption)
    services.redemption_reject(actor=manager, redemption=redemption, reason="Discontinued")
    redemption.refresh_from_db()
    reward.refresh_from_db()
    assert redemption.status == RedemptionStatus.REJECTED and redemption.decision_reason == "Discontinued"
    assert balance(funded) == 1000 and reward.stock == 2
    debit = LedgerEntry.objects.get(source_type=SourceType.REDEMPTION)
    back = LedgerEntry.objects.get(source_type=SourceType.REDEMPTION_RETURN)
    assert debit.state == EntryState.REVERSED and back.reverses == debit and back.amount == 250
    with pytest.raises(StateError):
        services.redemption_reject(actor=manager, redemption=redemption, reason="again")
    assert balance(funded) == 1000


def test_redemption_cancel_by_a_partner_admin_while_requested(
    funded, partner_admin, partner_rep, other_partner_user, manager
):
    reward = make_reward(cost=100, stock=1)
    redemption = services.redemption_request(actor=partner_admin, reward=reward)
    for outsider in (other_partner_user, manager, partner_rep):
        with pytest.raises(PermissionDenied):
            services.redemption_cancel(actor=outsider, redemption=redemption)
    services.redemption_cancel(actor=partner_admin, redemption=redemption)
    redemption.refresh_from_db()
    reward.refresh_from_db()
    assert redemption.status == RedemptionStatus.CANCELLED and reward.stock == 1 and balance(funded) == 1000
    with pytest.raises(StateError):
        services.redemption_cancel(actor=partner_admin, redemption=redemption)


def test_redemption_cancel_refuses_a_requester_who_is_no_longer_a_partner_admin(funded, partner_admin):
    """Only partner admins cancel (as only they redeem): asking once does not keep the right."""
    from prm.models import Role

    redemption = services.redemption_request(actor=partner_admin, reward=make_reward(cost=100))
    partner_admin.role = Role.PARTNER_REP
    partner_admin.save(update_fields=["role"])
    with pytest.raises(PermissionDenied) as exc:
        services.redemption_cancel(actor=partner_admin, redemption=redemption)
    assert "partner admin" in exc.value.message
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.REQUESTED and balance(funded) == 900


def test_reward_create_and_update_staff_only_and_audited(manager, partner_admin):
    with pytest.raises(PermissionDenied):
        services.reward_create(actor=partner_admin, name="Mug", category="gift", points_cost=10)
    with pytest.raises(ApplicationError):
        services.reward_create(actor=manager, name="Mug", category="nonsense", points_cost=10)
    reward = services.reward_create(
        actor=manager, name="Mug", category="gift", points_cost=10, name_i18n={"ru": "Кружка"}
    )
    services.reward_update(actor=manager, reward=reward, points_cost=20, stock=3)
    reward.refresh_from_db()
    assert reward.points_cost == 20 and reward.stock == 3
    assert reward.display_name("ru") == "Кружка" and reward.display_name("en") == "Mug"
    assert AuditLog.objects.filter(action="reward.update", object_id=str(reward.pk)).exists()


def test_redemption_selectors_scope_and_queue(
    funded, partner_admin, other_partner_user, manager, partner_b, django_assert_max_num_queries
):
    services.points_adjust(actor=manager, partner=partner_b, amount=1000, reason="bonus")
    for _ in range(3):
        services.redemption_request(actor=partner_admin, reward=make_reward(cost=10))
    theirs = services.redemption_request(actor=other_partner_user, reward=make_reward(cost=10))
    assert selectors.redemption_list_for_user(user=partner_admin).count() == 3
    assert list(selectors.redemption_list_for_user(user=other_partner_user)) == [theirs]
    from django.http import Http404

    with pytest.raises(Http404):
        selectors.redemption_get_for_user(user=partner_admin, public_id=theirs.public_id)
    with django_assert_max_num_queries(1):
        rows = [(r.partner.name, r.reward.name, r.requested_by.email) for r in selectors.redemption_queue()]
    assert len(rows) == 4
    from partners.models import Partner

    assert selectors.redemption_queue_counts(partners=Partner.objects.all()) == {"requested": 4, "approved": 0}


def test_dashboard_card_counts_redemptions_to_approve(funded, partner_admin, manager):
    from partners.models import Partner
    from prm.dashboard import queue_cards

    services.redemption_request(actor=partner_admin, reward=make_reward(cost=10))
    cards = {c.key: c for c in queue_cards(manager, Partner.objects.all())}
    assert cards["redemptions_to_approve"].count == 1
    assert queue_cards(partner_admin, Partner.objects.all()) == [] or all(
        c.key != "redemptions_to_approve" for c in queue_cards(partner_admin, Partner.objects.all())
    )


def test_redemption_points_are_not_reversed_behind_the_redemptions_back(funded, partner_admin, manager):
    redemption = services.redemption_request(actor=partner_admin, reward=make_reward(cost=100))
    debit = LedgerEntry.objects.get(source_type=SourceType.REDEMPTION, source_id=str(redemption.pk))
    with pytest.raises(StateError):
        services.ledger_entry_reverse(actor=manager, entry=debit, reason="oops")
    assert balance(funded) == 900
