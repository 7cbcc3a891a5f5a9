"""Tier engine rules: promotion, at-risk notice then demotion, recovery, lock, approval,
metrics (expired certificates, returns, currency, no double counting), idempotence."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from deals.models import SalesKind
from partners.models import Partner
from prm.exceptions import ApplicationError, StateError
from prm.models import AuditLog, Notification
from programs import selectors, services
from programs.models import ChangeKind, ChangeStatus, PartnerTierStatus, TierChange
from programs.services.tiers import tier_change_send_notifications
from tests.programs.tiers_factories import (
    certify,
    make_silver,
    rate,
    sale,
    tiers_fixture,  # noqa: F401 (the "tiers" fixture)
    won_deal,
    won_deals,
)

pytestmark = pytest.mark.django_db


def evaluate(partner, now=None, **kwargs):
    return services.tiers_evaluate(partner_ids=[partner.pk], now=now, **kwargs)


def metrics(partner, now=None):
    return selectors.tier_metrics([partner.pk], now=now)[0][partner.pk]


def test_tiers_evaluate_promotes_at_once_with_history_and_audit(tiers, partner_a, partner_admin):
    make_silver(partner_a, partner_admin)
    summary = evaluate(partner_a)
    partner_a.refresh_from_db()
    assert partner_a.tier == tiers["silver"]
    assert partner_a.tier_since == timezone.localdate()
    assert summary.promoted == 1
    change = TierChange.objects.get(partner=partner_a)
    assert (change.kind, change.status, change.from_tier, change.to_tier) == (
        ChangeKind.PROMOTION,
        ChangeStatus.APPLIED,
        None,
        tiers["silver"],
    )
    assert change.metrics["revenue"] == "1000000.00"
    assert change.metrics["won_deals"] == 2
    assert change.metrics["certified_people"] == 1
    assert AuditLog.objects.filter(action="partner.set_tier", partner_id=partner_a.pk).count() == 1


def test_tiers_evaluate_twice_changes_nothing_and_writes_no_history(tiers, partner_a, partner_b, partner_admin):
    make_silver(partner_a, partner_admin)
    first = evaluate(partner_a)
    services.tiers_evaluate(partner_ids=[partner_b.pk])
    history, audits = TierChange.objects.count(), AuditLog.objects.count()
    status_before = PartnerTierStatus.objects.get(partner=partner_a)
    second = services.tiers_evaluate()
    assert first.changed == 1
    assert second.changed == 0
    assert second.unchanged == second.evaluated == 2
    assert (TierChange.objects.count(), AuditLog.objects.count()) == (history, audits)
    status_after = PartnerTierStatus.objects.get(partner=partner_a)
    assert status_after.last_metrics == status_before.last_metrics
    assert status_after.updated_at == status_before.updated_at


def test_tiers_evaluate_at_risk_then_demotion_after_notice_period(tiers, partner_a, partner_admin, settings):
    settings.PRM = {**settings.PRM, "TIER_DEMOTION_NOTICE_DAYS": 90}
    now = timezone.now()
    # Won 300 days ago: inside the window today, outside it 100 days from now.
    won_deals(partner_a, partner_admin, 2, "500000", closed_at=now - datetime.timedelta(days=300))
    certify(partner_a, 1)
    evaluate(partner_a, now=now)
    partner_a.refresh_from_db()
    assert partner_a.tier == tiers["silver"]

    later = now + datetime.timedelta(days=100)
    summary = evaluate(partner_a, now=later)
    partner_a.refresh_from_db()
    status = PartnerTierStatus.objects.get(partner=partner_a)
    assert summary.at_risk == 1
    assert partner_a.tier == tiers["silver"]  # not demoted yet
    assert status.at_risk_since == later
    assert status.at_risk_tier == tiers["registered"]
    assert status.demotion_due_on == timezone.localdate(later) + datetime.timedelta(days=90)
    assert TierChange.objects.filter(partner=partner_a, kind=ChangeKind.AT_RISK).count() == 1

    # Still inside the notice period: nothing more happens (and no second at-risk notice).
    evaluate(partner_a, now=later + datetime.timedelta(days=89))
    partner_a.refresh_from_db()
    assert partner_a.tier == tiers["silver"]
    assert TierChange.objects.filter(partner=partner_a, kind=ChangeKind.AT_RISK).count() == 1

    summary = evaluate(partner_a, now=later + datetime.timedelta(days=90))
    partner_a.refresh_from_db()
    status.refresh_from_db()
    assert summary.demoted == 1
    assert partner_a.tier == tiers["registered"]
    assert status.at_risk_since is None and status.demotion_due_on is None
    demotion = TierChange.objects.get(partner=partner_a, kind=ChangeKind.DEMOTION)
    assert demotion.from_tier == tiers["silver"] and demotion.to_tier == tiers["registered"]
    assert demotion.metrics["won_deals"] == 0


def test_tiers_evaluate_recovery_during_notice_clears_risk(tiers, partner_a, partner_admin):
    now = timezone.now()
    won_deals(partner_a, partner_admin, 2, "500000", closed_at=now - datetime.timedelta(days=300))
    certify(partner_a, 1)
    evaluate(partner_a, now=now)
    later = now + datetime.timedelta(days=100)
    evaluate(partner_a, now=later)
    assert PartnerTierStatus.objects.get(partner=partner_a).at_risk_since is not None
    # New business during the notice period.
    won_deals(partner_a, partner_admin, 2, "600000", closed_at=later + datetime.timedelta(days=1))
    summary = evaluate(partner_a, now=later + datetime.timedelta(days=10))
    status = PartnerTierStatus.objects.get(partner=partner_a)
    partner_a.refresh_from_db()
    assert summary.recovered == 1
    assert status.at_risk_since is None and status.at_risk_tier is None
    assert partner_a.tier == tiers["silver"]
    assert TierChange.objects.filter(partner=partner_a, kind=ChangeKind.RECOVERED).count() == 1
    # Past the old due date nothing is demoted.
    evaluate(partner_a, now=later + datetime.timedelta(days=120))
    partner_a.refresh_from_db()
    assert partner_a.tier == tiers["silver"]


def test_tier_lock_keeps_tier_whatever_the_numbers(tiers, partner_a, manager):
    partner_a.tier = tiers["gold"]
    partner_a.save(update_fields=["tier"])
    services.tier_lock(actor=manager, partner=partner_a, reason="Strategic partner")
    summary = evaluate(partner_a, now=timezone.now() + datetime.timedelta(days=400))
    partner_a.refresh_from_db()
    status = PartnerTierStatus.objects.get(partner=partner_a)
    assert partner_a.tier == tiers["gold"]
    assert status.locked and status.lock_reason == "Strategic partner" and status.locked_by == manager
    assert status.at_risk_since is None
    assert status.qualified_tier == tiers["registered"]  # the numbers are still recorded
    assert summary.changed == 0
    lock = TierChange.objects.get(partner=partner_a, kind=ChangeKind.LOCK)
    assert lock.actor == manager and lock.reason == "Strategic partner"

    services.tier_unlock(actor=manager, partner=partner_a, reason="Review done")
    evaluate(partner_a)
    status.refresh_from_db()
    assert status.at_risk_since is not None  # the rules apply again


def test_tier_lock_needs_a_reason_and_staff(tiers, partner_a, manager, partner_admin):
    with pytest.raises(ApplicationError) as exc:
        services.tier_lock(actor=manager, partner=partner_a, reason="  ")
    assert "reason" in exc.value.fields
    with pytest.raises(ApplicationError):
        services.tier_lock(actor=partner_admin, partner=partner_a, reason="mine")
    assert not PartnerTierStatus.objects.filter(partner=partner_a, locked=True).exists()
    services.tier_lock(actor=manager, partner=partner_a, reason="x")
    with pytest.raises(StateError):
        services.tier_lock(actor=manager, partner=partner_a, reason="again")


def test_tier_metrics_expired_certifications_do_not_count(tiers, partner_a):
    today = timezone.localdate()
    certify(partner_a, 1, expires_on=today - datetime.timedelta(days=1))
    certify(partner_a, 1, expires_on=today)  # expires today: no longer valid
    certify(partner_a, 1, expires_on=today + datetime.timedelta(days=1))
    certify(partner_a, 1)  # never expires
    certify(partner_a, 1, earned_on=today + datetime.timedelta(days=3))  # not earned yet
    assert metrics(partner_a).certified_people == 2


def test_tier_metrics_counts_people_not_certificates(tiers, partner_a):
    (cert,) = certify(partner_a, 1)
    from partners.models import Certification

    Certification.objects.create(contact=cert.contact, course="Second course", earned_on=cert.earned_on)
    assert metrics(partner_a).certified_people == 1


def test_tier_metrics_returns_reduce_revenue(tiers, partner_a):
    sale(partner_a, "800000")
    sale(partner_a, "-300000")
    assert metrics(partner_a).revenue == Decimal("500000.00")


def test_tier_metrics_converts_currencies_at_the_rate_of_the_day(tiers, partner_a, partner_admin):
    today = timezone.localdate()
    rate("USD", "90", valid_from=today - datetime.timedelta(days=100))
    rate("USD", "100", valid_from=today - datetime.timedelta(days=20))
    sale(partner_a, "1000", currency="USD", on=today - datetime.timedelta(days=50))  # 90 000
    sale(partner_a, "1000", currency="USD", on=today - datetime.timedelta(days=10))  # 100 000
    won_deal(partner_a, partner_admin, "10", currency="USD", closed_at=timezone.now() - datetime.timedelta(days=5))
    assert metrics(partner_a).revenue == Decimal("191000.00")


def test_tier_metrics_missing_rate_is_reported_and_partner_left_alone(tiers, partner_a):
    sale(partner_a, "1000", currency="CNY")
    summary = evaluate(partner_a)
    assert partner_a.pk in summary.errors
    assert not TierChange.objects.filter(partner=partner_a).exists()


def test_tier_metrics_window_and_kinds(tiers, partner_a, partner_admin, settings):
    today = timezone.localdate()
    sale(partner_a, "100", on=today - datetime.timedelta(days=364))  # first day of the window
    sale(partner_a, "1000", on=today - datetime.timedelta(days=365))  # just outside
    sale(partner_a, "5000", kind=SalesKind.SELL_IN)  # sell-in is not counted by default
    won_deal(partner_a, partner_admin, "7", closed_at=timezone.now() - datetime.timedelta(days=400))
    m = metrics(partner_a)
    assert (m.revenue, m.won_deals) == (Decimal("100.00"), 0)
    settings.PRM = {**settings.PRM, "TIER_SALES_KINDS": ("sell_in", "sell_out")}
    assert metrics(partner_a).revenue == Decimal("5100.00")


def test_tier_metrics_sales_record_of_a_won_deal_is_not_counted_twice(tiers, partner_a, partner_admin):
    deal = won_deal(partner_a, partner_admin, "300000")
    sale(partner_a, "300000", registration=deal)  # the same revenue, reported as sell-out
    sale(partner_a, "50000")  # unrelated
    m = metrics(partner_a)
    assert m.revenue == Decimal("350000.00")
    assert m.won_deals == 1


def test_tier_qualify_needs_every_threshold(tiers):
    all_tiers = selectors.tier_list()
    rich_but_uncertified = selectors.TierMetrics(Decimal("9000000"), 10, 0)
    assert selectors.tier_qualify(rich_but_uncertified, all_tiers) == tiers["registered"]
    assert selectors.tier_qualify(selectors.TierMetrics(Decimal("5000000"), 5, 3), all_tiers) == tiers["gold"]


def test_tier_whatif_uses_the_engine_rules(tiers):
    result = selectors.tier_whatif(revenue=Decimal("1200000"), won_deals=3, certified_people=1)
    assert result.tier == tiers["silver"]
    assert result.next_tier == tiers["gold"]
    gaps = {g.metric: g for g in result.next_gaps}
    assert gaps["revenue"].missing == Decimal("3800000")
    assert gaps["won_deals"].missing == 2
    assert gaps["certified_people"].missing == 2
    assert gaps["revenue"].percent == 24
    assert gaps["certified_people"].text == "2 more certified people"


def test_tier_approval_flow_pending_then_approved(tiers, partner_a, partner_admin, manager, settings):
    settings.PRM = {**settings.PRM, "TIER_CHANGES_NEED_APPROVAL": True}
    make_silver(partner_a, partner_admin)
    summary = evaluate(partner_a)
    partner_a.refresh_from_db()
    assert summary.pending == 1 and partner_a.tier is None
    change = TierChange.objects.get(partner=partner_a)
    assert change.status == ChangeStatus.PENDING
    assert PartnerTierStatus.objects.get(partner=partner_a).pending_change == change
    # Running again does not propose it twice.
    assert evaluate(partner_a).changed == 0
    assert TierChange.objects.filter(partner=partner_a).count() == 1

    services.tier_change_approve(actor=manager, change=change)
    partner_a.refresh_from_db()
    change.refresh_from_db()
    assert partner_a.tier == tiers["silver"]
    assert change.status == ChangeStatus.APPLIED and change.decided_by == manager
    assert PartnerTierStatus.objects.get(partner=partner_a).pending_change is None
    assert evaluate(partner_a).changed == 0
    with pytest.raises(StateError):
        services.tier_change_approve(actor=manager, change=change)


def test_tier_approval_rejected_is_not_proposed_again(tiers, partner_a, partner_admin, manager, settings):
    settings.PRM = {**settings.PRM, "TIER_CHANGES_NEED_APPROVAL": True}
    make_silver(partner_a, partner_admin)
    evaluate(partner_a)
    change = TierChange.objects.get(partner=partner_a)
    with pytest.raises(ApplicationError):
        services.tier_change_reject(actor=manager, change=change, reason="")
    services.tier_change_reject(actor=manager, change=change, reason="Wait for the audit")
    change.refresh_from_db()
    assert change.status == ChangeStatus.REJECTED and change.decision_reason == "Wait for the audit"
    assert evaluate(partner_a).changed == 0
    partner_a.refresh_from_db()
    assert partner_a.tier is None
    # Once the numbers earn something else, the engine proposes again.
    won_deals(partner_a, partner_admin, 3, "1500000")
    certify(partner_a, 2)
    assert evaluate(partner_a).pending == 1
    assert TierChange.objects.get(partner=partner_a, status=ChangeStatus.PENDING).to_tier == tiers["gold"]


def test_tier_approval_pending_withdrawn_when_numbers_fall_back(tiers, partner_a, partner_admin, settings):
    settings.PRM = {**settings.PRM, "TIER_CHANGES_NEED_APPROVAL": True}
    partner_a.tier = tiers["registered"]
    partner_a.save(update_fields=["tier"])
    deals = won_deals(partner_a, partner_admin, 2, "500000")
    certify(partner_a, 1)
    evaluate(partner_a)
    pending = TierChange.objects.get(partner=partner_a)
    from deals.models import DealRegistration

    DealRegistration.objects.filter(pk__in=[d.pk for d in deals]).update(
        closed_at=timezone.now() - datetime.timedelta(days=500)
    )
    evaluate(partner_a)
    pending.refresh_from_db()
    assert pending.status == ChangeStatus.CANCELLED
    assert PartnerTierStatus.objects.get(partner=partner_a).pending_change is None


def test_tier_set_manual_records_history_and_clears_risk(tiers, partner_a, manager):
    change = services.tier_set_manual(actor=manager, partner=partner_a, tier=tiers["gold"], reason="Contract")
    partner_a.refresh_from_db()
    assert partner_a.tier == tiers["gold"]
    assert change.kind == ChangeKind.MANUAL and change.actor == manager
    assert AuditLog.objects.filter(action="partner.set_tier", partner_id=partner_a.pk).exists()
    assert services.tier_set_manual(actor=manager, partner=partner_a, tier=tiers["gold"], reason="again") is None


def test_tier_notifications_once_to_admins_and_owner(tiers, partner_a, partner_admin, partner_rep, manager):
    make_silver(partner_a, partner_admin)
    summary = evaluate(partner_a)
    assert tier_change_send_notifications(change_ids=summary.change_ids) == 2
    assert tier_change_send_notifications(change_ids=summary.change_ids) == 0
    recipients = set(Notification.objects.filter(kind="tier.promotion").values_list("user_id", flat=True))
    assert recipients == {partner_admin.pk, manager.pk}
    assert "Silver" in Notification.objects.get(user=partner_admin).title


def test_tier_at_risk_notification_says_what_is_lacking(tiers, partner_a, partner_admin):
    partner_a.tier = tiers["silver"]
    partner_a.save(update_fields=["tier"])
    summary = evaluate(partner_a)
    tier_change_send_notifications(change_ids=summary.change_ids)
    note = Notification.objects.get(user=partner_admin, kind="tier.at_risk")
    assert "2 more won deals" in note.body
    assert "1 more certified person" in note.body
    assert "1,000,000.00 RUB more revenue" in note.body


def test_tiers_evaluate_skips_prospects_and_terminated(tiers, partner_a):
    Partner.objects.filter(pk=partner_a.pk).update(status="prospect")
    assert evaluate(partner_a).evaluated == 0


def test_tiers_evaluate_many_partners_bounded_queries(tiers, partner_admin, django_assert_max_num_queries):
    from tests.factories import PartnerFactory

    for _ in range(15):
        p = PartnerFactory()
        certify(p, 1)
        sale(p, "2000000")
    with django_assert_max_num_queries(25):
        summary = services.tiers_evaluate()
    assert summary.evaluated >= 15
    assert summary.promoted >= 15


def test_tiers_evaluate_queues_notifications_after_commit(
    tiers, partner_a, partner_b, partner_admin, django_capture_on_commit_callbacks
):
    from unittest import mock

    make_silver(partner_a, partner_admin)
    with (
        mock.patch("programs.tasks_tiers.tier_change_notify.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        summary = evaluate(partner_a)
        delay.assert_not_called()  # never inside the open transaction
    delay.assert_called_once_with(summary.change_ids)
    with (
        mock.patch("programs.tasks_tiers.tier_change_notify.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        replay = evaluate(partner_b, notify=False)  # a demo replay of the past: records, tells nobody
    assert replay.promoted == 1
    delay.assert_not_called()


def test_tier_metrics_certified_people_agrees_with_the_partners_selector(partner_a, partner_b):
    """The rule is written twice, set-based for the engine and per partner for pages: pin them."""
    import datetime as _dt

    from partners.models import Certification
    from partners.selectors_certifications import certified_people_count
    from programs.selectors.tiers import tier_metrics
    from tests.factories import ContactFactory

    today = timezone.localdate()
    holder, twice, lapsed, gone = (ContactFactory(partner=partner_a) for _ in range(4))
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    Certification.objects.create(contact=holder, course="A", earned_on=today - _dt.timedelta(days=10))
    Certification.objects.create(contact=twice, course="A", earned_on=today - _dt.timedelta(days=10))
    Certification.objects.create(
        contact=twice, course="B", earned_on=today - _dt.timedelta(days=5), expires_on=today + _dt.timedelta(days=30)
    )
    Certification.objects.create(
        contact=lapsed, course="A", earned_on=today - _dt.timedelta(days=400), expires_on=today - _dt.timedelta(days=1)
    )
    Certification.objects.create(contact=gone, course="A", earned_on=today - _dt.timedelta(days=3))
    Certification.objects.create(contact=ContactFactory(partner=partner_b), course="A", earned_on=today)

    metrics, _errors = tier_metrics([partner_a.pk, partner_b.pk])
    assert metrics[partner_a.pk].certified_people == certified_people_count(partner=partner_a) == 2
    assert metrics[partner_b.pk].certified_people == certified_people_count(partner=partner_b) == 1
