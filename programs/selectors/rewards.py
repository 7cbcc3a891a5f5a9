"""Reads of the rewards catalogue and redemptions, scoped: partner users see their own
company's redemptions only (404 otherwise); staff see all."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from partners.selectors import get_or_404, partners_in_scope, scope_to_partner
from prm.models import User
from programs.models import Redemption, RedemptionStatus, Reward

__all__ = [
    "RedemptionFilters",
    "redemption_get_for_user",
    "redemption_get_in_scope",
    "redemption_list_for_user",
    "redemption_queue",
    "redemption_queue_counts",
    "reward_get_for_user",
    "reward_list",
]


def reward_list(*, user: User, include_inactive: bool = False) -> QuerySet[Reward]:
    """The catalogue: active rewards for everyone signed in; staff may include inactive ones."""
    qs = Reward.objects.all()
    if not (include_inactive and user.is_vendor_staff):
        qs = qs.filter(active=True)
    if not (user.is_vendor_staff or user.is_partner_user):
        return qs.none()
    return qs.order_by("category", "points_cost", "name", "pk")


def reward_get_for_user(*, user: User, public_id) -> Reward:
    return get_or_404(reward_list(user=user, include_inactive=True), public_id=public_id)


@dataclass(frozen=True)
class RedemptionFilters:
    status: str = ""
    partner: str = ""  # public_id, staff only
    reward: str = ""  # public_id


def redemption_list_for_user(*, user: User, filters: RedemptionFilters | None = None) -> QuerySet[Redemption]:
    """Redemptions `user` may see, newest first: partner users their company's, staff all."""
    qs = scope_to_partner(Redemption.objects.all(), user=user).select_related(
        "partner", "reward", "requested_by", "decided_by"
    )
    f = filters or RedemptionFilters()
    if f.status:
        qs = qs.filter(status=f.status)
    if f.partner:
        qs = qs.filter(partner__public_id=f.partner) if _is_uuid(f.partner) else qs.none()
    if f.reward:
        qs = qs.filter(reward__public_id=f.reward) if _is_uuid(f.reward) else qs.none()
    return qs.order_by("-created_at", "-id")


def redemption_get_for_user(*, user: User, public_id) -> Redemption:
    return get_or_404(redemption_list_for_user(user=user), public_id=public_id)


def redemption_get_in_scope(*, user: User, public_id) -> Redemption:
    """A redemption staff `user` may decide: its partner is in the user's portfolio
    (partners_in_scope); any other is a 404 on the decision pages."""
    qs = redemption_list_for_user(user=user).filter(partner__in=partners_in_scope(user=user))
    return get_or_404(qs, public_id=public_id)


def redemption_queue(*, partners=None) -> QuerySet[Redemption]:
    """Staff work queue: requested (to approve) then approved (to fulfil), oldest first."""
    qs = Redemption.objects.filter(status__in=[RedemptionStatus.REQUESTED, RedemptionStatus.APPROVED]).select_related(
        "partner", "partner__tier", "reward", "requested_by", "decided_by"
    )
    if partners is not None:
        qs = qs.filter(partner__in=partners)
    return qs.order_by("created_at", "id")


def redemption_queue_counts(*, partners) -> dict[str, int]:
    """{"requested": n, "approved": m} for the partners in scope: one query."""
    counts = Redemption.objects.filter(partner__in=partners).aggregate(
        requested=Count("pk", filter=Q(status=RedemptionStatus.REQUESTED)),
        approved=Count("pk", filter=Q(status=RedemptionStatus.APPROVED)),
    )
    return {"requested": counts["requested"] or 0, "approved": counts["approved"] or 0}


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
