"""Two concurrent POSTs of the same partner's commit for the same quarter, on real Postgres
(threads with their own connections): the database's unique key decides who creates the row.
The first answers 201, the second waits for it and answers 200 with the same row, its amount
applied on top (the last write wins, as for a sequential replace) — never two 201s, never a
500 from the unique key."""

import threading
from unittest import mock

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from deals import dashboard
from deals.models import PartnerCommit
from prm.audit import audit_record as real_audit_record
from prm.models import AuditLog

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_two_concurrent_commit_posts_create_one_row_201_then_200(partner_admin, partner_a):
    from django.utils import timezone

    year, quarter = dashboard.coming_quarters(timezone.localdate())[1]
    inserted, release = threading.Event(), threading.Event()
    first = threading.Lock()

    def audit_then_hold(**kwargs):
        """The first request stops after writing its row, before committing, until released."""
        real_audit_record(**kwargs)
        if first.acquire(blocking=False):
            inserted.set()
            assert release.wait(timeout=30)

    results: dict[str, object] = {}

    def post(name, amount):
        try:
            client = APIClient()
            client.force_authenticate(partner_admin)
            payload = {"year": year, "quarter": quarter, "amount": amount, "currency": "RUB"}
            results[name] = client.post("/api/v1/commits/", payload, format="json")
        except Exception as exc:  # surfaced by the assertions below
            results[name] = exc
        finally:
            connections.close_all()

    with mock.patch("deals.services.forecasts.audit_record", side_effect=audit_then_hold):
        a = threading.Thread(target=post, args=("a", "100.00"))
        a.start()
        assert inserted.wait(timeout=30)
        b = threading.Thread(target=post, args=("b", "200.00"))
        b.start()
        # Let B run into A's uncommitted row (it waits on the unique key), then let A commit.
        for _ in range(100):
            if _waiting_on_a_lock():
                break
            threading.Event().wait(0.05)
        release.set()
        a.join(timeout=60)
        b.join(timeout=60)

    assert not isinstance(results["a"], Exception), results["a"]
    assert not isinstance(results["b"], Exception), results["b"]
    assert (results["a"].status_code, results["b"].status_code) == (201, 200), (
        results["a"].content,
        results["b"].content,
    )
    commit = PartnerCommit.objects.get(partner=partner_a, year=year, quarter=quarter)
    assert results["a"].json()["id"] == results["b"].json()["id"] == str(commit.public_id)
    assert str(commit.amount) == "200.00"
    assert AuditLog.objects.filter(action="commit.set", partner_id=partner_a.pk).count() == 2


def test_sequential_commit_posts_still_201_then_200(partner_admin, partner_a):
    from django.utils import timezone

    year, quarter = dashboard.coming_quarters(timezone.localdate())[1]
    client = APIClient()
    client.force_authenticate(partner_admin)
    payload = {"year": year, "quarter": quarter, "amount": "1.00", "currency": "RUB"}
    assert client.post("/api/v1/commits/", payload, format="json").status_code == 201
    assert client.post("/api/v1/commits/", payload, format="json").status_code == 200
    assert PartnerCommit.objects.count() == 1
