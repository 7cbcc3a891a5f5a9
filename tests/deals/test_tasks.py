"""Beat tasks with the clock moved: each does its job once, and a second run changes nothing."""

import datetime as dt
from unittest import mock

import pytest

from deals import services, tasks
from deals.models import Conflict, ConflictOutcome, DealRegistration, DealStatus, ExtensionStatus
from prm.models import AuditLog, Notification, Role
from tests.deals.factories import customer_data, make_deal
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


def clock(when):
    return mock.patch("django.utils.timezone.now", return_value=when)


def state():
    """Everything a task could change."""
    return (
        list(DealRegistration.objects.order_by("pk").values()),
        list(Conflict.objects.order_by("pk").values()),
        Notification.objects.count(),
        AuditLog.objects.count(),
    )


@pytest.fixture
def approved(partner_admin, manager):
    with clock(START):
        deal = make_deal(user=partner_admin, submit=True, expected_close_date=dt.date(2027, 1, 1))
        return services.deal_approve(user=manager, deal=deal)  # protected until START + 90 days


def kinds(user):
    return list(Notification.objects.filter(user=user).order_by("pk").values_list("kind", "title"))


# --- protection reminders -----------------------------------------------------------------


def test_deal_protection_reminders_send_14_then_3_days_once_each(approved, partner_admin):
    end = approved.protected_until
    with clock(end - dt.timedelta(days=20)):
        assert tasks.deal_protection_reminders.run() == 0
    with clock(end - dt.timedelta(days=13)):
        assert tasks.deal_protection_reminders.run() == 1
        before = state()
        assert tasks.deal_protection_reminders.run() == 0
        assert state() == before
    with clock(end - dt.timedelta(days=2)):
        assert tasks.deal_protection_reminders.run() == 1
        before = state()
        assert tasks.deal_protection_reminders.run() == 0
        assert state() == before
    titles = [t for k, t in kinds(partner_admin) if k == "deal.protection_ending"]
    assert titles == [
        f"Protection of {approved.reference} ends in 14 days",
        f"Protection of {approved.reference} ends in 3 days",
    ]


def test_deal_protection_reminders_inside_3_days_send_only_the_3_day_one(approved, partner_admin):
    with clock(approved.protected_until - dt.timedelta(days=1)):
        tasks.deal_protection_reminders.run()
    titles = [t for k, t in kinds(partner_admin) if k == "deal.protection_ending"]
    assert titles == [f"Protection of {approved.reference} ends in 3 days"]


def test_deal_protection_reminders_fire_again_after_extension(approved, partner_admin, manager):
    end = approved.protected_until
    with clock(end - dt.timedelta(days=10)):
        tasks.deal_protection_reminders.run()
        extension = services.deal_request_extension(user=partner_admin, deal=approved, reason="Board meets late")
        services.deal_approve_extension(user=manager, extension=extension)
    with clock(end + dt.timedelta(days=20)):  # 10 days before the new end
        assert tasks.deal_protection_reminders.run() == 1
    assert len([k for k, _t in kinds(partner_admin) if k == "deal.protection_ending"]) == 2


# --- expiry -------------------------------------------------------------------------------


def test_deal_protection_expiry_releases_once(approved, partner_admin, other_partner_user):
    with clock(approved.protected_until - dt.timedelta(minutes=1)):
        assert tasks.deal_protection_expiry.run() == 0
        extension = services.deal_request_extension(user=partner_admin, deal=approved, reason="Need time")
    with clock(approved.protected_until + dt.timedelta(hours=1)):
        assert tasks.deal_protection_expiry.run() == 1
        before = state()
        assert tasks.deal_protection_expiry.run() == 0
        assert state() == before
    approved.refresh_from_db()
    extension.refresh_from_db()
    assert approved.status == DealStatus.EXPIRED and approved.expired_at is not None
    assert extension.status == ExtensionStatus.LAPSED
    assert AuditLog.objects.filter(action="deal.expire", object_id=str(approved.pk)).count() == 1
    assert [k for k, _t in kinds(partner_admin)].count("deal.expired") == 1
    # Released: another partner's registration for the customer no longer conflicts.
    with clock(approved.protected_until + dt.timedelta(hours=2)):
        make_deal(user=other_partner_user, submit=True, expected_close_date=dt.date(2027, 1, 1))
    assert not Conflict.objects.exists()


def test_deal_protection_expiry_lapses_open_conflicts(partner_admin, other_partner_user, manager):
    with clock(START):
        first = make_deal(user=partner_admin, submit=True, expected_close_date=dt.date(2027, 1, 1))
        services.deal_approve(user=manager, deal=first)
        make_deal(user=other_partner_user, submit=True, expected_close_date=dt.date(2027, 1, 1))
    conflict = Conflict.objects.get()
    with clock(START + dt.timedelta(days=91)):
        tasks.deal_protection_expiry.run(now=None)
    conflict.refresh_from_db()
    assert conflict.outcome == ConflictOutcome.LAPSED
    assert Notification.objects.filter(user=other_partner_user, kind="deal.conflict_closed").count() == 1


def test_deal_protection_expiry_accepts_iso_now(approved):
    assert tasks.deal_protection_expiry.run(now=(approved.protected_until + dt.timedelta(seconds=1)).isoformat()) == 1


# --- review SLA ---------------------------------------------------------------------------


def test_deal_review_sla_reminds_at_75_percent_then_escalates_once(partner_admin, manager, lead):
    with clock(START):
        deal = make_deal(user=partner_admin, submit=True, expected_close_date=dt.date(2027, 1, 1))
    assert deal.review_reminder_at == dt.datetime(2026, 3, 3, 14, 30, tzinfo=UTC)
    with clock(dt.datetime(2026, 3, 3, 14, 0, tzinfo=UTC)):
        assert tasks.deal_review_sla.run() == {"reminded": 0, "escalated": 0}
    with clock(dt.datetime(2026, 3, 3, 15, 0, tzinfo=UTC)):
        assert tasks.deal_review_sla.run() == {"reminded": 1, "escalated": 0}
        before = state()
        assert tasks.deal_review_sla.run() == {"reminded": 0, "escalated": 0}
        assert state() == before
    with clock(dt.datetime(2026, 3, 4, 10, 1, tzinfo=UTC)):
        assert tasks.deal_review_sla.run() == {"reminded": 0, "escalated": 1}
        before = state()
        assert tasks.deal_review_sla.run() == {"reminded": 0, "escalated": 0}
        assert state() == before
    assert [k for k, _t in kinds(manager)].count("deal.review_reminder") == 1
    assert [k for k, _t in kinds(lead)].count("deal.review_overdue") == 1
    assert AuditLog.objects.filter(action="deal.review_escalate").count() == 1


def test_deal_review_sla_waits_over_weekend_and_holidays(partner_admin, manager):
    friday = dt.datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
    with clock(friday):
        deal = make_deal(user=partner_admin, submit=True, expected_close_date=dt.date(2027, 1, 1))
    assert deal.review_due_at == dt.datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
    with clock(dt.datetime(2026, 3, 9, 8, 0, tzinfo=UTC)):  # Monday morning: only 1 business hour gone
        assert tasks.deal_review_sla.run() == {"reminded": 0, "escalated": 0}


def test_deal_review_sla_escalates_to_any_lead_when_manager_has_none(partner_a, partner_admin, lead):
    orphan_manager = StaffUserFactory(role=Role.CHANNEL_MANAGER, reports_to=None)
    partner_a.owner = orphan_manager
    partner_a.save()
    with clock(START):
        make_deal(user=partner_admin, submit=True, expected_close_date=dt.date(2027, 1, 1))
    with clock(START + dt.timedelta(days=7)):
        tasks.deal_review_sla.run()
    assert Notification.objects.filter(user=lead, kind="deal.review_overdue").count() == 1


def test_deal_review_sla_resubmission_gets_fresh_reminders(partner_admin, manager):
    with clock(START):
        deal = make_deal(user=partner_admin, submit=True, expected_close_date=dt.date(2027, 1, 1))
    with clock(START + dt.timedelta(days=1, hours=5)):
        tasks.deal_review_sla.run()
        services.deal_return(user=manager, deal=deal, reason="More")
        services.deal_submit(user=partner_admin, deal=deal)
    # Resubmitted Tuesday 15:00 → due Thursday 15:00, reminder Thursday 10:30.
    with clock(START + dt.timedelta(days=3, hours=2)):
        assert tasks.deal_review_sla.run() == {"reminded": 1, "escalated": 0}
    assert Notification.objects.filter(user=manager, kind="deal.review_reminder").count() == 2


# --- conflict escalation ------------------------------------------------------------------


def test_conflict_escalation_after_configured_days_once(settings, partner_admin, other_partner_user, lead):
    with clock(START):
        make_deal(user=partner_admin, submit=True, expected_close_date=dt.date(2027, 1, 1))
        make_deal(user=other_partner_user, submit=True, expected_close_date=dt.date(2027, 1, 1))
    with clock(START + dt.timedelta(days=2, hours=23)):
        assert tasks.conflict_escalation.run() == 0
    with clock(START + dt.timedelta(days=3, minutes=1)):
        assert tasks.conflict_escalation.run() == 1
        before = state()
        assert tasks.conflict_escalation.run() == 0
        assert state() == before
    notes = Notification.objects.filter(user=lead, kind="conflict.escalated")
    assert notes.count() == 1 and "Alpha Systems" in notes.get().body
    assert Conflict.objects.get().escalated_at == START + dt.timedelta(days=3, minutes=1)
    settings.PRM = {**settings.PRM, "CONFLICT_ESCALATION_DAYS": 1}
    with clock(START + dt.timedelta(days=5)):
        assert tasks.conflict_escalation.run() == 0


def test_conflict_escalation_skips_resolved(partner_admin, other_partner_user, manager, lead):
    with clock(START):
        make_deal(user=partner_admin, submit=True, expected_close_date=dt.date(2027, 1, 1))
        make_deal(
            user=other_partner_user,
            customer=customer_data(),
            submit=True,
            expected_close_date=dt.date(2027, 1, 1),
        )
        services.conflict_resolve(
            user=manager, conflict=Conflict.objects.get(), outcome=ConflictOutcome.CO_SELL, reason="ok"
        )
    with clock(START + dt.timedelta(days=10)):
        assert tasks.conflict_escalation.run() == 0
