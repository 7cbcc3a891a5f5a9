"""Celery beat jobs of the deals app. Each calls one service and is safe to run twice: rows
are claimed with FOR UPDATE SKIP LOCKED plus a conditional UPDATE, and every notification has
a dedupe key. `now` (ISO 8601) exists for operations and tests; beat passes nothing."""

from __future__ import annotations

from celery import shared_task
from django.utils.dateparse import parse_datetime

from deals import services

_OPTIONS = {"acks_late": True, "max_retries": 3, "retry_backoff": True, "time_limit": 600, "soft_time_limit": 540}


def _now(value: str | None):
    return parse_datetime(value) if value else None


@shared_task(**_OPTIONS)
def deal_protection_reminders(now: str | None = None) -> int:
    """Send the 14- and 3-day "protection ends soon" reminders."""
    return services.deal_protection_send_reminders(now=_now(now))


@shared_task(**_OPTIONS)
def deal_protection_expiry(now: str | None = None) -> int:
    """Expire registrations whose protection ended and release their customers."""
    return services.deal_protection_expire(now=_now(now))


@shared_task(**_OPTIONS)
def deal_review_sla(now: str | None = None) -> dict:
    """Remind reviewers at 75 % of the review SLA; escalate breaches to the channel lead."""
    return services.deal_review_sla_check(now=_now(now))


@shared_task(**_OPTIONS)
def conflict_escalation(now: str | None = None) -> int:
    """Escalate conflicts left open for CONFLICT_ESCALATION_DAYS to the channel lead."""
    return services.conflicts_escalate_overdue(now=_now(now))


def _date(value: str | None):
    from django.utils.dateparse import parse_date

    return parse_date(value) if value else None


@shared_task(**{**_OPTIONS, "time_limit": 1800, "soft_time_limit": 1700})
def forecast_snapshots(as_of: str | None = None) -> int:
    """Nightly forecast snapshots (chunked; a rerun resumes or no-ops). Returns partners done."""
    return services.forecast_snapshot_run(as_of=_date(as_of)).partners_done


@shared_task(**_OPTIONS)
def partner_health(today: str | None = None) -> dict:
    """Nightly: dormancy flags first (health reads fresh activity), then health scores."""
    turned = services.partner_dormancy_compute()
    scored = services.partner_health_compute(today=_date(today))
    return {"turned_dormant": len(turned), "scored": scored}


@shared_task(**_OPTIONS)
def reorder_reminders(today: str | None = None) -> dict:
    """Nightly: recompute reorder expectations from sell-in, then remind managers of missed reorders."""
    day = _date(today)
    return {
        "expectations": services.reorder_expectations_compute(today=day),
        "reminded": services.reorder_reminders_send(today=day),
    }


@shared_task(**_OPTIONS)
def lead_offer_reminders(now: str | None = None) -> int:
    """Remind partners of lead offers past half their acceptance time (once per offer)."""
    return services.lead_offers_remind(now=_now(now))


@shared_task(**_OPTIONS)
def lead_offer_expiry(now: str | None = None) -> int:
    """Time out unanswered lead offers and route those leads to the next partner."""
    return services.lead_offers_expire(now=_now(now))


@shared_task(**_OPTIONS)
def leads_route(lead_ids: list[int], actor_id: int | None = None) -> int:
    """Route new / unassigned leads in the background (e.g. after an import). Safe to run twice:
    leads already offered are skipped."""
    from deals.models import Lead
    from prm.models import User

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return len(services.leads_route_batch(actor=actor, leads=Lead.objects.filter(pk__in=lead_ids)))


# leads-ui: the CSV lead import task lives beside its parser (deals.lead_import); imported here
# so that the worker, which autodiscovers only `tasks` modules, registers it.
from deals.lead_import import lead_import_run  # noqa: E402,F401


@shared_task(acks_late=True, max_retries=0, time_limit=240, soft_time_limit=200, expires=200)
def dashboard_cache_warm() -> int:
    """Recompute the default staff dashboard's chart numbers of the staff who are looking at it
    (deals.dashboard.dashboard_cache_warm). Safe to run twice: it only overwrites cache entries;
    a run that is late (expires) is dropped, the next one comes minutes later."""
    from deals.dashboard import dashboard_cache_warm as warm

    return warm()
