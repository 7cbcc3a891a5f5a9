"""A real Celery worker on real Redis (acks_late) is SIGKILLed while it works through a batch
of accrual tasks; another worker starts and finishes, the nightly reconciliation credits what
the broker lost (at most a message or two). Exact totals, no duplicates, nothing lost."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count

from partners.models import Certification, Contact
from programs import services
from programs.models import EarningEvent, LedgerEntry, PointsBalance
from programs.tasks_ledger import accrue_event
from tests.factories import PartnerFactory
from tests.programs.ledger_helpers import make_rule

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]

# Test-only entry point: the real app and settings, with a short visibility timeout so the
# messages the killed worker held unacknowledged are redelivered within seconds (production
# keeps an hour). Imported by the worker only.
CRASH_APP = """
from django.conf import settings

settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3}

from prm.celery import app  # noqa: E402
"""


def wait_for(predicate, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return predicate()


@pytest.fixture
def workers(tmp_path):
    """Start Celery workers in their own process groups; kill whatever is left on teardown."""
    started: list[subprocess.Popen] = []
    (tmp_path / "crash_celery.py").write_text(CRASH_APP)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prm.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "PYTHONUNBUFFERED": "1",
    }
    if db.get("PASSWORD"):
        env["DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"

    def start(name: str, queue: str) -> subprocess.Popen:
        log = (tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "crash_celery", "worker", "-Q", queue, "-c", "2", "-l", "INFO"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}-{queue}@%h"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(proc)
        return proc

    start.log = lambda name: (tmp_path / f"{name}.log").read_text(errors="replace")[-4000:]
    yield start
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool children at once: no warm shutdown, no acks."""
    children = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    psutil.wait_procs(children, timeout=10)


def test_worker_killed_mid_batch_loses_nothing_and_credits_nothing_twice(workers, manager):
    n, points = 400, 5
    make_rule(event=EarningEvent.CERTIFICATION_EARNED, points=str(points), per_thousand=False)
    partners = [PartnerFactory(name=f"Crash {i}", owner=manager) for i in range(4)]
    contacts = Contact.objects.bulk_create(
        [Contact(partner=partners[i % 4], full_name=f"Person {i}", email=f"p{i}@crash.test") for i in range(n)]
    )
    certs = Certification.objects.bulk_create(
        [Certification(contact=c, course="Firewall admin", earned_on="2026-01-15") for c in contacts]
    )
    queue = f"ledger-crash-{uuid.uuid4().hex[:10]}"
    first = workers("first", queue)
    for cert in certs:
        accrue_event.apply_async(args=["certification_earned", cert.pk], queue=queue)
    # A few events are also sent twice, as a retry or a double on_commit would.
    for cert in certs[:20]:
        accrue_event.apply_async(args=["certification_earned", cert.pk], queue=queue)

    started = wait_for(lambda: LedgerEntry.objects.count() >= 40, timeout=120)
    assert started, f"the worker credited nothing:\n{workers.log('first')}"
    kill_group(first)
    at_kill = LedgerEntry.objects.count()
    assert at_kill < n, "the batch finished before the kill: the test proved nothing (raise n)"
    # The killed worker held messages it had received but not acknowledged (acks_late): these
    # are the ones a worker without acks_late would have lost.
    held = redis.Redis.from_url(settings.CELERY_BROKER_URL).hlen("unacked")
    assert held >= 1, "no message was in flight at the kill"

    time.sleep(4)  # past the visibility timeout, so the killed worker's unacked messages return
    workers("second", queue)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    last = {"count": -1, "since": time.monotonic()}

    def done_or_idle() -> bool:
        # Every event credited, or the broker has nothing left for this queue (nothing queued,
        # nothing unacknowledged) and the count has not moved for 10 s: what is missing then
        # was lost, not slow.
        count = LedgerEntry.objects.count()
        if count >= n:
            return True
        # ("unacked" is one hash for the whole Redis database: count only this queue's.)
        unacked = sum(queue.encode() in value for value in broker.hvals("unacked"))
        if broker.llen(queue) or unacked or count != last["count"]:
            last.update(count=count, since=time.monotonic())
            return False
        return time.monotonic() - last["since"] > 10

    wait_for(done_or_idle, timeout=240, interval=0.5)
    time.sleep(2)  # let redelivered duplicates run: they must add nothing
    # Redis redelivers what the killed worker held, but a kill between the broker's pop and its
    # "unacked" bookkeeping can still lose a message (a kombu Redis transport window; seen once
    # in ~20 runs on a loaded machine: 399 of 400). That is what the nightly reconciliation is
    # for: it must credit exactly what is missing. Without acks_late every message in flight
    # (`held`) would be lost, far more than that window's one or two.
    missing = n - LedgerEntry.objects.count()
    assert missing <= 2, f"{missing} of {n} lost ({held} held at the kill):\n{workers.log('second')}"
    assert sum(services.points_reconcile().values()) == missing

    assert LedgerEntry.objects.count() == n
    dupes = LedgerEntry.objects.values("source_id").annotate(c=Count("id")).filter(c__gt=1)
    assert not dupes.exists()
    assert set(LedgerEntry.objects.values_list("source_id", flat=True)) == {str(c.pk) for c in certs}
    for partner in partners:
        expected = points * n // 4
        assert PointsBalance.objects.get(partner=partner).balance == expected
        assert sum(LedgerEntry.objects.filter(partner=partner).values_list("amount", flat=True)) == expected
