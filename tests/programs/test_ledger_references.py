"""The ledger's references are enforced by set-based triggers (migration 0003), not per-row
foreign keys, and the nightly whole-history accrual runs in partner shards on several
connections. Both keep the guarantees they replace: a missing partner, person, rule, author or
reversed entry fails the insert; a row the ledger names cannot be deleted, even by a delete
racing an insert; shards credit every event exactly once, alone or beside the task path."""

import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from partners.models import Partner
from prm.models import User
from programs import selectors, services
from programs.models import EarningEvent, EarningRule, LedgerEntry, PointsBalance
from tests.factories import PartnerFactory
from tests.programs.ledger_helpers import certificate, make_rule

INSERT = """
INSERT INTO programs_ledgerentry (public_id, created_at, updated_at, partner_id, user_id, kind, amount, unit,
    state, rule_id, source_type, source_id, occurred_at, reverses_id, reason, calculation, created_by_id)
VALUES (gen_random_uuid(), now(), now(), %s, %s, 'points', 5, 'points', 'accrued', %s, 'adjustment', %s, now(),
        %s, 'test', '{}', %s)
"""


def sql(statement, params=None):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def insert(*, partner_id, user_id=None, rule_id=None, source_id="1", reverses_id=None, created_by_id=None):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INSERT, [partner_id, user_id, rule_id, source_id, reverses_id, created_by_id])


MISSING = 987654321


@pytest.mark.django_db
class TestInsertSide:
    def test_an_entry_naming_existing_rows_is_accepted(self, partner_a, partner_admin, manager):
        rule = make_rule()
        insert(partner_id=partner_a.pk, user_id=partner_admin.pk, rule_id=rule.pk, created_by_id=manager.pk)
        first = LedgerEntry.objects.get()
        insert(partner_id=partner_a.pk, source_id="2", reverses_id=first.pk)
        assert LedgerEntry.objects.count() == 2

    @pytest.mark.parametrize("column", ["partner_id", "user_id", "rule_id", "created_by_id", "reverses_id"])
    def test_an_entry_naming_a_missing_row_is_refused(self, partner_a, column):
        values = {"partner_id": partner_a.pk, column: MISSING}
        with pytest.raises(IntegrityError, match=f"{column} names a row missing"):
            insert(**values)
        assert LedgerEntry.objects.count() == 0

    def test_one_missing_row_fails_a_whole_set_based_insert(self, partner_a):
        with pytest.raises(IntegrityError, match="partner_id names a row missing"):
            sql(
                "INSERT INTO programs_ledgerentry (public_id, created_at, updated_at, partner_id, kind, amount,"
                " unit, state, source_type, source_id, occurred_at, reason, calculation)"
                " SELECT gen_random_uuid(), now(), now(), p, 'points', 1, 'points', 'accrued', 'adjustment',"
                " g::text, now(), 'x', '{}' FROM generate_series(1, 50) g,"
                " LATERAL (SELECT CASE WHEN g = 37 THEN %s ELSE %s END AS p) s",
                [MISSING, partner_a.pk],
            )
        assert LedgerEntry.objects.count() == 0
        assert not PointsBalance.objects.exists()


@pytest.mark.django_db
class TestDeleteSide:
    def test_a_partner_the_ledger_names_cannot_be_deleted(self, partner_a, manager):
        insert(partner_id=partner_a.pk)
        spare = PartnerFactory(owner=manager)
        with pytest.raises(IntegrityError, match="ledger entries still reference it"):
            sql("DELETE FROM partners_partner WHERE id IN (%s, %s)", [spare.pk, partner_a.pk])
        assert Partner.objects.filter(pk__in=[spare.pk, partner_a.pk]).count() == 2

    @pytest.mark.parametrize("role", ["user_id", "created_by_id"])
    def test_a_person_the_ledger_names_cannot_be_deleted(self, partner_a, partner_admin, manager, role):
        person = partner_admin if role == "user_id" else manager
        insert(partner_id=partner_a.pk, **{role: person.pk})
        with pytest.raises(IntegrityError, match=f"still reference it \\({role}\\)"):
            sql("DELETE FROM prm_user WHERE id = %s", [person.pk])
        assert User.objects.filter(pk=person.pk).exists()

    def test_a_rule_the_ledger_names_cannot_be_deleted(self, partner_a):
        rule = make_rule()
        insert(partner_id=partner_a.pk, rule_id=rule.pk)
        with pytest.raises(IntegrityError, match="still reference it"):
            sql("DELETE FROM programs_earningrule WHERE id = %s", [rule.pk])
        assert EarningRule.objects.filter(pk=rule.pk).exists()

    def test_rows_the_ledger_does_not_name_delete_as_usual(self, partner_a, manager):
        insert(partner_id=partner_a.pk)
        spare = PartnerFactory(owner=manager)
        spare.delete()
        rule = make_rule()
        rule.delete()
        assert not Partner.objects.filter(pk=spare.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_delete_racing_an_uncommitted_insert_waits_and_is_refused(manager):
    """As with a foreign key: the insert locks the partner (FOR KEY SHARE); the DELETE waits for
    it, then sees the committed entry and fails."""
    partner = PartnerFactory(owner=manager)
    inserted, outcome = threading.Event(), {}

    def deleter():
        inserted.wait(timeout=30)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '20s'")
                cursor.execute("DELETE FROM partners_partner WHERE id = %s", [partner.pk])
            outcome["deleted"] = True
        except IntegrityError as exc:
            outcome["error"] = str(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=deleter)
    thread.start()
    with transaction.atomic():
        insert(partner_id=partner.pk)
        inserted.set()
        thread.join(timeout=1.5)
        assert thread.is_alive(), "the DELETE must wait for the inserting transaction"
    thread.join(timeout=30)
    assert "ledger entries still reference it" in outcome.get("error", ""), outcome
    assert Partner.objects.filter(pk=partner.pk).exists() and LedgerEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_insert_racing_an_uncommitted_delete_is_refused(manager):
    """The other order: the DELETE went first; the insert's lock waits, finds no row, fails."""
    partner = PartnerFactory(owner=manager)
    deleted, outcome = threading.Event(), {}

    def inserter():
        deleted.wait(timeout=30)
        try:
            insert(partner_id=partner.pk)
            outcome["inserted"] = True
        except IntegrityError as exc:
            outcome["error"] = str(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=inserter)
    thread.start()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM partners_partner WHERE id = %s", [partner.pk])
        deleted.set()
        thread.join(timeout=1.5)
        assert thread.is_alive(), "the insert must wait for the deleting transaction"
    thread.join(timeout=30)
    assert "partner_id names a row missing" in outcome.get("error", ""), outcome
    assert LedgerEntry.objects.count() == 0


@pytest.fixture
def no_broker():
    with mock.patch("prm.tasks.notification_email.delay"):
        yield


@pytest.mark.django_db(transaction=True)
@override_settings(PRM={**settings.PRM, "POINTS_ACCRUAL_WORKERS": 3})
def test_sharded_accrual_credits_every_partner_once_on_its_own_connections(manager, no_broker):
    partners = [PartnerFactory(name=f"Shard {i}", owner=manager) for i in range(7)]
    rule = make_rule(event=EarningEvent.CERTIFICATION_EARNED, points="10", per_thousand=False)
    for i, partner in enumerate(partners):
        for _ in range(i + 1):
            certificate(partner=partner)
    threads_seen = set()
    real = services.ledger_accrual._accrue_uncapped

    def spy(*args, **kwargs):
        threads_seen.add(threading.current_thread().name)
        return real(*args, **kwargs)

    assert not connection.in_atomic_block
    with mock.patch.object(services.ledger_accrual, "_accrue_uncapped", spy):
        written = services.points_accrue_bulk(rule=rule)
    assert written == sum(range(1, 8)) == LedgerEntry.objects.count()
    assert len(threads_seen) == 3 and all(name.startswith("points-accrual") for name in threads_seen)
    for i, partner in enumerate(partners):
        assert selectors.points_balance(partner=partner) == 10 * (i + 1)
    # Again, sharded or not: nothing more.
    assert services.points_accrue_bulk(rule=rule) == 0
    with transaction.atomic():
        assert services.points_accrue_bulk(rule=rule) == 0
    assert LedgerEntry.objects.count() == 28


@pytest.mark.django_db(transaction=True)
@override_settings(PRM={**settings.PRM, "POINTS_ACCRUAL_WORKERS": 2})
def test_sharded_reconciliation_racing_the_event_tasks_never_double_credits(manager, no_broker):
    partners = [PartnerFactory(name=f"Race {i}", owner=manager) for i in range(4)]
    make_rule(event=EarningEvent.CERTIFICATION_EARNED, points="3", per_thousand=False)
    certs = [certificate(partner=partners[i % 4]) for i in range(40)]
    errors = []
    barrier = threading.Barrier(3)

    def tasks(chunk):
        try:
            barrier.wait(timeout=30)
            for cert in chunk:
                services.points_for_event(event="certification_earned", source_id=cert.pk)
        except Exception as exc:  # part of what the test checks
            errors.append(exc)
        finally:
            connection.close()

    def reconcile():
        try:
            barrier.wait(timeout=30)
            services.points_reconcile()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=tasks, args=(certs[::2],)),
        threading.Thread(target=tasks, args=(certs[1::2],)),
        threading.Thread(target=reconcile),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert LedgerEntry.objects.count() == 40
    assert sum(b.balance for b in PointsBalance.objects.all()) == Decimal(120)
    for partner in partners:
        assert selectors.points_balance(partner=partner) == 30


@pytest.mark.django_db
def test_the_explanation_reads_the_per_entry_facts_from_their_columns(partner_a):
    from programs.views.ledger_display import entry_calculation

    rule = make_rule(event=EarningEvent.DEAL_WON, points="10")
    entry = LedgerEntry(
        source_type="deal_won",
        source_id="1",
        rule=rule,
        base_value=Decimal("125000"),
        multiplier=Decimal("1.5"),
        calculation={"rate": "10", "per_thousand": True},
        occurred_at=timezone.now(),
    )
    assert entry_calculation(entry) == "125,000 ÷ 1,000 × 10 = 1,250 × 1.5 tier multiplier"


@pytest.mark.django_db(transaction=True)
def test_a_whole_history_pass_that_loses_a_race_runs_again_and_skips_what_won(manager, no_broker):
    """The pass inserts without ON CONFLICT (faster). A task credits one of its events in a
    transaction the pass cannot see yet: the pass blocks on that key, fails when the task
    commits, and runs once more with ON CONFLICT DO NOTHING — the rest credited, nothing twice."""
    partner = PartnerFactory(owner=manager)
    rule = make_rule(event=EarningEvent.CERTIFICATION_EARNED, points="5", per_thousand=False)
    certs = [certificate(partner=partner) for _ in range(5)]
    credited, release, outcome = threading.Event(), threading.Event(), {}

    def task():
        try:
            with transaction.atomic():
                outcome["task"] = services.points_for_event(event="certification_earned", source_id=certs[2].pk)
                credited.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=task)
    thread.start()
    assert credited.wait(timeout=30)
    calls = []
    real = services.ledger_accrual._run_bulk

    def spy(insert, *args, **kwargs):
        calls.append("ON CONFLICT DO NOTHING" in insert)
        return real(insert, *args, **kwargs)

    def let_the_task_commit_once_the_pass_waits():
        import time

        for _ in range(300):
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if cursor.fetchone()[0]:
                    break
            time.sleep(0.05)
        release.set()
        connection.close()

    waiter = threading.Thread(target=let_the_task_commit_once_the_pass_waits)
    waiter.start()
    with transaction.atomic(), mock.patch.object(services.ledger_accrual, "_run_bulk", spy):
        written = services.points_accrue_bulk(rule=rule)
    waiter.join(timeout=30)
    thread.join(timeout=30)
    assert outcome["task"] == 1
    assert calls == [False, True], calls
    assert written == 4
    assert LedgerEntry.objects.count() == 5 and selectors.points_balance(partner=partner) == 25
