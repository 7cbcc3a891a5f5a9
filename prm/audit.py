"""The audit trail: every service that changes state calls `audit_record` in its transaction."""

import datetime
import decimal
import uuid

from django.db import models

from prm.models import AuditLog


def _jsonable(value):
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# Bookkeeping columns that change on every save and say nothing about the business change.
_NOISE = {"updated_at", "password", "last_login"}


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict:
    """Field values of `instance` (attnames, so foreign keys are ids) ready for JSON."""
    names = fields or [f.attname for f in instance._meta.concrete_fields if f.attname not in _NOISE]
    out = {}
    for name in names:
        field = instance._meta.get_field(name)
        out[name] = _jsonable(getattr(instance, field.attname))
    return out


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def audit_record(**kwargs) -> AuditLog:
    """Write one audit row (see `audit_build` for the arguments)."""
    entry = audit_build(**kwargs)
    entry.save()
    return entry


def audit_build(
    *,
    actor,
    action: str,
    instance: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    partner_id: int | None = None,
) -> AuditLog:
    """An unsaved audit row; bulk services (tier evaluation) save many with bulk_create."""
    if partner_id is None:
        partner_id = getattr(instance, "partner_id", None)
        if partner_id is None and instance._meta.label == "partners.Partner":
            partner_id = instance.pk
    return AuditLog(
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:255],
        partner_id=partner_id,
        before=before or {},
        after=after or {},
        reason=reason or "",
    )


def audit_record_many(entries: list[dict]) -> list[AuditLog]:
    """Several audit rows in one INSERT, for batch jobs: each dict holds audit_record's
    keyword arguments. Same rows as calling audit_record for each."""
    return AuditLog.objects.bulk_create([audit_build(**kwargs) for kwargs in entries]) if entries else []
