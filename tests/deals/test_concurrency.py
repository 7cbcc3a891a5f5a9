"""Concurrent submissions on real Postgres: threads with their own connections, released
together by a barrier. Exactly one conflict per pair, none missed, winner by server time."""

import datetime as dt
import itertools
import threading
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from deals import selectors, services
from deals.models import Conflict, DealRegistration, DealStatus, EndCustomer
from prm.models import Role
from tests.deals.factories import customer_data, make_deal
from tests.factories import PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_broker():
    # on_commit callbacks really run here; keep the e-mail task off the broker.
    with mock.patch("prm.tasks.notification_email.delay"):
        yield


def run_together(funcs):
    """Run each callable in its own thread (own DB connection), all released at once."""
    barrier = threading.Barrier(len(funcs))
    errors, results = [], [None] * len(funcs)

    def worker(i, func):
        try:
            barrier.wait(timeout=30)
            results[i] = func()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, f)) for i, f in enumerate(funcs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def partner_users(manager, n):
    users = []
    for i in range(n):
        partner = PartnerFactory(name=f"Concurrent Partner {i}", owner=manager)
        users.append(PartnerUserFactory(partner=partner, role=Role.PARTNER_ADMIN, email=f"p{i}@concurrent.test"))
    return users


@pytest.mark.parametrize("n", [2, 8])
def test_deal_submit_concurrently_records_each_pair_once_with_winner_by_server_time(manager, n):
    users = partner_users(manager, n)
    close = timezone.localdate() + dt.timedelta(days=90)
    drafts = [
        make_deal(user=u, customer=customer_data(name=f"Romashka variant {i}"), expected_close_date=close)
        for i, u in enumerate(users)
    ]
    assert EndCustomer.objects.count() == 1  # same tax id → one customer record

    run_together([lambda u=u, d=d: services.deal_submit(user=u, deal=d) for u, d in zip(users, drafts, strict=True)])

    deals = list(DealRegistration.objects.order_by("submitted_at", "pk"))
    assert all(d.status == DealStatus.SUBMITTED for d in deals)
    assert len({d.submitted_at for d in deals}) == n  # distinct server times: a total order
    pairs = list(Conflict.objects.values_list("registration_low_id", "registration_high_id"))
    assert len(pairs) == len(set(pairs)) == n * (n - 1) // 2
    assert set(pairs) == {tuple(sorted(p)) for p in itertools.combinations([d.pk for d in deals], 2)}
    position = {d.pk: i for i, d in enumerate(deals)}
    for conflict in Conflict.objects.select_related("registration_low", "registration_high"):
        low, high = conflict.registration_low, conflict.registration_high
        earlier, later = sorted((low, high), key=lambda r: position[r.pk])
        # Detected by the later submitter, which saw the earlier one committed.
        assert conflict.evidence["detected_on"] == later.reference
        assert selectors.conflict_proposed_resolution(conflict).winner == earlier
    first = deals[0]
    first_conflicts = Conflict.objects.filter(registration_low=first) | Conflict.objects.filter(registration_high=first)
    assert first_conflicts.count() == n - 1
    assert all(selectors.conflict_proposed_resolution(c).winner == first for c in first_conflicts)


def test_deal_submit_concurrently_catches_similar_but_different_names(manager):
    """Similarity is not an equivalence: per-key locks would let these race past each other."""
    close = timezone.localdate() + dt.timedelta(days=90)
    for round_no, (left, right) in enumerate(
        [
            ("ООО «Ромашка»", "Ромашка Плюс"),
            ("Северный ветер", "Северный ветер ЮГ"),
            ("Acme Systems", "ACME Systems Group"),
        ]
    ):
        a, b = (PartnerUserFactory(partner=PartnerFactory(owner=manager), role=Role.PARTNER_ADMIN) for _ in range(2))
        da = make_deal(
            user=a, customer=customer_data(name=left, website="", tax_id=f"{round_no}1"), expected_close_date=close
        )
        db = make_deal(
            user=b, customer=customer_data(name=right, website="", tax_id=f"{round_no}2"), expected_close_date=close
        )
        assert da.end_customer_id != db.end_customer_id
        run_together(
            [
                lambda u=a, d=da: services.deal_submit(user=u, deal=d),
                lambda u=b, d=db: services.deal_submit(user=u, deal=d),
            ]
        )
        assert (
            Conflict.objects.filter(registration_low=min(da.pk, db.pk), registration_high=max(da.pk, db.pk)).count()
            == 1
        )
    assert Conflict.objects.count() == 3


def test_end_customer_get_or_create_concurrently_makes_one_record():
    results = run_together(
        [lambda i=i: services.end_customer_get_or_create(name=f"Acme {i}", tax_id="99 88 77") for i in range(6)]
    )
    assert EndCustomer.objects.count() == 1
    assert sum(created for _customer, created in results) == 1


def test_deal_create_concurrently_issues_unique_references(manager):
    users = partner_users(manager, 6)
    run_together(
        [
            lambda u=u, i=i: make_deal(user=u, customer=customer_data(tax_id=str(i), name=f"N{i}"))
            for i, u in enumerate(users)
        ]
    )
    references = sorted(DealRegistration.objects.values_list("reference", flat=True))
    numbers = [int(r.rsplit("-", 1)[1]) for r in references]
    assert all(r.startswith(f"DR-{timezone.now().year}-") for r in references)
    assert numbers == list(range(numbers[0], numbers[0] + 6))
