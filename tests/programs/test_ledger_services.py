"""The earnings ledger: accrual once per event and rule, the append-only guard, the balance
summary, adjustments, reversals, caps and multipliers, reconciliation + task, FIFO expiry."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from partners.models import Tier
from prm.exceptions import ApplicationError, PermissionDenied, StateError
from prm.models import AuditLog, Notification
from programs import selectors, services
from programs.models import (
    CapPeriod,
    EarningEvent,
    EntryKind,
    EntryState,
    LedgerEntry,
    PointsBalance,
    SourceType,
)
from programs.tasks_ledger import accrue_event, points_expire, points_reconcile
from tests.programs.ledger_helpers import certificate, make_rule, won_deal

pytestmark = pytest.mark.django_db


def balance(partner) -> Decimal:
    return selectors.points_balance(partner=partner)


def ledger_sum(partner) -> Decimal:
    return sum((e.amount for e in LedgerEntry.objects.filter(partner=partner, kind=EntryKind.POINTS)), Decimal(0))


# --- one credit per event and rule ------------------------------------------------------


def test_ledger_accrue_duplicate_event_credits_once(partner_a):
    kwargs = {
        "partner": partner_a,
        "kind": "points",
        "amount": 50,
        "unit": "points",
        "source_type": "deal_won",
        "source_id": "7",
    }
    first = services.ledger_accrue(**kwargs)
    second = services.ledger_accrue(**kwargs)
    assert first is not None and first.amount == 50
    assert second is None
    assert LedgerEntry.objects.count() == 1
    assert balance(partner_a) == 50


def test_ledger_unique_key_is_enforced_by_the_database_even_without_a_rule(partner_a):
    services.ledger_accrue(
        partner=partner_a, kind="points", amount=5, unit="points", source_type="deal_won", source_id="1"
    )
    entry = LedgerEntry.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            partner=partner_a,
            kind="points",
            amount=5,
            unit="points",
            source_type="deal_won",
            source_id="1",
            occurred_at=entry.occurred_at,
        )


def test_ledger_same_event_under_two_rules_credits_twice(partner_a, partner_admin, manager):
    make_rule(points="10", name="base")
    make_rule(points="2", name="bonus")
    deal = won_deal(user=partner_admin, manager=manager, value="100000.00")
    assert services.points_for_event(event="deal_won", source_id=deal.pk) == 2
    assert services.points_for_event(event="deal_won", source_id=deal.pk) == 0
    assert sorted(LedgerEntry.objects.values_list("amount", flat=True)) == [Decimal("200.00"), Decimal("1000.00")]


def test_ledger_amounts_cannot_be_updated_or_deleted(partner_a):
    entry = services.ledger_accrue(
        partner=partner_a, kind="points", amount=5, unit="points", source_type="deal_won", source_id="1"
    )
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=500)
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    # State transitions are the one allowed update.
    LedgerEntry.objects.filter(pk=entry.pk).update(state=EntryState.APPROVED)
    entry.refresh_from_db()
    assert entry.amount == 5 and entry.state == EntryState.APPROVED


def test_points_balance_summary_matches_the_ledger_and_cannot_go_negative(partner_a):
    for i in range(3):
        services.ledger_accrue(
            partner=partner_a,
            kind="points",
            amount=10 * (i + 1),
            unit="points",
            source_type="deal_won",
            source_id=str(i),
        )
    assert balance(partner_a) == ledger_sum(partner_a) == 60
    with pytest.raises(ApplicationError) as exc:
        services.ledger_accrue(
            partner=partner_a,
            kind="points",
            amount=-61,
            unit="points",
            source_type="adjustment",
            source_id="x",
            reason="r",
        )
    assert exc.value.code == "insufficient_points"
    assert balance(partner_a) == 60 and LedgerEntry.objects.count() == 3


def test_money_entries_do_not_touch_the_points_balance(partner_a):
    services.ledger_accrue(
        partner=partner_a, kind="rebate", amount="1500.50", unit="RUB", source_type="deal_won", source_id="1"
    )
    assert balance(partner_a) == 0
    assert not PointsBalance.objects.filter(partner=partner_a, balance__gt=0).exists()


def test_ledger_accrue_rejects_wrong_unit_and_foreign_person(partner_a, other_partner_user):
    with pytest.raises(ApplicationError):
        services.ledger_accrue(
            partner=partner_a, kind="rebate", amount=5, unit="XYZ", source_type="deal_won", source_id="1"
        )
    with pytest.raises(ApplicationError):
        services.ledger_accrue(
            partner=partner_a, kind="points", amount=5, unit="RUB", source_type="deal_won", source_id="1"
        )
    with pytest.raises(ApplicationError):
        services.ledger_accrue(
            partner=partner_a,
            kind="points",
            amount=5,
            unit="points",
            source_type="deal_won",
            source_id="1",
            user=other_partner_user,
        )
    assert LedgerEntry.objects.count() == 0


# --- adjustments, reversals, states -----------------------------------------------------------


def test_points_adjust_requires_staff_and_reason_and_is_audited(partner_a, manager, partner_admin):
    with pytest.raises(PermissionDenied):
        services.points_adjust(actor=partner_admin, partner=partner_a, amount=100, reason="gift")
    with pytest.raises(ApplicationError) as exc:
        services.points_adjust(actor=manager, partner=partner_a, amount=100, reason="  ")
    assert "reason" in exc.value.fields
    with pytest.raises(ApplicationError):
        services.points_adjust(actor=manager, partner=partner_a, amount="1.5", reason="half")
    entry = services.points_adjust(actor=manager, partner=partner_a, amount=100, reason="Conference booth")
    assert entry.source_type == SourceType.ADJUSTMENT and entry.created_by == manager
    assert entry.expires_at is not None
    assert AuditLog.objects.filter(action="points.adjust", object_id=str(entry.pk), reason="Conference booth").exists()
    with pytest.raises(ApplicationError) as exc:
        services.points_adjust(actor=manager, partner=partner_a, amount=-101, reason="too much")
    assert exc.value.code == "insufficient_points"
    services.points_adjust(actor=manager, partner=partner_a, amount=-40, reason="correction")
    assert balance(partner_a) == 60


def test_ledger_entry_reverse_writes_an_opposite_entry_once(partner_a, manager):
    entry = services.points_adjust(actor=manager, partner=partner_a, amount=100, reason="promo")
    reversal = services.ledger_entry_reverse(actor=manager, entry=entry, reason="entered twice")
    entry.refresh_from_db()
    assert entry.state == EntryState.REVERSED and entry.amount == 100
    assert reversal.amount == -100 and reversal.reverses == entry
    assert balance(partner_a) == 0
    with pytest.raises(StateError):
        services.ledger_entry_reverse(actor=manager, entry=entry, reason="again")
    with pytest.raises(StateError):
        services.ledger_entry_reverse(actor=manager, entry=reversal, reason="undo")


def test_ledger_entry_reverse_of_spent_points_is_refused(partner_a, manager):
    entry = services.points_adjust(actor=manager, partner=partner_a, amount=100, reason="promo")
    services.points_adjust(actor=manager, partner=partner_a, amount=-80, reason="spent")
    with pytest.raises(ApplicationError) as exc:
        services.ledger_entry_reverse(actor=manager, entry=entry, reason="mistake")
    assert exc.value.code == "insufficient_points"
    entry.refresh_from_db()
    assert entry.state == EntryState.ACCRUED and balance(partner_a) == 20


def test_ledger_entry_states_accrued_approved_paid(partner_a, manager):
    entry = services.ledger_accrue(
        partner=partner_a, kind="spiff", amount=300, unit="RUB", source_type="deal_won", source_id="9"
    )
    with pytest.raises(StateError):
        services.ledger_entry_mark_paid(actor=manager, entry=entry)
    services.ledger_entry_approve(actor=manager, entry=entry)
    services.ledger_entry_mark_paid(actor=manager, entry=entry)
    entry.refresh_from_db()
    assert entry.state == EntryState.PAID and entry.state_changed_at is not None
    with pytest.raises(StateError):
        services.ledger_entry_approve(actor=manager, entry=entry)


# --- earning rules: value, multiplier, window, caps ----------------------------------------


def test_deal_won_points_per_thousand_times_tier_multiplier(partner_a, partner_admin, manager):
    partner_a.tier = Tier.objects.create(name="Gold", code="gold", rank=3, points_multiplier=Decimal("1.5"))
    partner_a.save(update_fields=["tier"])
    make_rule(points="10")
    deal = won_deal(user=partner_admin, manager=manager, value="125000.00")
    assert accrue_event.run("deal_won", deal.pk) == 1
    entry = LedgerEntry.objects.get()
    assert entry.amount == Decimal("1875")  # 125 × 10 × 1.5
    assert entry.user == partner_admin and entry.rule.event == EarningEvent.DEAL_WON
    assert entry.source_type == "deal_won" and entry.source_id == str(deal.pk)
    assert entry.multiplier == Decimal("1.5") and entry.base_value == Decimal("125000")
    assert entry.calculation == {"rate": "10.00", "per_thousand": True}
    assert entry.expires_at.date() == services.add_months(entry.occurred_at, 24).date()


def test_deal_won_in_foreign_currency_uses_the_stored_rate(partner_a, partner_admin, manager):
    from prm.models import ExchangeRate

    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2020, 1, 1), rate=Decimal("90"))
    make_rule(points="1", applies_tier_multiplier=False)
    deal = won_deal(user=partner_admin, manager=manager, value="10000.00", currency="USD")
    services.points_for_event(event="deal_won", source_id=deal.pk)
    assert LedgerEntry.objects.get().amount == Decimal("900")  # 10,000 USD × 90 = 900,000 RUB → 900 points


def test_rule_outside_its_window_or_inactive_credits_nothing(partner_a, partner_admin, manager):
    make_rule(points="10", valid_from=dt.date(2019, 1, 1), valid_to=dt.date(2019, 12, 31))
    make_rule(points="10", active=False, name="off")
    deal = won_deal(user=partner_admin, manager=manager)
    assert services.points_for_event(event="deal_won", source_id=deal.pk) == 0
    assert LedgerEntry.objects.count() == 0


def test_cap_per_partner_per_month_clamps_in_order(partner_a, partner_admin, manager):
    make_rule(event=EarningEvent.CERTIFICATION_EARNED, points="40", cap_period=CapPeriod.MONTH, cap_per_partner=100)
    certs = [certificate(partner=partner_a, earned_on=dt.date(2026, 3, d)) for d in (1, 2, 3, 4)]
    next_month = certificate(partner=partner_a, earned_on=dt.date(2026, 4, 1))
    written = services.points_reconcile()
    assert written == {"certification_earned": 4}
    amounts = dict(LedgerEntry.objects.values_list("source_id", "amount"))
    assert [amounts.get(str(c.pk)) for c in certs] == [40, 40, 20, None]
    assert amounts[str(next_month.pk)] == 40
    capped = LedgerEntry.objects.get(source_id=str(certs[2].pk))
    assert capped.calculation["capped"] is True
    # The task path applies the same cap: nothing more for March.
    assert services.points_for_event(event="certification_earned", source_id=certs[3].pk) == 0


def test_cap_per_person_leaves_room_for_colleagues(partner_a, partner_admin, partner_rep):
    make_rule(event=EarningEvent.CERTIFICATION_EARNED, points="30", cap_period=CapPeriod.YEAR, cap_per_person=50)
    mine = [
        certificate(partner=partner_a, user=partner_admin, earned_on=dt.date(2026, 2, d), course=f"c{d}")
        for d in (1, 2)
    ]
    theirs = certificate(partner=partner_a, user=partner_rep, earned_on=dt.date(2026, 2, 3))
    for cert in [*mine, theirs]:
        services.points_for_event(event="certification_earned", source_id=cert.pk)
    assert selectors.points_balance(partner=partner_a, user=partner_admin) == 50
    assert selectors.points_balance(partner=partner_a, user=partner_rep) == 30
    assert balance(partner_a) == 80


def test_reconcile_and_task_never_double_credit(partner_a, partner_admin, manager):
    make_rule(points="10")
    make_rule(event=EarningEvent.REGISTRATION_APPROVED, points="25", per_thousand=False)
    deals = [won_deal(user=partner_admin, manager=manager, value="10000.00") for _ in range(3)]
    accrue_event.run("deal_won", deals[0].pk)
    first = points_reconcile.run()
    again = points_reconcile.run()
    for deal in deals:
        accrue_event.run("deal_won", deal.pk)
        accrue_event.run("registration_approved", deal.pk)
    assert first == {"deal_won": 2, "registration_approved": 3}
    assert again == {"deal_won": 0, "registration_approved": 0}
    assert LedgerEntry.objects.count() == 6
    assert balance(partner_a) == 3 * 100 + 3 * 25 == ledger_sum(partner_a)


def test_sales_reported_earns_on_positive_amounts_only(partner_a, partner_admin):
    from deals.models import SalesRecord

    make_rule(event=EarningEvent.SALES_REPORTED, points="2")
    sale = SalesRecord.objects.create(
        partner=partner_a,
        kind="sell_out",
        occurred_on=timezone.localdate(),
        reference="S-1",
        amount=Decimal("50000"),
        currency="RUB",
        entered_by=partner_admin,
    )
    SalesRecord.objects.create(
        partner=partner_a,
        kind="sell_out",
        occurred_on=timezone.localdate(),
        reference="S-1R",
        amount=Decimal("-10000"),
        currency="RUB",
        entered_by=partner_admin,
    )
    assert services.points_reconcile() == {"sales_reported": 1}
    entry = LedgerEntry.objects.get()
    assert entry.source_id == str(sale.pk) and entry.amount == 100 and entry.user == partner_admin


def test_lead_accepted_within_sla_earns_once_and_declines_earn_nothing(partner_a, partner_rep, manager):
    import random

    from deals import services as deal_services
    from partners.models import Region
    from tests.deals.factories import make_lead

    make_rule(event=EarningEvent.LEAD_ACCEPTED_IN_SLA, points="15", per_thousand=False)
    partner_a.country, partner_a.region = "DE", Region.EUROPE
    partner_a.save(update_fields=["country", "region"])
    leads = [make_lead(country="DE", region="europe", customer_name=f"Kunde {i} GmbH") for i in range(2)]
    for lead in leads:
        deal_services.lead_route(actor=manager, lead=lead, rng=random.Random(0))
        lead.refresh_from_db()
    deal_services.lead_accept(user=partner_rep, lead=leads[0])
    deal_services.lead_decline(user=partner_rep, lead=leads[1], reason="Not our market")
    assert services.points_reconcile() == {"lead_accepted_in_sla": 1}
    assert services.points_reconcile() == {"lead_accepted_in_sla": 0}
    entry = LedgerEntry.objects.get()
    assert entry.amount == 15 and entry.user == partner_rep and entry.partner == partner_a


def test_sell_in_earns_no_points(partner_a, manager):
    from deals.models import SalesRecord

    make_rule(event=EarningEvent.SALES_REPORTED, points="2")
    SalesRecord.objects.create(
        partner=partner_a,
        kind="sell_in",
        occurred_on=timezone.localdate(),
        reference="INV-1",
        amount=Decimal("50000"),
        currency="RUB",
        entered_by=manager,
    )
    assert services.points_reconcile() == {"sales_reported": 0}


# --- FIFO expiry ----------------------------------------------------------------------------


def _credit(partner, amount, when, source):
    return services.ledger_accrue(
        partner=partner,
        kind="points",
        amount=amount,
        unit="points",
        source_type="deal_won",
        source_id=source,
        occurred_at=when,
    )


def test_points_expire_oldest_first_and_only_unspent(partner_a, manager):
    t0 = timezone.now() - dt.timedelta(days=800)  # expires ~70 days ago
    old = _credit(partner_a, 100, t0, "old")
    _credit(partner_a, 100, timezone.now() - dt.timedelta(days=100), "new")
    services.points_adjust(actor=manager, partner=partner_a, amount=-30, reason="spent on a mug")
    assert balance(partner_a) == 170
    expired = points_expire.run()
    assert expired == 70  # the spend came out of the oldest lot
    assert balance(partner_a) == 100
    expiry = LedgerEntry.objects.get(source_type=SourceType.EXPIRY)
    assert expiry.source_id == str(old.pk) and expiry.amount == -70
    # Twice is a no-op.
    assert points_expire.run() == 0
    assert LedgerEntry.objects.filter(source_type=SourceType.EXPIRY).count() == 1


def test_points_expire_after_spend_beyond_the_oldest_lot(partner_a, manager):
    now = timezone.now()
    a = _credit(partner_a, 100, now - dt.timedelta(days=900), "a")
    b = _credit(partner_a, 100, now - dt.timedelta(days=800), "b")
    _credit(partner_a, 100, now - dt.timedelta(days=10), "c")
    services.points_adjust(actor=manager, partner=partner_a, amount=-150, reason="big reward")
    lots = {lot.entry_id: lot.remaining for lot in selectors.points_lots(partner_id=partner_a.pk)}
    assert lots[a.pk] == 0 and lots[b.pk] == 50
    assert services.points_expire() == 50
    assert balance(partner_a) == 100


def test_points_expiring_soon_and_warning_sent_once(partner_a, partner_admin, partner_rep):
    now = timezone.now()
    soon = now - dt.timedelta(days=24 * 30.4 - 10)  # expires in about 10 days
    _credit(partner_a, 120, soon, "soon")
    _credit(partner_a, 50, now, "fresh")
    info = selectors.points_expiring_soon(partner=partner_a)
    assert info.points == 120 and info.first_points == 120
    assert services.points_expiry_warn() == 1
    assert services.points_expiry_warn() == 0  # deduplicated
    note = Notification.objects.get(user=partner_admin)
    assert "120" in note.title
    assert not Notification.objects.filter(user=partner_rep).exists()  # admins redeem, admins are told


def test_points_liability_by_partner_and_tier(partner_a, partner_b, manager, settings):
    settings.PRM = {**settings.PRM, "POINT_VALUE_BASE": "0.50"}
    services.points_adjust(actor=manager, partner=partner_a, amount=300, reason="x")
    services.points_adjust(actor=manager, partner=partner_b, amount=100, reason="y")
    report = selectors.points_liability()
    assert [(r["partner"], r["points"]) for r in report.rows] == [(partner_a, 300), (partner_b, 100)]
    assert report.total_points == 400 and report.total_value == Decimal("200.00")
    assert sum(t["points"] for t in report.by_tier) == 400


def test_ledger_list_for_user_scopes_partners_and_query_count(
    partner_a, partner_b, partner_admin, other_partner_user, manager, django_assert_max_num_queries
):
    for i in range(5):
        _credit(partner_a, 10, timezone.now(), f"a{i}")
    _credit(partner_b, 10, timezone.now(), "b")
    assert selectors.ledger_list_for_user(user=partner_admin).count() == 5
    assert selectors.ledger_list_for_user(user=other_partner_user).count() == 1
    assert selectors.ledger_list_for_user(user=manager).count() == 6
    with django_assert_max_num_queries(1):
        rows = [(e.partner.name, e.rule, e.user, e.reverses) for e in selectors.ledger_list_for_user(user=manager)]
    assert len(rows) == 6


def test_trigger_keeps_balance_under_set_based_inserts(partner_a, partner_b):
    """One INSERT … SELECT for two partners updates both summary rows once."""
    make_rule(event=EarningEvent.CERTIFICATION_EARNED, points="7")
    for partner in (partner_a, partner_b, partner_a):
        certificate(partner=partner)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM programs_pointsbalance")
        assert cursor.fetchone()[0] == 0
    services.points_reconcile()
    assert balance(partner_a) == 14 and balance(partner_b) == 7


def test_points_liability_query_count_is_flat(manager, django_assert_max_num_queries):
    from tests.factories import PartnerFactory

    for i in range(8):
        partner = PartnerFactory(name=f"Liability {i}", owner=manager)
        services.points_adjust(actor=manager, partner=partner, amount=10 * (i + 1), reason="x")
    with django_assert_max_num_queries(2):
        report = selectors.points_liability()
        rows = [(r["partner"].name, r["partner"].tier) for r in report.rows]
    assert len(rows) == 8 and report.total_points == 360


def test_points_adjust_limits_hold_in_the_service(partner_a, manager):
    from prm.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as too_big:
        services.points_adjust(actor=manager, partner=partner_a, amount=10_000_001, reason="typo")
    assert "amount" in too_big.value.fields
    with pytest.raises(ApplicationError) as too_long:
        services.points_adjust(actor=manager, partner=partner_a, amount=5, reason="x" * 2001)
    assert "reason" in too_long.value.fields
    assert not LedgerEntry.objects.exists()
    assert services.points_adjust(actor=manager, partner=partner_a, amount=10_000_000, reason="ok").amount == 10_000_000
