"""The rewards catalogue and redemptions.

    requested ─approve→ approved ─fulfil→ fulfilled
        │  └─reject (reason)→ rejected         (points returned, stock restored)
        ├─reject (reason)→ rejected            (also from approved)
        └─cancel (a partner admin)→ cancelled  (points returned, stock restored)

Points are debited when the redemption is requested. Never a negative balance or stock, even
under concurrent requests: the partner's balance row is locked (SELECT … FOR UPDATE) before the
balance is checked, the stock is taken by a conditional UPDATE (stock >= quantity), and the
database CHECKs (balance >= 0, stock >= 0) back both up.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from deals.services._common import full_clean_or_error, notify, require_max_length, require_staff
from prm.audit import audit_record, diff, snapshot
from prm.exceptions import ApplicationError, PermissionDenied, StateError
from programs.models import (
    POINTS,
    REDEMPTION_TEXT_MAX_LENGTH,
    EntryKind,
    EntryState,
    LedgerEntry,
    Redemption,
    RedemptionStatus,
    Reward,
    SourceType,
)

from ._access import require_staff_for_partner
from .ledger import _insert_entry, _lock_balance

__all__ = [
    "redemption_approve",
    "redemption_cancel",
    "redemption_fulfil",
    "redemption_reject",
    "redemption_request",
    "reward_create",
    "reward_update",
]

REWARD_FIELDS = ["name", "name_i18n", "description", "category", "points_cost", "stock", "active"]
REDEMPTION_AUDIT = ["status", "decided_by", "decided_at", "decision_reason", "fulfilled_at"]


def reward_create(
    *, actor, name: str, category: str, points_cost: int, description: str = "", stock=None, active=True, name_i18n=None
) -> Reward:
    """Staff add a reward to the catalogue. The cost cap (REWARD_MAX_POINTS_COST) and the
    description's length are the model fields' validators, applied by full_clean_or_error here
    and in reward_update: ApplicationError naming the field, as the form and the API show."""
    require_staff(actor)
    reward = Reward(
        name=(name or "").strip(),
        category=category,
        points_cost=points_cost,
        description=description or "",
        stock=stock,
        active=active,
        name_i18n=name_i18n or {},
    )
    full_clean_or_error(reward)
    with transaction.atomic():
        reward.save()
        audit_record(actor=actor, action="reward.create", instance=reward, after=snapshot(reward, REWARD_FIELDS))
    return reward


def reward_update(*, actor, reward: Reward, **changes) -> Reward:
    """Staff change a reward (name, description, category, cost, stock, active, translations).
    Cost changes apply to new redemptions only (each redemption keeps the points it debited)."""
    require_staff(actor)
    unknown = set(changes) - set(REWARD_FIELDS)
    if unknown:
        raise ApplicationError(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    with transaction.atomic():
        reward = Reward.objects.select_for_update().get(pk=reward.pk)
        before = snapshot(reward, REWARD_FIELDS)
        for key, value in changes.items():
            setattr(reward, key, value.strip() if isinstance(value, str) and key == "name" else value)
        full_clean_or_error(reward)
        reward.save(update_fields=[*changes, "updated_at"])
        b, a = diff(before, snapshot(reward, REWARD_FIELDS))
        if a:
            audit_record(actor=actor, action="reward.update", instance=reward, before=b, after=a)
    return reward


def _redemptions_url(namespace: str) -> str:
    try:
        return reverse(f"{namespace}:redemptions" if namespace == "cabinet" else "staff:redemption_queue")
    except NoReverseMatch:  # pages come with ledger-ui's views
        return ""


def redemption_request(*, actor, reward: Reward, quantity: int = 1, note: str = "") -> Redemption:
    """A partner admin redeems points for a reward: points are debited at once, stock taken.

    Raises ApplicationError (code insufficient_points / out_of_stock / reward_inactive) and
    writes nothing when the balance or the stock is short.
    """
    if not (actor and actor.is_active and actor.is_partner_user and actor.is_partner_admin):
        raise PermissionDenied(_("Only your company's partner admins can redeem points."))
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        quantity = 0
    if quantity < 1 or quantity > 1000:
        raise ApplicationError(
            _("Choose a quantity of at least 1."), fields={"quantity": [_("Enter a whole number from 1.")]}
        )
    note = require_max_length((note or "").strip(), field="note", limit=REDEMPTION_TEXT_MAX_LENGTH)
    partner_id = actor.partner_id
    with transaction.atomic():
        # Lock order everywhere: balance row, then reward row (no deadlocks between requests).
        balance = _lock_balance(partner_id)
        reward = Reward.objects.get(pk=reward.pk)
        if not reward.active:
            raise ApplicationError(_("This reward is no longer available."), code="reward_inactive")
        points = reward.points_cost * quantity
        if balance < points:
            raise ApplicationError(
                _("Not enough points: this costs %(cost)s points and your balance is %(balance)s.")
                % {"cost": points, "balance": int(balance)},
                code="insufficient_points",
                fields={"quantity": [_("Not enough points.")]},
            )
        taken = Reward.objects.filter(Q(stock__isnull=True) | Q(stock__gte=quantity), pk=reward.pk, active=True).update(
            stock=F("stock") - quantity
        )
        if not taken:
            raise ApplicationError(
                _("Out of stock: not enough of this reward is left."),
                code="out_of_stock",
                fields={"quantity": [_("Out of stock.")]},
            )
        redemption = Redemption.objects.create(
            partner_id=partner_id,
            requested_by=actor,
            reward=reward,
            quantity=quantity,
            points=points,
            note=note,
            status_changed_at=timezone.now(),
        )
        _insert_entry(
            partner_id=partner_id,
            kind=EntryKind.POINTS,
            amount=-points,
            unit=POINTS,
            source_type=SourceType.REDEMPTION,
            source_id=str(redemption.pk),
            user_id=actor.pk,
            reason=str(reward),
            created_by_id=actor.pk,
        )
        audit_record(
            actor=actor,
            action="redemption.request",
            instance=redemption,
            after=snapshot(redemption, ["reward", "quantity", "points", "status"]),
        )
    return redemption


def _locked(redemption: Redemption) -> Redemption:
    return Redemption.objects.select_for_update().select_related("reward", "requested_by").get(pk=redemption.pk)


def _guard(redemption: Redemption, allowed: tuple[str, ...]) -> None:
    if redemption.status not in allowed:
        raise StateError(
            _("This redemption is already %(status)s.") % {"status": redemption.get_status_display()},
            code="already_decided",
        )


def _return_points(redemption: Redemption, *, actor, reason: str) -> None:
    """Give the points back (a reversing credit, itself a new lot) and restore the stock."""
    debit = LedgerEntry.objects.select_for_update().get(
        source_type=SourceType.REDEMPTION, source_id=str(redemption.pk), kind=EntryKind.POINTS, rule__isnull=True
    )
    debit.state = EntryState.REVERSED
    debit.state_changed_at = timezone.now()
    debit.save(update_fields=["state", "state_changed_at", "updated_at"])
    _insert_entry(
        partner_id=redemption.partner_id,
        kind=EntryKind.POINTS,
        amount=redemption.points,
        unit=POINTS,
        source_type=SourceType.REDEMPTION_RETURN,
        source_id=str(redemption.pk),
        user_id=redemption.requested_by_id,
        reverses_id=debit.pk,
        reason=reason,
        created_by_id=actor.pk,
    )
    Reward.objects.filter(pk=redemption.reward_id, stock__isnull=False).update(stock=F("stock") + redemption.quantity)


NOTE_TITLES = {
    RedemptionStatus.APPROVED: _lazy("Your reward request was approved: %(reward)s"),
    RedemptionStatus.FULFILLED: _lazy("Your reward is on its way: %(reward)s"),
    RedemptionStatus.REJECTED: _lazy("Your reward request was declined: %(reward)s"),
}
REJECT_BODY = _lazy("Reason: %(reason)s. %(points)s points were returned to your balance.")


def _decide(redemption, *, actor, to: str, allowed: tuple[str, ...], reason: str = "") -> Redemption:
    with transaction.atomic():
        redemption = _locked(redemption)
        _guard(redemption, allowed)
        before = snapshot(redemption, REDEMPTION_AUDIT)
        now = timezone.now()
        fields = ["status", "status_changed_at", "updated_at"]
        redemption.status = to
        redemption.status_changed_at = now
        if to in (RedemptionStatus.APPROVED, RedemptionStatus.REJECTED):
            redemption.decided_by = actor
            redemption.decided_at = now
            fields += ["decided_by", "decided_at"]
        if to == RedemptionStatus.FULFILLED:
            redemption.fulfilled_at = now
            fields.append("fulfilled_at")
        if reason:
            redemption.decision_reason = reason
            fields.append("decision_reason")
        if to in (RedemptionStatus.REJECTED, RedemptionStatus.CANCELLED):
            _return_points(redemption, actor=actor, reason=reason or _("Cancelled by the partner"))
        redemption.save(update_fields=list(dict.fromkeys(fields)))
        b, a = diff(before, snapshot(redemption, REDEMPTION_AUDIT))
        audit_record(actor=actor, action=f"redemption.{to}", instance=redemption, before=b, after=a, reason=reason)
        if to in NOTE_TITLES:
            notify(
                [redemption.requested_by],
                kind=f"redemption_{to}",
                key=f"redemption:{redemption.pk}:{to}",
                title=NOTE_TITLES[to],
                body=REJECT_BODY if to == RedemptionStatus.REJECTED else "",
                params={"reward": str(redemption.reward), "reason": reason, "points": redemption.points},
                url=_redemptions_url("cabinet"),
            )
    return redemption


def redemption_approve(*, actor, redemption: Redemption) -> Redemption:
    """requested → approved (staff). StateError (409) when already decided."""
    require_staff_for_partner(actor, redemption.partner_id)
    return _decide(redemption, actor=actor, to=RedemptionStatus.APPROVED, allowed=(RedemptionStatus.REQUESTED,))


def redemption_fulfil(*, actor, redemption: Redemption) -> Redemption:
    """approved → fulfilled (staff): the reward was delivered."""
    require_staff_for_partner(actor, redemption.partner_id)
    return _decide(redemption, actor=actor, to=RedemptionStatus.FULFILLED, allowed=(RedemptionStatus.APPROVED,))


def redemption_reject(*, actor, redemption: Redemption, reason: str) -> Redemption:
    """requested/approved → rejected (staff, reason required): points returned, stock restored."""
    require_staff_for_partner(actor, redemption.partner_id)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the request is declined."), fields={"reason": [_("This field is required.")]})
    require_max_length(reason, field="reason", limit=REDEMPTION_TEXT_MAX_LENGTH)
    return _decide(
        redemption,
        actor=actor,
        to=RedemptionStatus.REJECTED,
        allowed=(RedemptionStatus.REQUESTED, RedemptionStatus.APPROVED),
        reason=reason,
    )


def redemption_cancel(*, actor, redemption: Redemption) -> Redemption:
    """requested → cancelled, by a partner admin of the same partner (any of them, not only the
    one who asked; a requester who is no longer a partner admin cannot): points returned, stock
    restored. The same rule as redeeming, so the cabinet, the API and this service agree."""
    if not (
        actor
        and actor.is_active
        and actor.is_partner_user
        and actor.is_partner_admin
        and actor.partner_id == redemption.partner_id
    ):
        raise PermissionDenied(_("Only your company's partner admins can cancel a reward request."))
    return _decide(redemption, actor=actor, to=RedemptionStatus.CANCELLED, allowed=(RedemptionStatus.REQUESTED,))
