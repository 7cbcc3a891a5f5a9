"""Clawback of points when a sale is returned or a certificate revoked: pro rata per rule,
cumulative rounding over partial returns, never below a zero balance (the shortfall is recorded
and staff told), one entry per return and rule whatever the retries, and the nightly
reconciliation catching what the task missed."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from deals import services as deal_services
from partners import services as partner_services
from prm.exceptions import StateError
from prm.models import Notification
from programs import selectors, services
from programs.models import EarningEvent, EntryState, LedgerEntry, SourceType
from programs.tasks_ledger import clawback_event, points_reconcile
from programs.views.ledger_display import describe_entry
from tests.programs.ledger_helpers import certificate, make_reward, make_rule

pytestmark = pytest.mark.django_db


def balance(partner):
    return selectors.points_balance(partner=partner)


def ledger_sum(partner):
    return sum(LedgerEntry.objects.filter(partner=partner, kind="points").values_list("amount", flat=True))


def sell_out(partner_admin, amount, reference="SO-1", occurred_on=None):
    """A reported sell-out, credited by its task (as production does on commit)."""
    sale = deal_services.sales_record_create(
        actor=partner_admin,
        partner=partner_admin.partner,
        kind="sell_out",
        occurred_on=occurred_on or timezone.localdate(),
        amount=Decimal(amount),
        currency="RUB",
        reference=reference,
    )
    services.points_for_event(event="sales_reported", source_id=sale.pk)
    return sale


def give_back(partner_admin, sale, amount=None, reason="Damaged in transit"):
    return deal_services.sales_record_return(
        actor=partner_admin, record=sale, amount=None if amount is None else Decimal(amount), reason=reason
    )


def clawbacks(**filters):
    return list(LedgerEntry.objects.filter(source_type=SourceType.SALES_RETURNED, **filters).order_by("pk"))


# --- pro rata -------------------------------------------------------------------------------


def test_return_claws_back_the_returned_share_of_the_points(partner_a, partner_admin):
    rule = make_rule(event=EarningEvent.SALES_REPORTED, points="10", name="Sell-out 10/1,000")
    sale = sell_out(partner_admin, "100000.00")  # 1,000 points
    credit = LedgerEntry.objects.get(source_type=SourceType.SALES_REPORTED)
    assert credit.amount == 1000 and balance(partner_a) == 1000

    returned = give_back(partner_admin, sale, amount="25000.00")
    assert services.points_clawback_for_return(return_id=returned.pk) == 1

    (entry,) = clawbacks()
    assert entry.amount == -250
    assert (entry.source_id, entry.rule, entry.reverses, entry.user) == (str(returned.pk), rule, credit, partner_admin)
    assert entry.occurred_at == dt.datetime.combine(returned.occurred_on, dt.time.min, tzinfo=dt.UTC)
    assert entry.expires_at is None
    assert entry.calculation["due"] == "250" and entry.calculation["shortfall"] == "0"
    assert balance(partner_a) == 750 == ledger_sum(partner_a)
    assert describe_entry(entry) == (
        "Return of sale SO-1: −250 points (25,000 of 100,000 RUB returned × 1,000 points credited, Sell-out 10/1,000)"
    )
    with translation.override("ru"):
        assert describe_entry(entry).startswith("Возврат продажи SO-1: списано баллов: 250 (возвращено 25")
    # The credit itself is untouched (append-only); the clawback takes from its lot first.
    credit.refresh_from_db()
    assert credit.amount == 1000 and credit.state == EntryState.ACCRUED
    lot = next(lot for lot in selectors.points_lots(partner_id=partner_a.pk) if lot.entry_id == credit.pk)
    assert lot.remaining == 750


def test_full_return_claws_back_every_rule_in_full(partner_a, partner_admin):
    per_value = make_rule(event=EarningEvent.SALES_REPORTED, points="2", name="Per value")
    flat = make_rule(event=EarningEvent.SALES_REPORTED, points="15", per_thousand=False, name="Per report")
    sale = sell_out(partner_admin, "12345.00")  # round(24.69) = 25 + 15
    assert balance(partner_a) == 40

    returned = give_back(partner_admin, sale)  # everything

    assert clawback_event.run("sales_returned", returned.pk) == 2
    amounts = {e.rule: e.amount for e in clawbacks()}
    assert amounts == {per_value: -25, flat: -15}
    assert balance(partner_a) == 0 == ledger_sum(partner_a)


def test_partial_returns_round_cumulatively_and_add_up_to_the_credit(partner_a, partner_admin):
    make_rule(event=EarningEvent.SALES_REPORTED, points="2")
    sale = sell_out(partner_admin, "5000.00")  # 10 points
    first = give_back(partner_admin, sale, amount="1666.67")
    second = give_back(partner_admin, sale, amount="1666.67")
    third = give_back(partner_admin, sale)  # the rest: 1,666.66

    # Out of order (tasks are not ordered): the amounts depend on the returns, not on the runs.
    for record in (second, third, first):
        assert services.points_clawback_for_return(return_id=record.pk) == 1

    by_return = {e.source_id: e.amount for e in clawbacks()}
    # Cumulative shares 3.33 → 3, 6.67 → 7, 10: rounded separately they would sum to 9, not 10.
    assert [by_return[str(r.pk)] for r in (first, second, third)] == [-3, -4, -3]
    assert balance(partner_a) == 0 == ledger_sum(partner_a)


def test_two_partial_returns_take_their_own_shares(partner_a, partner_admin):
    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sale = sell_out(partner_admin, "100000.00")  # 1,000 points
    first = give_back(partner_admin, sale, amount="10000.00")
    services.points_clawback_for_return(return_id=first.pk)
    second = give_back(partner_admin, sale, amount="30000.00")
    services.points_clawback_for_return(return_id=second.pk)

    assert [e.amount for e in clawbacks()] == [-100, -300]
    assert balance(partner_a) == 600 == ledger_sum(partner_a)


def test_a_share_that_rounds_to_nothing_writes_nothing_and_a_later_return_catches_up(partner_a, partner_admin):
    make_rule(event=EarningEvent.SALES_REPORTED, points="2")
    sale = sell_out(partner_admin, "5000.00")  # 10 points
    tiny = give_back(partner_admin, sale, amount="200.00")  # 0.4 points

    assert services.points_clawback_for_return(return_id=tiny.pk) == 0
    assert services.points_reconcile() == {"sales_reported": 0}  # its pre-selection agrees: nothing due
    rest = give_back(partner_admin, sale)  # 4,800.00: cumulative 10 − 0
    assert services.points_clawback_for_return(return_id=rest.pk) == 1
    assert [e.amount for e in clawbacks()] == [-10]
    assert balance(partner_a) == 0


# --- what earns nothing is clawed back from nothing ---------------------------------------------


def test_sell_in_returns_and_unlinked_negative_lines_claw_back_nothing(partner_a, partner_admin, manager):
    from deals.models import SalesRecord

    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sell_out(partner_admin, "10000.00")
    sell_in = deal_services.sales_record_create(
        actor=manager,
        partner=partner_a,
        kind="sell_in",
        occurred_on=timezone.localdate(),
        amount=Decimal("10000.00"),
        currency="RUB",
        reference="INV-1",
    )
    sell_in_return = give_back(manager, sell_in)
    unlinked = SalesRecord.objects.create(
        partner=partner_a,
        kind="sell_out",
        occurred_on=timezone.localdate(),
        reference="CREDIT-NOTE-7",
        amount=Decimal("-10000.00"),
        currency="RUB",
    )
    for record in (sell_in_return, unlinked):
        assert services.points_clawback_for_return(return_id=record.pk) == 0
    assert services.points_reconcile() == {"sales_reported": 0}
    assert clawbacks() == [] and balance(partner_a) == 100


# --- already spent ------------------------------------------------------------------------------


def test_spent_points_are_clawed_back_as_far_as_the_balance_goes_and_staff_are_told(partner_a, partner_admin, manager):
    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sale = sell_out(partner_admin, "100000.00")  # 1,000 points
    services.redemption_request(actor=partner_admin, reward=make_reward(cost=800))
    assert balance(partner_a) == 200

    returned = give_back(partner_admin, sale, amount="50000.00")  # 500 due
    assert returned.amount == Decimal("-50000.00")  # the return itself never depends on points
    assert services.points_clawback_for_return(return_id=returned.pk) == 1

    (entry,) = clawbacks()
    assert entry.amount == -200
    assert {k: entry.calculation[k] for k in ("due", "clawed", "shortfall")} == {
        "due": "500",
        "clawed": "200",
        "shortfall": "300",
    }
    assert balance(partner_a) == 0 == ledger_sum(partner_a)
    assert describe_entry(entry).endswith("; 300 points could not be taken back: they had already been spent")
    (note,) = Notification.objects.filter(kind="points_clawback_shortfall")
    assert note.user == manager  # the partner's channel manager
    assert note.title == "Alpha Systems: 300 points could not be taken back"
    assert "Return of sale SO-1" in note.body and "300 of the 500 points" in note.body

    # Retried: nothing more is taken, and nobody is told twice.
    assert services.points_clawback_for_return(return_id=returned.pk) == 0
    assert services.points_reconcile() == {"sales_reported": 0}
    assert len(clawbacks()) == 1 and Notification.objects.filter(kind="points_clawback_shortfall").count() == 1


def test_nothing_left_to_take_is_recorded_as_a_zero_clawback_with_its_shortfall(partner_a, partner_admin, manager):
    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sale = sell_out(partner_admin, "10000.00")  # 100 points
    services.redemption_request(actor=partner_admin, reward=make_reward(cost=100))
    returned = give_back(partner_admin, sale)

    assert services.points_clawback_for_return(return_id=returned.pk) == 1
    (entry,) = clawbacks()
    assert entry.amount == 0 and entry.calculation["shortfall"] == "100"
    assert balance(partner_a) == 0
    # Later points are not taken for it: the shortfall was written off, and the entry is the key.
    services.points_adjust(actor=manager, partner=partner_a, amount=500, reason="Welcome back")
    assert services.points_clawback_for_return(return_id=returned.pk) == 0
    assert services.points_reconcile() == {"sales_reported": 0}
    assert balance(partner_a) == 500


def test_the_database_refuses_a_zero_entry_that_is_not_a_clawback_shortfall(partner_a):
    from django.db import IntegrityError

    from programs.services.ledger import _insert_entry

    for source_type, calculation in (("adjustment", {"shortfall": "5"}), ("sales_returned", {"due": "5"})):
        with pytest.raises(IntegrityError, match="ledger_amount_nonzero"):
            _insert_entry(
                partner_id=partner_a.pk,
                kind="points",
                amount=Decimal(0),
                unit="points",
                source_type=source_type,
                source_id="x",
                reason="Zero",
                calculation=calculation,
            )


def test_points_that_expired_unused_are_not_taken_again_from_the_rest(partner_a, partner_admin, manager, settings):
    settings.PRM = {**settings.PRM, "POINTS_EXPIRE_MONTHS": 1}
    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sale = sell_out(partner_admin, "10000.00", occurred_on=timezone.localdate() - dt.timedelta(days=60))
    assert services.points_expire() == 100  # the sale's 100 points expired unspent
    services.points_adjust(actor=manager, partner=partner_a, amount=300, reason="Other points")

    returned = give_back(partner_admin, sale)
    assert services.points_clawback_for_return(return_id=returned.pk) == 0
    assert balance(partner_a) == 300


# --- idempotency, reconciliation, concurrency ---------------------------------------------------


def test_duplicate_task_runs_write_one_entry(partner_a, partner_admin):
    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sale = sell_out(partner_admin, "20000.00")
    returned = give_back(partner_admin, sale, amount="5000.00")

    results = [clawback_event.run("sales_returned", returned.pk) for _ in range(3)]

    assert results == [1, 0, 0]
    assert [e.amount for e in clawbacks()] == [-50]
    assert balance(partner_a) == 150


def test_reconcile_catches_a_missed_clawback_once(partner_a, partner_admin):
    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sale = sell_out(partner_admin, "20000.00")
    returned = give_back(partner_admin, sale, amount="5000.00")  # its task never ran

    assert points_reconcile.run() == {"sales_reported": 0, "sales_returned": 1}
    assert points_reconcile.run() == {"sales_reported": 0}
    assert clawback_event.run("sales_returned", returned.pk) == 0
    assert [e.amount for e in clawbacks()] == [-50]


def test_reconcile_credits_a_sale_and_claws_back_its_earlier_return_in_one_run(partner_a, partner_admin):
    """The return's task ran before the sale's points were credited (or the sale came by CSV,
    credited nightly): nothing to take then; the reconciliation does both, in that order."""
    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sale = deal_services.sales_record_create(
        actor=partner_admin,
        partner=partner_a,
        kind="sell_out",
        occurred_on=timezone.localdate(),
        amount=Decimal("20000.00"),
        currency="RUB",
        reference="SO-9",
    )
    returned = give_back(partner_admin, sale, amount="20000.00")
    assert clawback_event.run("sales_returned", returned.pk) == 0

    assert services.points_reconcile() == {"sales_reported": 1, "sales_returned": 1}
    assert balance(partner_a) == 0 == ledger_sum(partner_a)


def test_reconcile_since_limits_returns_by_date(partner_a, partner_admin):
    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sale = sell_out(partner_admin, "20000.00")
    give_back(partner_admin, sale, amount="5000.00")
    tomorrow = timezone.now() + dt.timedelta(days=1)
    assert services.points_clawback_reconcile(since=tomorrow) == {}
    assert services.points_clawback_reconcile(since=timezone.now() - dt.timedelta(days=1)) == {"sales_returned": 1}


def test_a_manager_reversal_and_a_clawback_never_take_the_same_points_twice(partner_a, partner_admin, manager):
    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sale = sell_out(partner_admin, "100000.00")  # 1,000
    credit = LedgerEntry.objects.get(source_type=SourceType.SALES_REPORTED)
    first = give_back(partner_admin, sale, amount="40000.00")
    services.points_clawback_for_return(return_id=first.pk)  # −400

    reversal = services.ledger_entry_reverse(actor=manager, entry=credit, reason="Sale cancelled")
    assert reversal.amount == -600  # only what the return left
    second = give_back(partner_admin, sale)
    assert services.points_clawback_for_return(return_id=second.pk) == 0  # already reversed
    assert services.points_reconcile() == {"sales_reported": 0}
    assert balance(partner_a) == 0 == ledger_sum(partner_a)


def test_a_credit_clawed_back_in_full_cannot_be_reversed_again(partner_a, partner_admin, manager):
    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    sale = sell_out(partner_admin, "10000.00")
    credit = LedgerEntry.objects.get(source_type=SourceType.SALES_REPORTED)
    services.points_clawback_for_return(return_id=give_back(partner_admin, sale).pk)
    with pytest.raises(StateError, match="already taken back in full"):
        services.ledger_entry_reverse(actor=manager, entry=credit, reason="Sale cancelled")
    assert balance(partner_a) == 0


@pytest.mark.django_db(transaction=True)
def test_task_and_reconcile_running_together_never_double(partner_a, partner_admin):
    from prm.events import events_paused
    from tests.programs.test_ledger_concurrency import run_together

    make_rule(event=EarningEvent.SALES_REPORTED, points="10")
    make_rule(event=EarningEvent.SALES_REPORTED, points="5", per_thousand=False, name="Flat")
    with events_paused():  # no broker: the threads below are the workers
        sales = [sell_out(partner_admin, "10000.00", reference=f"SO-{i}") for i in range(4)]
        returns = [give_back(partner_admin, sale, amount="5000.00") for sale in sales]
    assert balance(partner_a) == 4 * 105

    task = [
        (lambda r=r: [clawback_event.run("sales_returned", r.pk) for _ in range(2)])
        for r in returns  # each return's task, redelivered once
    ]
    _, errors = run_together([*task, services.points_reconcile, services.points_reconcile])

    assert not errors, errors
    # Per return: round(100 × 0.5) + round(5 × 0.5) = 50 + 3.
    assert sorted(e.amount for e in clawbacks()) == [-50] * 4 + [-3] * 4
    assert balance(partner_a) == 4 * (105 - 53) == ledger_sum(partner_a)


# --- certificates revoked -----------------------------------------------------------------------


def test_revoked_certificate_points_are_taken_back_in_full(partner_a, manager):
    make_rule(event=EarningEvent.CERTIFICATION_EARNED, points="200", per_thousand=False, name="Certified")
    cert = certificate(partner=partner_a, course="Security Engineer")
    services.points_for_event(event="certification_earned", source_id=cert.pk)
    cert_id = cert.pk
    assert services.points_clawback_for_certification(certification_id=cert_id) == 0  # still valid

    partner_services.certification_revoke(actor=manager, certification=cert, reason="Issued in error")

    assert clawback_event.run("certification_revoked", cert_id) == 1
    assert clawback_event.run("certification_revoked", cert_id) == 0
    entry = LedgerEntry.objects.get(source_type=SourceType.CERTIFICATION_REVOKED)
    assert entry.amount == -200 and entry.source_id == str(cert_id)
    assert describe_entry(entry) == "Certificate Security Engineer revoked: −200 points (Certified)"
    assert balance(partner_a) == 0
    # Revoked before the task could run: the reconciliation takes it back, once.
    other = certificate(partner=partner_a, course="Cloud Architect")
    services.points_for_event(event="certification_earned", source_id=other.pk)
    partner_services.certification_revoke(actor=manager, certification=other)
    assert services.points_reconcile() == {"certification_earned": 0, "certification_revoked": 1}
    assert services.points_reconcile() == {"certification_earned": 0}
    assert balance(partner_a) == 0 == ledger_sum(partner_a)


# --- the events reach the task on commit ---------------------------------------------------------


@pytest.fixture
def clawback_queue():
    """What the real broker (Redis) holds for the clawback task: its messages' args."""
    import json

    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    task = "programs.tasks_ledger.clawback_event"

    def ours():
        return [
            (raw, json.loads(raw)["headers"]["argsrepr"])
            for raw in client.lrange("celery", 0, -1)
            if json.loads(raw)["headers"]["task"] == task
        ]

    for raw, _ in ours():
        client.lrem("celery", 0, raw)
    yield lambda: [args for _, args in ours()]
    for raw, _ in ours():
        client.lrem("celery", 0, raw)


@pytest.mark.django_db(transaction=True)
def test_a_return_publishes_sales_returned_on_commit_and_not_on_rollback(
    clawback_queue, partner_a, partner_admin, manager
):
    from django.db import transaction

    from deals.models import SalesRecord
    from prm.events import events_paused

    with events_paused():
        sale = deal_services.sales_record_create(
            actor=partner_admin,
            partner=partner_a,
            kind="sell_out",
            occurred_on=timezone.localdate(),
            amount=Decimal("1000.00"),
            currency="RUB",
            reference="SO-1",
        )
        invoice = deal_services.sales_record_create(
            actor=manager,
            partner=partner_a,
            kind="sell_in",
            occurred_on=timezone.localdate(),
            amount=Decimal("1000.00"),
            currency="RUB",
            reference="INV-1",
        )

    with transaction.atomic():
        returned = give_back(partner_admin, sale, amount="100.00")
        assert clawback_queue() == []  # not before commit
    assert clawback_queue() == [f"['sales_returned', {returned.pk}]"]

    with pytest.raises(RuntimeError), transaction.atomic():
        give_back(partner_admin, sale, amount="100.00")
        raise RuntimeError("rolled back")
    assert clawback_queue() == [f"['sales_returned', {returned.pk}]"]
    assert SalesRecord.objects.filter(amount__lt=0).count() == 1

    give_back(manager, invoice)  # sell-in earns no points: nothing to claw back, nothing sent
    assert len(clawback_queue()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_revoked_certificate_publishes_certification_revoked_on_commit(clawback_queue, partner_a, manager):
    cert = certificate(partner=partner_a)
    cert_id = cert.pk
    partner_services.certification_revoke(actor=manager, certification=cert, reason="Withdrawn")
    assert clawback_queue() == [f"['certification_revoked', {cert_id}]"]
