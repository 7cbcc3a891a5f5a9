"""Business events that other apps react to, dispatched as Celery tasks after commit.

Imports flow one way (`prm` ← `partners` ← `deals` ← `programs`), yet a won deal in `deals` must
earn points in `programs`. Rather than signals, the service that caused the event publishes it
explicitly, and the composition root (`PRM["EVENT_TASKS"]` in settings) names the Celery tasks
that handle it: the service knows no higher app, the wiring is readable in one place, and each
handler runs in a worker with retries. Handlers must be safe to run twice (the ledger's unique key
per source event); nightly reconciliations catch anything a lost message missed.

Events (with the id they carry): deal_won, registration_approved (DealRegistration id),
sales_reported (SalesRecord id), certification_earned (Certification id),
lead_accepted_in_sla (LeadOffer id); and events that undo one, whose points are clawed back:
sales_returned (the return's SalesRecord id), certification_revoked (the deleted Certification's id).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction

__all__ = ["events_paused", "publish_on_commit"]

_state = threading.local()


@contextmanager
def events_paused():
    """Publish nothing inside the block: for the demo seeder, which credits points for its
    history in one set-based reconciliation instead of hundreds of queued tasks."""
    previous = getattr(_state, "paused", False)
    _state.paused = True
    try:
        yield
    finally:
        _state.paused = previous


def publish_on_commit(event: str, source_id: int) -> None:
    """Send `event` for `source_id` to every task configured for it, once the current
    transaction commits (nothing is sent if it rolls back)."""
    task_names = settings.PRM.get("EVENT_TASKS", {}).get(event, ())
    if not task_names or getattr(_state, "paused", False):
        return
    from prm.celery import app

    def send():
        for name in task_names:
            app.send_task(name, args=[event, source_id])

    transaction.on_commit(send)
