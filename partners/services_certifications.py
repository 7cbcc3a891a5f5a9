"""Certifications: a partner person's certificate with an optional expiry. Unexpired ones count
for tiers and earn points (the programs app reads them by itself). Staff add, change and revoke
them; partner users read their company's. Every write is audited."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import Certification, Contact
from prm.audit import audit_record, diff, snapshot
from prm.events import publish_on_commit
from prm.exceptions import ApplicationError, PermissionDenied

_EDITABLE = ("course", "certificate_number", "earned_on", "expires_on")


def _require_staff(actor) -> None:
    if actor is None or not actor.is_active or not actor.is_vendor_staff:
        raise PermissionDenied(_("Only vendor staff may manage certifications."))


def _validate(cert: Certification) -> None:
    errors: dict[str, list[str]] = {}
    cert.course = (cert.course or "").strip()
    cert.certificate_number = (cert.certificate_number or "").strip()
    if not cert.course:
        errors["course"] = [_("Name the course.")]
    elif len(cert.course) > 200:
        errors["course"] = [_("Use at most 200 characters.")]
    if len(cert.certificate_number) > 64:
        errors["certificate_number"] = [_("Use at most 64 characters.")]
    if not isinstance(cert.earned_on, dt.date):
        errors["earned_on"] = [_("Enter the date it was earned.")]
    elif cert.earned_on > timezone.localdate():
        errors["earned_on"] = [_("The date cannot be in the future.")]
    if cert.expires_on is not None and not isinstance(cert.expires_on, dt.date):
        errors["expires_on"] = [_("Enter a date, or leave empty for a certificate that does not expire.")]
    elif cert.expires_on is not None and isinstance(cert.earned_on, dt.date) and cert.expires_on <= cert.earned_on:
        errors["expires_on"] = [_("A certificate must expire after the day it was earned.")]
    if errors:
        raise ApplicationError(" ".join(m for msgs in errors.values() for m in msgs), fields=errors)


def _save(cert: Certification, update_fields=None) -> None:
    try:
        with transaction.atomic():
            cert.save(update_fields=update_fields)
    except IntegrityError as exc:
        raise ApplicationError(
            _("This person already has this certificate from that day."),
            fields={"course": [_("Already recorded.")]},
        ) from exc


def certification_create(
    *, actor, contact: Contact, course: str, earned_on, expires_on=None, certificate_number: str = ""
) -> Certification:
    """Record a certificate for one of a partner's people (staff only)."""
    _require_staff(actor)
    if not contact.is_active:
        raise ApplicationError(_("This person is no longer active."), fields={"contact": [_("Inactive person.")]})
    cert = Certification(
        contact=contact,
        course=course,
        earned_on=earned_on,
        expires_on=expires_on,
        certificate_number=certificate_number or "",
    )
    _validate(cert)
    with transaction.atomic():
        _save(cert)
        audit_record(
            actor=actor,
            action="certification.create",
            instance=cert,
            after=snapshot(cert),
            partner_id=contact.partner_id,
        )
        publish_on_commit("certification_earned", cert.pk)
    return cert


def certification_update(*, actor, certification: Certification, data: dict) -> Certification:
    """Change course, number, earned or expiry date (staff only). Unknown keys are refused."""
    _require_staff(actor)
    unknown = set(data) - set(_EDITABLE)
    if unknown:
        raise ApplicationError(
            _("These fields cannot be changed: %(fields)s") % {"fields": ", ".join(sorted(unknown))},
            fields={k: [_("Not editable.")] for k in unknown},
        )
    with transaction.atomic():
        cert = Certification.objects.select_for_update().select_related("contact").get(pk=certification.pk)
        before = snapshot(cert)
        for key, value in data.items():
            setattr(cert, key, value)
        _validate(cert)
        changed = [k for k in _EDITABLE if k in data]
        _save(cert, update_fields=[*changed, "updated_at"])
        old, new = diff(before, snapshot(cert))
        audit_record(
            actor=actor,
            action="certification.update",
            instance=cert,
            before=old,
            after=new,
            partner_id=cert.contact.partner_id,
        )
    return cert


def certification_revoke(*, actor, certification: Certification, reason: str = "") -> None:
    """Delete a certificate recorded in error or withdrawn (staff only); the audit keeps it, and
    the points it earned are clawed back (event `certification_revoked`)."""
    _require_staff(actor)
    with transaction.atomic():
        cert = Certification.objects.select_for_update().select_related("contact").filter(pk=certification.pk).first()
        if cert is None:
            return  # already revoked: revoking twice changes nothing
        before = snapshot(cert)
        partner_id = cert.contact.partner_id
        audit_record(
            actor=actor,
            action="certification.revoke",
            instance=cert,
            before=before,
            reason=reason,
            partner_id=partner_id,
        )
        cert_id = cert.pk
        cert.delete()
        # The points it earned are taken back by the programs app (task on commit, nightly
        # reconciliation as the safety net).
        publish_on_commit("certification_revoked", cert_id)


def certification_expiry_reminders(*, today: dt.date | None = None, days: int = 30) -> int:
    """Tell the partner's admins, once per certificate, that it expires within `days` days.

    Safe to run twice: each notification carries a dedupe key of the certificate and its
    expiry date (a renewed certificate with a new date is reminded again)."""
    from django.urls import reverse
    from django.utils.formats import date_format
    from django.utils.translation import override

    from prm.models import Role, User
    from prm.notifications import notification_send

    today = today or timezone.localdate()
    certs = (
        Certification.objects.filter(expires_on__gt=today, expires_on__lte=today + dt.timedelta(days=days))
        .select_related("contact__partner")
        .order_by("pk")
    )
    admins: dict[int, list[User]] = {}
    sent = 0
    for cert in certs.iterator(chunk_size=500):
        partner_id = cert.contact.partner_id
        if partner_id not in admins:
            admins[partner_id] = list(
                User.objects.filter(partner_id=partner_id, role=Role.PARTNER_ADMIN, is_active=True).order_by("pk")
            )
        for user in admins[partner_id]:
            with override(user.language or None):
                notification = notification_send(
                    user=user,
                    kind="certification_expiring",
                    title=_("%(person)s's certificate “%(course)s” expires on %(date)s")
                    % {
                        "person": cert.contact.full_name,
                        "course": cert.course,
                        "date": date_format(cert.expires_on, "SHORT_DATE_FORMAT"),
                    },
                    url=reverse("cabinet:certification_list"),
                    dedupe_key=f"certification-expiry:{cert.pk}:{cert.expires_on.isoformat()}",
                )
            sent += notification is not None
    return sent
