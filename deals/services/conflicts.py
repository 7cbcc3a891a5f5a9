"""Conflict resolution by a channel manager, and escalation of conflicts left open."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from deals.models import ACTIVE_STATUSES, Conflict, ConflictOutcome, ConflictStatus, DealRegistration, DealStatus
from prm.audit import audit_record, diff, snapshot
from prm.exceptions import ApplicationError, StateError

from ._common import (
    claim_ids,
    lead_of,
    notify,
    object_url,
    partner_recipients,
    prm_setting,
    require_staff,
    reviewers_for,
)
from .registration import lock_registration, reject_locked

_CONFLICT_FIELDS = ["status", "outcome", "winner", "reason", "resolved_by", "resolved_at"]

# Partner-facing outcome texts: they name the recipient's own registration only.
_OUTCOME_TEXTS = {
    "won": (
        _lazy("Overlap on %(reference)s resolved in your favour"),
        _lazy("Your registration keeps the customer."),
    ),
    "lost": (
        _lazy("Overlap on %(reference)s resolved"),
        _lazy("Another registration for this customer was given priority; %(reference)s is rejected."),
    ),
    ConflictOutcome.CO_SELL: (
        _lazy("Overlap on %(reference)s resolved as co-sell"),
        _lazy("Your registration stays active; the customer will be served together with another partner."),
    ),
    ConflictOutcome.REJECT_BOTH: (
        _lazy("Overlap on %(reference)s resolved"),
        _lazy("The overlapping registrations for this customer were rejected, %(reference)s included."),
    ),
}
# Stored as the rejected registration's decision_reason, which the partner sees.
_LOSER_REASON = _lazy("Another registration for this customer was given priority.")
_REJECT_BOTH_REASON = _lazy("Rejected after a review of overlapping registrations for this customer.")


def conflict_resolve(
    *, user, conflict: Conflict, outcome: str, reason: str, winner: DealRegistration | None = None
) -> Conflict:
    """Settle an open conflict. `outcome`: "award" (with `winner`, one of the pair: the other
    registration is rejected), "co_sell" (both stay as they are) or "reject_both".

    `reason` is required and is staff-only; partners get a fixed text for their side of the
    outcome (won / lost / co-sell / rejected) and never learn the other partner or deal.
    Awarding does not approve a submitted winner: approve it as usual afterwards. A loser that
    is already won is left as it is. Rejected losers' other open conflicts lapse.
    """
    require_staff(user)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Give a reason."), fields={"reason": [_("This field is required.")]})
    if outcome not in (ConflictOutcome.AWARD, ConflictOutcome.CO_SELL, ConflictOutcome.REJECT_BOTH):
        raise ApplicationError(_("Choose how to resolve the conflict."), fields={"outcome": [_("Invalid choice.")]})
    with transaction.atomic():
        # Lock order everywhere: registrations (by id), then conflict rows — the order in which
        # deal_reject and the expiry task take them, so none of them can deadlock with this.
        low_id, high_id = Conflict.objects.values_list("registration_low_id", "registration_high_id").get(
            pk=conflict.pk
        )
        low = lock_registration(low_id)
        high = lock_registration(high_id)
        conflict = Conflict.objects.select_for_update().get(pk=conflict.pk)
        if conflict.status != ConflictStatus.OPEN:
            raise StateError(_("This conflict has already been resolved."))
        if outcome == ConflictOutcome.AWARD:
            if winner is None or winner.pk not in (low.pk, high.pk):
                raise ApplicationError(
                    _("Choose which registration wins."), fields={"winner": [_("Choose one of the two.")]}
                )
            winner_reg = low if winner.pk == low.pk else high
            losers = [high if winner_reg is low else low]
        else:
            winner_reg = None
            losers = [low, high] if outcome == ConflictOutcome.REJECT_BOTH else []

        before = snapshot(conflict, _CONFLICT_FIELDS)
        now = timezone.now()
        conflict.status = ConflictStatus.RESOLVED
        conflict.outcome = outcome
        conflict.winner = winner_reg
        conflict.reason = reason
        conflict.resolved_by = user
        conflict.resolved_at = now
        conflict.full_clean(validate_unique=False, validate_constraints=False)
        conflict.save(update_fields=[*_CONFLICT_FIELDS, "updated_at"])
        b, a = diff(before, snapshot(conflict, _CONFLICT_FIELDS))
        audit_record(actor=user, action="conflict.resolve", instance=conflict, before=b, after=a, reason=reason)

        partner_reason = str(_LOSER_REASON if outcome == ConflictOutcome.AWARD else _REJECT_BOTH_REASON)
        for loser in losers:
            if loser.status in (*ACTIVE_STATUSES, DealStatus.RETURNED):
                reject_locked(
                    user=user, deal=loser, reason=partner_reason, action="deal.reject_by_conflict", notify_partner=False
                )

        for side in (low, high):
            key = outcome if outcome != ConflictOutcome.AWARD else ("won" if side is winner_reg else "lost")
            title, body = _OUTCOME_TEXTS[key]
            notify(
                partner_recipients(side),
                kind="deal.conflict_resolved",
                key=f"conflict-resolved:{conflict.public_id}",
                title=title,
                body=body,
                params={"reference": side.reference},
                url=object_url("cabinet", "deal_detail", side.public_id),
            )
        staff = [u for u in [*reviewers_for(low.partner), *reviewers_for(high.partner)] if u.pk != user.pk]
        notify(
            staff,
            kind="conflict.resolved",
            key=f"conflict-resolved:{conflict.public_id}",
            title=_lazy("Conflict %(low)s / %(high)s resolved: %(outcome)s"),
            body=_lazy("By %(user)s: %(reason)s"),
            params={
                "low": low.reference,
                "high": high.reference,
                "outcome": conflict.get_outcome_display(),
                "user": user.full_name,
                "reason": reason,
            },
            url=object_url("staff", "conflict_detail", conflict.public_id),
        )
    return conflict


def conflicts_escalate_overdue(*, now: dt.datetime | None = None, chunk: int = 200) -> int:
    """Escalate conflicts open for PRM["CONFLICT_ESCALATION_DAYS"] days to the channel lead of
    each partner's manager (else any channel lead). Safe to run twice: rows are claimed by
    setting `escalated_at` under FOR UPDATE SKIP LOCKED, and notifications have dedupe keys."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=float(prm_setting("CONFLICT_ESCALATION_DAYS")))
    due = Conflict.objects.filter(status=ConflictStatus.OPEN, escalated_at__isnull=True, detected_at__lte=cutoff)
    total = 0
    while True:
        with transaction.atomic():
            ids = claim_ids(due, limit=chunk)
            if not ids:
                return total
            Conflict.objects.filter(pk__in=ids, escalated_at__isnull=True).update(escalated_at=now, updated_at=now)
            for conflict in Conflict.objects.filter(pk__in=ids).select_related(
                "registration_low__partner__owner",
                "registration_high__partner__owner",
                "registration_low__end_customer",
            ):
                low, high = conflict.registration_low, conflict.registration_high
                audit_record(
                    actor=None,
                    action="conflict.escalate",
                    instance=conflict,
                    before={"escalated_at": None},
                    after={"escalated_at": now.isoformat()},
                    partner_id=low.partner_id,
                )
                leads = [lead_of(low.partner.owner), lead_of(high.partner.owner)]
                notify(
                    [u for u in leads if u],
                    kind="conflict.escalated",
                    key=f"conflict-escalated:{conflict.public_id}",
                    title=_lazy("Unresolved conflict %(low)s / %(high)s escalated to you"),
                    body=_lazy("Open since %(since)s between %(low_partner)s and %(high_partner)s for %(customer)s."),
                    params={
                        "low": low.reference,
                        "high": high.reference,
                        "since": conflict.detected_at.strftime("%Y-%m-%d"),
                        "low_partner": low.partner.name,
                        "high_partner": high.partner.name,
                        "customer": low.end_customer.name,
                    },
                    url=object_url("staff", "conflict_detail", conflict.public_id),
                )
            total += len(ids)
