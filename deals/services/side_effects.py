"""Flows shared by several services: announcing a detected conflict, and closing the open
conflicts and pending extension requests of a registration that leaves the active set
(rejected, lost, expired, won). Callers hold the registration's row lock and a transaction.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from deals.models import (
    Conflict,
    ConflictOutcome,
    ConflictStatus,
    DealRegistration,
    ExtensionStatus,
    ProtectionExtension,
)
from prm.audit import audit_record

from ._common import notify, object_url, partner_recipients, reviewers_for

# Partner-facing conflict texts: they may name the recipient's own registration only.
CONFLICT_DETECTED_TITLE = _lazy("Another registration exists for the customer of %(reference)s")
CONFLICT_DETECTED_BODY = _lazy(
    "A channel manager will review the overlap and decide; you will see the outcome here. "
    "Details of the other registration are confidential."
)
CONFLICT_LAPSED_TITLE = _lazy("The overlap on %(reference)s is closed")
CONFLICT_LAPSED_BODY = _lazy("The other registration for this customer is no longer active.")


def notify_conflicts_detected(conflicts: list[Conflict]) -> None:
    """Tell each partner that another registration exists (no identity, no value) and tell
    the reviewers of both partners everything. Recipients are looked up once per
    registration, however many conflicts one submission raised."""
    if not conflicts:
        return
    ids = {c.registration_low_id for c in conflicts} | {c.registration_high_id for c in conflicts}
    registrations = {
        r.pk: r
        for r in DealRegistration.objects.select_related(
            "partner", "partner__owner", "submitted_by", "end_customer"
        ).filter(pk__in=ids)
    }
    recipients: dict[int, list] = {}
    for conflict in conflicts:
        low, high = registrations[conflict.registration_low_id], registrations[conflict.registration_high_id]
        for side in (low, high):
            if side.pk not in recipients:
                recipients[side.pk] = partner_recipients(side)
            notify(
                recipients[side.pk],
                kind="deal.conflict",
                key=f"conflict:{conflict.public_id}",
                title=CONFLICT_DETECTED_TITLE,
                body=CONFLICT_DETECTED_BODY,
                params={"reference": side.reference},
                url=object_url("cabinet", "deal_detail", side.public_id),
            )
        notify(
            [*reviewers_for(low.partner), *reviewers_for(high.partner)],
            kind="conflict.detected",
            key=f"conflict:{conflict.public_id}",
            title=_lazy("Conflict: %(low)s (%(low_partner)s) and %(high)s (%(high_partner)s)"),
            body=_lazy("Customer: %(customer)s. Matched on: %(matched)s; name similarity %(similarity)s."),
            params={
                "low": low.reference,
                "low_partner": low.partner.name,
                "high": high.reference,
                "high_partner": high.partner.name,
                "customer": high.end_customer.name,
                "matched": ", ".join(conflict.matched_fields),
                "similarity": conflict.similarity,
            },
            url=object_url("staff", "conflict_detail", conflict.public_id),
        )


def conflicts_lapse_for(*, registration: DealRegistration, user, now) -> int:
    """Close the open conflicts of a registration that is no longer active, and tell the
    partner on the other side that the overlap is gone (without saying why)."""
    conflicts = list(
        Conflict.objects.select_for_update()
        .filter(Q(registration_low=registration) | Q(registration_high=registration), status=ConflictStatus.OPEN)
        .order_by("pk")
    )
    if not conflicts:
        return 0
    others = {
        r.pk: r
        for r in DealRegistration.objects.select_related("submitted_by").filter(
            pk__in=[c.other(registration.pk) for c in conflicts]
        )
    }
    for conflict in conflicts:
        conflict.status = ConflictStatus.RESOLVED
        conflict.outcome = ConflictOutcome.LAPSED
        conflict.resolved_at = now
        conflict.reason = _("Closed automatically: %(reference)s is %(status)s.") % {
            "reference": registration.reference,
            "status": registration.get_status_display().lower(),
        }
        conflict.save(update_fields=["status", "outcome", "resolved_at", "reason", "updated_at"])
        audit_record(
            actor=user,
            action="conflict.lapse",
            instance=conflict,
            before={"status": ConflictStatus.OPEN},
            after={"status": conflict.status, "outcome": conflict.outcome},
            reason=conflict.reason,
            partner_id=registration.partner_id,
        )
        other = others[conflict.other(registration.pk)]
        notify(
            partner_recipients(other),
            kind="deal.conflict_closed",
            key=f"conflict-closed:{conflict.public_id}",
            title=CONFLICT_LAPSED_TITLE,
            body=CONFLICT_LAPSED_BODY,
            params={"reference": other.reference},
            url=object_url("cabinet", "deal_detail", other.public_id),
        )
    return len(conflicts)


def close_pending_extensions(*, deal: DealRegistration, user, now) -> int:
    """A pending extension request dies with the registration's protection."""
    pending = list(
        ProtectionExtension.objects.select_for_update().filter(registration=deal, status=ExtensionStatus.PENDING)
    )
    for extension in pending:
        extension.status = ExtensionStatus.LAPSED
        extension.decided_at = now
        extension.decision_note = _("Closed: the registration is %(status)s.") % {
            "status": deal.get_status_display().lower()
        }
        extension.save(update_fields=["status", "decided_at", "decision_note", "updated_at"])
        audit_record(
            actor=user,
            action="extension.lapse",
            instance=extension,
            before={"status": ExtensionStatus.PENDING},
            after={"status": extension.status},
            partner_id=deal.partner_id,
        )
    return len(pending)
