"""Celery tasks of the tier engine. Safe to run twice: the evaluation writes only differences,
notifications carry a dedupe key. `now` (ISO 8601) exists for operations and tests."""

from __future__ import annotations

from celery import shared_task
from django.utils.dateparse import parse_datetime

__all__ = ["tier_change_notify", "tiers_evaluate_nightly"]

_OPTIONS = {"acks_late": True, "max_retries": 3, "retry_backoff": True, "time_limit": 1800, "soft_time_limit": 1700}


@shared_task(**_OPTIONS)
def tiers_evaluate_nightly(now: str | None = None) -> dict:
    """Re-evaluate every partner's tier (promotions, at-risk notices, demotions after notice)."""
    from programs.services import tiers_evaluate

    return tiers_evaluate(now=parse_datetime(now) if now else None).as_dict()


@shared_task(**_OPTIONS)
def tier_change_notify(change_ids: list[int]) -> int:
    """Notify partner admins and the channel manager of tier changes (once per change)."""
    from programs.services.tiers import tier_change_send_notifications

    return tier_change_send_notifications(change_ids=change_ids)
