"""Celery tasks of the earnings ledger. Each takes primitive ids, calls one service and is safe
to run twice (the ledger's unique key per source event and rule; expiry keyed by lot;
notifications with dedupe keys). acks_late: a worker killed mid-task leaves the message to be
redelivered, and the redelivery credits nothing twice."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils.dateparse import parse_datetime

from programs.services import ledger as ledger_services
from programs.services import ledger_accrual, ledger_clawback

__all__ = ["accrue_event", "clawback_event", "points_expire", "points_expiry_warn", "points_reconcile"]

_OPTIONS = {"acks_late": True, "max_retries": 3, "retry_backoff": True, "time_limit": 600, "soft_time_limit": 540}


# Per-event tasks (dispatched on commit by the services): requeued when the worker process dies
# mid-task, retried on a lost database connection.
_EVENT_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "max_retries": 5,
    "retry_backoff": True,
    "time_limit": 120,
    "soft_time_limit": 100,
}


def _when(value: str | None):
    return parse_datetime(value) if value else None


@shared_task(**_EVENT_OPTIONS)
def accrue_event(event: str, source_id: int) -> int:
    """Credit points for one event (deal_won, registration_approved, certification_earned,
    sales_reported, lead_accepted_in_sla) under every active rule. Dispatch after commit."""
    return ledger_accrual.points_for_event(event=event, source_id=source_id)


@shared_task(**_EVENT_OPTIONS)
def clawback_event(event: str, source_id: int) -> int:
    """Take back the points of an undone event (sales_returned: the return's SalesRecord id;
    certification_revoked: the deleted Certification's id). Dispatch after commit; safe to run
    twice (one entry per event and rule, by the ledger's unique key)."""
    return ledger_clawback.points_clawback_for_event(event=event, source_id=source_id)


@shared_task(**_OPTIONS)
def points_reconcile(since: str | None = None) -> dict:
    """Credit every event that was missed, and claw back every return or revocation that was
    missed (nightly)."""
    return ledger_accrual.points_reconcile(since=_when(since))


@shared_task(**_OPTIONS)
def points_expire(now: str | None = None) -> int:
    """Expire unspent points older than POINTS_EXPIRE_MONTHS, oldest first (daily)."""
    return ledger_services.points_expire(now=_when(now))


@shared_task(**_OPTIONS)
def points_expiry_warn(now: str | None = None) -> int:
    """Warn partner admins 30 days before their points expire (daily)."""
    return ledger_services.points_expiry_warn(now=_when(now))
