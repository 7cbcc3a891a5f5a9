"""Protection after approval: extension requests, reminders before the end, expiry."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from deals.models import DealRegistration, DealStatus, ExtensionStatus, ProtectionExtension
from prm.audit import audit_record
from prm.exceptions import ApplicationError, StateError

from ._common import (
    claim_ids,
    notify,
    object_url,
    partner_recipients,
    prm_setting,
    require_deal_owner,
    require_staff,
    reviewers_for,
)
from .registration import _due_text, lock_registration
from .side_effects import close_pending_extensions, conflicts_lapse_for


def max_extensions_for(partner) -> int:
    if partner.tier_id is not None:
        return int(partner.tier.max_extensions)
    return int(prm_setting("DEAL_DEFAULT_MAX_EXTENSIONS"))


def deal_request_extension(*, user, deal: DealRegistration, reason: str) -> ProtectionExtension:
    """Ask for PRM["DEAL_EXTENSION_DAYS"] more days of protection (reason required).

    Only while the registration is approved and protected; at most the tier's
    `max_extensions` (default 1) requests may be pending or approved; one pending at a time.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Give a reason."), fields={"reason": [_("This field is required.")]})
    with transaction.atomic():
        deal = lock_registration(deal)
        require_deal_owner(user, deal)
        now = timezone.now()
        if deal.status != DealStatus.APPROVED or deal.protected_until is None or deal.protected_until <= now:
            raise StateError(_("Only a registration under protection can be extended."))
        used = deal.extensions.filter(status__in=[ExtensionStatus.PENDING, ExtensionStatus.APPROVED])
        if used.filter(status=ExtensionStatus.PENDING).exists():
            raise StateError(_("An extension request for this registration is already waiting for a decision."))
        if used.count() >= max_extensions_for(deal.partner):
            raise StateError(_("This registration has used all the extensions its tier allows."))
        extension = ProtectionExtension.objects.create(
            registration=deal,
            requested_by=user,
            reason=reason,
            days=int(prm_setting("DEAL_EXTENSION_DAYS")),
        )
        audit_record(
            actor=user,
            action="extension.request",
            instance=extension,
            after={"registration": deal.pk, "days": extension.days},
            reason=reason,
            partner_id=deal.partner_id,
        )
        notify(
            reviewers_for(deal.partner),
            kind="extension.requested",
            key=f"extension-requested:{extension.public_id}",
            title=_lazy("%(partner)s asks to extend protection of %(reference)s"),
            body=_lazy("%(days)s more days. Reason: %(reason)s"),
            params={
                "partner": deal.partner.name,
                "reference": deal.reference,
                "days": extension.days,
                "reason": reason,
            },
            url=object_url("staff", "deal_detail", deal.public_id),
        )
    return extension


def _lock_extension(extension: ProtectionExtension) -> tuple[ProtectionExtension, DealRegistration]:
    # Registration first, then the request: the same order as the other services.
    deal = lock_registration(extension.registration_id)
    extension = ProtectionExtension.objects.select_for_update().select_related("requested_by").get(pk=extension.pk)
    return extension, deal


def deal_approve_extension(*, user, extension: ProtectionExtension, note: str = "") -> ProtectionExtension:
    """Grant a pending request: protection runs `days` longer from its current end, and the
    14/3-day reminders will fire again for the new end date."""
    require_staff(user)
    with transaction.atomic():
        extension, deal = _lock_extension(extension)
        if extension.status != ExtensionStatus.PENDING:
            raise StateError(_("This extension request has already been decided."))
        now = timezone.now()
        if deal.status != DealStatus.APPROVED or deal.protected_until is None or deal.protected_until <= now:
            raise StateError(_("The registration is no longer under protection."))
        previous = deal.protected_until
        deal.protected_until = previous + dt.timedelta(days=extension.days)
        deal.protection_reminder_level = None
        deal.save(update_fields=["protected_until", "protection_reminder_level", "updated_at"])
        extension.status = ExtensionStatus.APPROVED
        extension.decided_by, extension.decided_at = user, now
        extension.decision_note = (note or "").strip()
        extension.previous_protected_until, extension.new_protected_until = previous, deal.protected_until
        extension.save(
            update_fields=[
                "status",
                "decided_by",
                "decided_at",
                "decision_note",
                "previous_protected_until",
                "new_protected_until",
                "updated_at",
            ]
        )
        audit_record(
            actor=user,
            action="extension.approve",
            instance=extension,
            before={"status": ExtensionStatus.PENDING},
            after={"status": extension.status},
            reason=extension.decision_note,
            partner_id=deal.partner_id,
        )
        audit_record(
            actor=user,
            action="deal.extend",
            instance=deal,
            before={"protected_until": previous.isoformat()},
            after={"protected_until": deal.protected_until.isoformat()},
        )
        notify(
            partner_recipients(deal),
            kind="extension.approved",
            key=f"extension-decided:{extension.public_id}",
            title=_lazy("Protection of %(reference)s extended"),
            body=_lazy("Your registration is now protected until %(until)s."),
            params={"reference": deal.reference, "until": _due_text(deal.protected_until)},
            url=object_url("cabinet", "deal_detail", deal.public_id),
        )
    return extension


def deal_reject_extension(*, user, extension: ProtectionExtension, reason: str) -> ProtectionExtension:
    """Refuse a pending request with a reason the partner sees; protection is unchanged."""
    require_staff(user)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Give a reason."), fields={"reason": [_("This field is required.")]})
    with transaction.atomic():
        extension, deal = _lock_extension(extension)
        if extension.status != ExtensionStatus.PENDING:
            raise StateError(_("This extension request has already been decided."))
        extension.status = ExtensionStatus.REJECTED
        extension.decided_by, extension.decided_at, extension.decision_note = user, timezone.now(), reason
        extension.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
        audit_record(
            actor=user,
            action="extension.reject",
            instance=extension,
            before={"status": ExtensionStatus.PENDING},
            after={"status": extension.status},
            reason=reason,
            partner_id=deal.partner_id,
        )
        notify(
            partner_recipients(deal),
            kind="extension.rejected",
            key=f"extension-decided:{extension.public_id}",
            title=_lazy("Extension of %(reference)s declined"),
            body=_lazy("Reason: %(reason)s"),
            params={"reference": deal.reference, "reason": reason},
            url=object_url("cabinet", "deal_detail", deal.public_id),
        )
    return extension


# --- beat jobs ----------------------------------------------------------------------------


def deal_protection_send_reminders(*, now: dt.datetime | None = None, chunk: int = 500) -> int:
    """Remind partners PRM["DEAL_PROTECTION_REMINDER_DAYS"] (14, 3) days before protection ends.

    Each registration records the smallest reminder sent for its current end date
    (`protection_reminder_level`): the claim is a conditional UPDATE on it, the notification
    has a dedupe key with the end date, so a second run sends nothing. A registration already
    inside 3 days gets only the 3-day reminder. An extension resets the level.
    """
    now = now or timezone.now()
    sent = 0
    for days in sorted(int(d) for d in prm_setting("DEAL_PROTECTION_REMINDER_DAYS")):
        due = DealRegistration.objects.filter(
            status=DealStatus.APPROVED,
            protected_until__gt=now,
            protected_until__lte=now + dt.timedelta(days=days),
        ).filter(Q(protection_reminder_level__isnull=True) | Q(protection_reminder_level__gt=days))
        while True:
            with transaction.atomic():
                ids = claim_ids(due, limit=chunk)
                if not ids:
                    break
                DealRegistration.objects.filter(pk__in=ids).update(protection_reminder_level=days)
                for deal in DealRegistration.objects.filter(pk__in=ids).select_related("submitted_by"):
                    sent += notify(
                        partner_recipients(deal),
                        kind="deal.protection_ending",
                        key=f"protection-{days}d:{deal.reference}:{deal.protected_until:%Y%m%d}",
                        title=_lazy("Protection of %(reference)s ends in %(days)s days"),
                        body=_lazy("It ends on %(until)s. You can ask for an extension if your tier allows one."),
                        params={"reference": deal.reference, "days": days, "until": _due_text(deal.protected_until)},
                        url=object_url("cabinet", "deal_detail", deal.public_id),
                    )
    return sent


def deal_protection_expire(*, now: dt.datetime | None = None, chunk: int = 200) -> int:
    """Expire approved registrations whose protection ended, releasing the customer.

    Claimed by FOR UPDATE SKIP LOCKED and a conditional UPDATE (status still approved, end in
    the past), so two runs never expire or notify twice. Pending extension requests lapse and
    open conflicts close (the other partner is told only that the overlap is gone).
    """
    now = now or timezone.now()
    due = DealRegistration.objects.filter(status=DealStatus.APPROVED, protected_until__lte=now)
    expired = 0
    while True:
        with transaction.atomic():
            ids = claim_ids(due, limit=chunk)
            if not ids:
                return expired
            DealRegistration.objects.filter(pk__in=ids, status=DealStatus.APPROVED, protected_until__lte=now).update(
                status=DealStatus.EXPIRED, expired_at=now, status_changed_at=now, updated_at=now
            )
            for deal in DealRegistration.objects.filter(pk__in=ids).select_related("submitted_by", "partner"):
                audit_record(
                    actor=None,
                    action="deal.expire",
                    instance=deal,
                    before={"status": DealStatus.APPROVED},
                    after={"status": DealStatus.EXPIRED, "expired_at": now.isoformat()},
                )
                close_pending_extensions(deal=deal, user=None, now=now)
                conflicts_lapse_for(registration=deal, user=None, now=now)
                notify(
                    partner_recipients(deal),
                    kind="deal.expired",
                    key=f"deal-expired:{deal.reference}",
                    title=_lazy("Protection of %(reference)s has ended"),
                    body=_lazy("The registration has expired and the customer is open to other registrations."),
                    params={"reference": deal.reference},
                    url=object_url("cabinet", "deal_detail", deal.public_id),
                )
            expired += len(ids)
