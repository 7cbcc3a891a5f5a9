"""Concurrency on real Postgres: threads with their own connections released together.
Concurrent accruals of the same and different events give exact totals; concurrent
redemptions never overdraw the balance or the stock."""

import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection

from prm.exceptions import ApplicationError
from prm.models import Role
from programs import selectors, services
from programs.models import EarningEvent, LedgerEntry, PointsBalance, Redemption, SourceType
from tests.factories import PartnerFactory, PartnerUserFactory
from tests.programs.ledger_helpers import certificate, make_reward, make_rule

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("prm.tasks.notification_email.delay"):
        yield


def run_together(funcs):
    """Each callable in its own thread (own DB connection), all released at once.
    Returns (results, errors) — errors are part of what these tests check."""
    barrier = threading.Barrier(len(funcs))
    errors, results = [], [None] * len(funcs)

    def worker(i, func):
        try:
            barrier.wait(timeout=30)
            results[i] = func()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, f)) for i, f in enumerate(funcs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def test_concurrent_accruals_of_the_same_events_credit_each_once(partner_a):
    make_rule(event=EarningEvent.CERTIFICATION_EARNED, points="10", per_thousand=False)
    certs = [certificate(partner=partner_a) for _ in range(6)]
    # 8 threads each credit every certificate (tasks + reconciliation racing).
    funcs = [
        (lambda: [services.points_for_event(event="certification_earned", source_id=c.pk) for c in certs])
        for _ in range(6)
    ]
    funcs += [services.points_reconcile, services.points_reconcile]
    _, errors = run_together(funcs)
    assert not errors, errors
    assert LedgerEntry.objects.count() == 6
    assert selectors.points_balance(partner=partner_a) == 60


def test_concurrent_accruals_of_different_events_sum_exactly(manager):
    partners = [PartnerFactory(name=f"Conc {i}", owner=manager) for i in range(3)]
    make_rule(event=EarningEvent.CERTIFICATION_EARNED, points="7", per_thousand=False)
    certs = [certificate(partner=partners[i % 3]) for i in range(24)]
    chunks = [certs[i::8] for i in range(8)]
    funcs = [
        (lambda chunk=chunk: [services.points_for_event(event="certification_earned", source_id=c.pk) for c in chunk])
        for chunk in chunks
    ]
    _, errors = run_together(funcs)
    assert not errors, errors
    for partner in partners:
        assert selectors.points_balance(partner=partner) == 8 * 7
        ledger = sum(LedgerEntry.objects.filter(partner=partner).values_list("amount", flat=True))
        assert ledger == 8 * 7


def test_concurrent_capped_accruals_respect_the_cap(partner_a):
    make_rule(
        event=EarningEvent.CERTIFICATION_EARNED, points="30", per_thousand=False, cap_period="year", cap_per_partner=100
    )
    certs = [certificate(partner=partner_a) for _ in range(8)]
    funcs = [(lambda c=c: services.points_for_event(event="certification_earned", source_id=c.pk)) for c in certs]
    _, errors = run_together(funcs)
    assert not errors, errors
    assert selectors.points_balance(partner=partner_a) == 100


def test_concurrent_redemptions_never_overdraw_the_balance(partner_a, manager):
    admins = [
        PartnerUserFactory(partner=partner_a, role=Role.PARTNER_ADMIN, email=f"adm{i}@alpha.test") for i in range(8)
    ]
    services.points_adjust(actor=manager, partner=partner_a, amount=500, reason="budget")
    reward = make_reward(cost=100)  # unlimited stock: only the balance limits
    funcs = [(lambda a=a: services.redemption_request(actor=a, reward=reward, quantity=2)) for a in admins]
    results, errors = run_together(funcs)
    made = [r for r in results if r is not None]
    assert len(made) == 2  # 2 × 200 = 400 of 500
    assert all(isinstance(e, ApplicationError) and e.code == "insufficient_points" for e in errors), errors
    assert selectors.points_balance(partner=partner_a) == 100
    assert PointsBalance.objects.get(partner=partner_a).balance == 100
    assert LedgerEntry.objects.filter(source_type=SourceType.REDEMPTION).count() == 2


def test_concurrent_redemptions_never_take_stock_below_zero(manager):
    partners = [PartnerFactory(name=f"Stock {i}", owner=manager) for i in range(8)]
    admins = [
        PartnerUserFactory(partner=p, role=Role.PARTNER_ADMIN, email=f"stock{i}@p.test") for i, p in enumerate(partners)
    ]
    for p in partners:
        services.points_adjust(actor=manager, partner=p, amount=1000, reason="budget")
    reward = make_reward(cost=10, stock=3)
    funcs = [(lambda a=a: services.redemption_request(actor=a, reward=reward)) for a in admins]
    results, errors = run_together(funcs)
    assert len([r for r in results if r is not None]) == 3
    assert len(errors) == 5 and all(e.code == "out_of_stock" for e in errors), errors
    reward.refresh_from_db()
    assert reward.stock == 0 and Redemption.objects.count() == 3
    total = sum(selectors.points_balance(partner=p) for p in partners)
    assert total == Decimal(8 * 1000 - 3 * 10)


def test_accrual_racing_an_uncommitted_credit_waits_then_adds_nothing(partner_a):
    """B's anti-join cannot see A's uncommitted credit; B's insert waits on the unique key,
    fails when A commits, and B's retry credits nothing (no error, no duplicate)."""
    import time

    make_rule(event=EarningEvent.CERTIFICATION_EARNED, points="10", per_thousand=False)
    cert = certificate(partner=partner_a)
    a_inserted, results, errors = threading.Event(), {}, []

    def a():
        from django.db import transaction

        try:
            with transaction.atomic():
                results["a"] = services.points_for_event(event="certification_earned", source_id=cert.pk)
                a_inserted.set()
                time.sleep(1.5)  # B is now blocked on the unique index
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def b():
        try:
            a_inserted.wait(timeout=30)
            results["b"] = services.points_for_event(event="certification_earned", source_id=cert.pk)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert results == {"a": 1, "b": 0}
    assert LedgerEntry.objects.count() == 1 and selectors.points_balance(partner=partner_a) == 10
