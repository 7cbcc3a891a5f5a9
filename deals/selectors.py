"""Every read of the deals app, and who may see what. Cabinet, staff and API code read here.

Scoping: a partner rep sees the registrations it registered; a partner admin sees all of
its company's; vendor staff see everything. A partner user asking for anything else gets
Http404 (never 403), so the existence of other partners' objects is not revealed.

Partner-facing code must never render `flags`, `flag_evidence`, conflict rows or the other
registration of a conflict: use `conflict_summary_for_partner()` for what a partner may know.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deals.models import (
    Conflict,
    ConflictOutcome,
    ConflictStatus,
    DealRegistration,
    DealStatus,
    ExtensionStatus,
    Product,
    ProtectionExtension,
)
from deals.services import sla
from prm.models import AuditLog

_DEAL_RELATED = ("partner", "partner__tier", "submitted_by", "end_customer")


def _deal_base() -> QuerySet[DealRegistration]:
    return DealRegistration.objects.select_related(*_DEAL_RELATED).prefetch_related(
        Prefetch("products", queryset=Product.objects.select_related("line"))
    )


def _scope(qs: QuerySet[DealRegistration], user) -> QuerySet[DealRegistration]:
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_vendor_staff:
        return qs
    if user.is_partner_admin:
        return qs.filter(partner_id=user.partner_id)
    if user.is_partner_user:
        return qs.filter(partner_id=user.partner_id, submitted_by=user)
    return qs.none()


def deal_list_for_user(user, filters: dict | None = None) -> QuerySet[DealRegistration]:
    """Registrations `user` may see, newest first, with partner/customer/products loaded.

    filters (all optional): status (value or list), stage, q (reference, customer name or
    opportunity title, case-insensitive), expected_close_from / expected_close_to (dates),
    submitted_by (user id). Staff only: partner (Partner or id), flagged (True: only flagged),
    owner (a manager: only partners they own).
    """
    filters = filters or {}
    qs = _scope(_deal_base(), user)
    status = filters.get("status")
    if status:
        qs = qs.filter(status__in=[status] if isinstance(status, str) else list(status))
    if filters.get("stage"):
        qs = qs.filter(stage=filters["stage"])
    if filters.get("q"):
        q = filters["q"].strip()
        qs = qs.filter(Q(reference__iexact=q) | Q(end_customer__name__icontains=q) | Q(title__icontains=q))
    if filters.get("expected_close_from"):
        qs = qs.filter(expected_close_date__gte=filters["expected_close_from"])
    if filters.get("expected_close_to"):
        qs = qs.filter(expected_close_date__lte=filters["expected_close_to"])
    if filters.get("submitted_by"):
        qs = qs.filter(submitted_by_id=getattr(filters["submitted_by"], "pk", filters["submitted_by"]))
    if user is not None and getattr(user, "is_vendor_staff", False):
        if filters.get("partner"):
            qs = qs.filter(partner_id=getattr(filters["partner"], "pk", filters["partner"]))
        if filters.get("flagged"):
            qs = qs.exclude(flags=[])
        if filters.get("owner"):
            qs = qs.filter(partner__owner_id=getattr(filters["owner"], "pk", filters["owner"]))
    return qs.order_by("-created_at", "-id")


def deal_get_for_user(user, public_id) -> DealRegistration:
    """One registration by its public id, or Http404 when `user` may not see it."""
    try:
        return _scope(_deal_base(), user).get(public_id=public_id)
    except (DealRegistration.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such registration.") from None


def review_queue(*, manager=None) -> QuerySet[DealRegistration]:
    """Submitted registrations, most urgent first (earliest `review_due_at`); with `manager`,
    only those of partners the manager owns."""
    qs = _deal_base().filter(status=DealStatus.SUBMITTED)
    if manager is not None:
        qs = qs.filter(partner__owner=manager)
    return qs.order_by("review_due_at", "submitted_at", "id")


def review_time_left(deal: DealRegistration, *, now: dt.datetime | None = None) -> dt.timedelta | None:
    """Business time left until `review_due_at` (negative when overdue), for the countdown
    both sides see; None when the registration is not waiting for review."""
    if deal.status != DealStatus.SUBMITTED or deal.review_due_at is None:
        return None
    return sla.business_time_between(now or timezone.now(), deal.review_due_at)


def protection_expiring(days: int, *, user=None, now: dt.datetime | None = None) -> QuerySet[DealRegistration]:
    """Approved registrations whose protection ends within `days`, soonest first (scoped to
    `user` when given)."""
    now = now or timezone.now()
    qs = _deal_base().filter(
        status=DealStatus.APPROVED, protected_until__gt=now, protected_until__lte=now + dt.timedelta(days=days)
    )
    if user is not None:
        qs = _scope(qs, user)
    return qs.order_by("protected_until", "id")


# --- conflicts (staff) --------------------------------------------------------------------

_CONFLICT_RELATED = (
    "registration_low__partner",
    "registration_low__end_customer",
    "registration_low__submitted_by",
    "registration_high__partner",
    "registration_high__end_customer",
    "registration_high__submitted_by",
    "winner",
    "resolved_by",
)


def conflict_list(*, status: str | None = ConflictStatus.OPEN, manager=None) -> QuerySet[Conflict]:
    """Conflicts for the staff queue (open ones by default), oldest first; with `manager`,
    those touching a partner the manager owns. Staff only — never expose to partners."""
    qs = Conflict.objects.select_related(*_CONFLICT_RELATED)
    if status:
        qs = qs.filter(status=status)
    if manager is not None:
        qs = qs.filter(Q(registration_low__partner__owner=manager) | Q(registration_high__partner__owner=manager))
    return qs.order_by("detected_at", "id")


def conflict_get(public_id) -> Conflict:
    """One conflict for staff pages, or Http404."""
    try:
        return Conflict.objects.select_related(*_CONFLICT_RELATED).get(public_id=public_id)
    except (Conflict.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such conflict.") from None


def conflicts_of(deal: DealRegistration) -> QuerySet[Conflict]:
    """Staff: every conflict a registration is part of."""
    return (
        Conflict.objects.select_related(*_CONFLICT_RELATED)
        .filter(Q(registration_low=deal) | Q(registration_high=deal))
        .order_by("detected_at", "id")
    )


@dataclass(frozen=True)
class ProposedResolution:
    outcome: str  # always "award"
    winner: DealRegistration
    rule: str  # "earliest_approved" | "earliest_submitted"


def conflict_proposed_resolution(conflict: Conflict) -> ProposedResolution:
    """The default rule: the earliest *approved* registration wins; when neither is approved
    (or both are, equally early), the earliest submitted by server time; ties by id."""
    low, high = conflict.registration_low, conflict.registration_high
    approved = [r for r in (low, high) if r.approved_at is not None]
    if approved:
        winner = min(approved, key=lambda r: (r.approved_at, r.submitted_at, r.pk))
        if len(approved) == 1 or low.approved_at != high.approved_at:
            return ProposedResolution(ConflictOutcome.AWARD, winner, "earliest_approved")
    winner = min((low, high), key=lambda r: (r.submitted_at, r.pk))
    return ProposedResolution(ConflictOutcome.AWARD, winner, "earliest_submitted")


# --- what a partner may know --------------------------------------------------------------


@dataclass(frozen=True)
class PartnerConflictSummary:
    """Partner-safe: whether another registration competes for this customer, and the
    outcome for *this* registration. Nothing about the other partner or its deal."""

    exists: bool
    open: bool
    # None while open or when there was none; else "won", "lost", "co_sell", "rejected", "closed".
    outcome: str | None


def conflict_summary_for_partner(deal: DealRegistration) -> PartnerConflictSummary:
    """One query. An open conflict wins over resolved ones; otherwise the latest resolution."""
    rows = list(
        Conflict.objects.filter(Q(registration_low=deal) | Q(registration_high=deal))
        .order_by("-resolved_at", "-id")
        .values_list("status", "outcome", "winner_id")
    )
    if not rows:
        return PartnerConflictSummary(exists=False, open=False, outcome=None)
    if any(status == ConflictStatus.OPEN for status, _o, _w in rows):
        return PartnerConflictSummary(exists=True, open=True, outcome=None)
    _status, outcome, winner_id = rows[0]
    mapped = {
        ConflictOutcome.CO_SELL: "co_sell",
        ConflictOutcome.REJECT_BOTH: "rejected",
        ConflictOutcome.LAPSED: "closed",
    }.get(outcome)
    if outcome == ConflictOutcome.AWARD:
        mapped = "won" if winner_id == deal.pk else "lost"
    return PartnerConflictSummary(exists=True, open=False, outcome=mapped)


# --- extensions, history, catalogue -------------------------------------------------------


def extension_queue() -> QuerySet[ProtectionExtension]:
    """Staff: pending extension requests, oldest first."""
    return (
        ProtectionExtension.objects.filter(status=ExtensionStatus.PENDING)
        .select_related("registration__partner", "registration__end_customer", "requested_by")
        .order_by("created_at", "id")
    )


def extension_get(public_id) -> ProtectionExtension:
    try:
        return ProtectionExtension.objects.select_related("registration__partner", "requested_by").get(
            public_id=public_id
        )
    except (ProtectionExtension.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such extension request.") from None


def extensions_of(deal: DealRegistration) -> QuerySet[ProtectionExtension]:
    """A registration's extension requests (partner-safe: its own), newest first."""
    return deal.extensions.select_related("requested_by", "decided_by").order_by("-created_at", "-id")


def deal_history(deal: DealRegistration) -> QuerySet[AuditLog]:
    """Staff: the audit trail of a registration, newest first."""
    return AuditLog.objects.filter(object_type=deal._meta.label_lower, object_id=str(deal.pk)).select_related("actor")


def product_choices() -> QuerySet[Product]:
    """Active products of active lines, for form choices."""
    return (
        Product.objects.filter(is_active=True, line__is_active=True)
        .select_related("line")
        .order_by("line__name", "name")
    )


def with_conflict_flag(qs: QuerySet[DealRegistration]) -> QuerySet[DealRegistration]:
    """Annotate `has_conflict` with one subquery, instead of a conflict query per row on lists."""
    return qs.annotate(
        has_conflict=Exists(
            Conflict.objects.filter(Q(registration_low=OuterRef("pk")) | Q(registration_high=OuterRef("pk")))
        )
    )


# The audit actions a partner may see on its registration's timeline, and whether the reason
# recorded with it was written for the partner. Anything else (escalations, conflict rows,
# staff notes) stays staff-only.
PARTNER_TIMELINE = {
    "deal.create": (gettext_lazy("Registered as a draft"), False),
    "deal.update": (gettext_lazy("Edited"), False),
    "deal.progress": (gettext_lazy("Progress updated"), False),
    "deal.submit": (gettext_lazy("Submitted for review"), False),
    "deal.resubmit": (gettext_lazy("Submitted again"), False),
    "deal.approve": (gettext_lazy("Approved"), True),
    "deal.reject": (gettext_lazy("Rejected"), True),
    "deal.reject_by_conflict": (gettext_lazy("Rejected after conflict review"), True),
    "deal.return": (gettext_lazy("Returned for more information"), True),
    "deal.extend": (gettext_lazy("Protection extended"), False),
    "deal.expire": (gettext_lazy("Protection expired"), False),
    "deal.won": (gettext_lazy("Marked as won"), False),
    "deal.lost": (gettext_lazy("Marked as lost"), True),
}


@dataclass(frozen=True)
class TimelineEntry:
    label: str
    at: object
    actor: str
    reason: str


def deal_history_for_partner(deal: DealRegistration) -> list[TimelineEntry]:
    """The registration's history as its partner may see it: action, time, who (their own
    people by name, the vendor's as "Vendor team") and only reasons addressed to the partner."""
    entries = []
    for row in deal_history(deal):
        if row.action not in PARTNER_TIMELINE:
            continue
        label, show_reason = PARTNER_TIMELINE[row.action]
        actor = row.actor
        if actor is None:
            who = _("System")
        elif actor.partner_id == deal.partner_id:
            who = actor.full_name
        else:
            who = _("Vendor team")
        entries.append(TimelineEntry(str(label), row.created_at, who, row.reason if show_reason else ""))
    return entries
