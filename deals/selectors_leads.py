"""Every read of leads, and who may see what.

Staff see every lead with its routing. A partner user sees the leads currently or previously
offered to its partner (any role of that partner), never whom else a lead was offered to nor
the routing: partner-facing code renders only the lead itself and `my_offer` (the partner's
own LeadOffer, attached by these selectors). Anything else is Http404.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Prefetch, Q, QuerySet
from django.utils import timezone

from deals.models import DealStatus, Lead, LeadOffer, LeadOfferStatus, LeadStatus, RoutingDecision, RoutingRule
from partners.selectors import get_or_404

_LIST_RELATED = ("end_customer", "product_line", "offered_to", "offered_to__tier", "routing_rule", "registration")


def _visible(user) -> QuerySet[Lead]:
    qs = Lead.objects.select_related(*_LIST_RELATED)
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_vendor_staff:
        return qs
    if user.is_partner_user and user.partner_id:
        return qs.filter(offers__partner_id=user.partner_id).prefetch_related(
            Prefetch("offers", queryset=LeadOffer.objects.filter(partner_id=user.partner_id), to_attr="_my_offers")
        )
    return qs.none()


def my_offer(lead: Lead):
    """The partner user's own offer of this lead (set by the selectors), or None."""
    offers = getattr(lead, "_my_offers", None)
    return offers[0] if offers else None


def partner_view_status(lead: Lead, offer) -> str:
    """What a partner may know of the lead: its own offer's status ("offered", "accepted",
    "declined", "expired", "withdrawn"), never what happened with other partners."""
    return offer.status if offer is not None else ""


def lead_list_for_user(*, user, filters: dict | None = None) -> QuerySet[Lead]:
    """Leads `user` may see, newest first, with customer/product line/offered_to loaded.

    Staff: every lead. Partner users (admin or rep): leads offered to their partner now or
    before; each has `my_offer` (use `my_offer(lead)`), and for them `status` filters on
    their own offer's status (offered, accepted, declined, expired, withdrawn).

    filters (all optional): status (value or list), country (ISO-2), product_line (id),
    q (reference or customer name), created_from / created_to (dates), age_days (created more
    than N days ago), source. Staff only: partner (id: currently offered to), rule (id).
    """
    f = filters or {}
    qs = _visible(user)
    staff = user is not None and user.is_authenticated and user.is_vendor_staff
    status = f.get("status")
    if status:
        values = [status] if isinstance(status, str) else list(status)
        if staff:
            qs = qs.filter(status__in=values)
        else:
            qs = qs.filter(offers__partner_id=user.partner_id, offers__status__in=values)
    if f.get("country"):
        qs = qs.filter(country=str(f["country"]).upper())
    if f.get("product_line"):
        qs = qs.filter(product_line_id=getattr(f["product_line"], "pk", f["product_line"]))
    if f.get("source"):
        qs = qs.filter(source=f["source"])
    if f.get("q"):
        q = str(f["q"]).strip()
        qs = qs.filter(Q(reference__iexact=q) | Q(customer_name__icontains=q))
    if f.get("created_from"):
        qs = qs.filter(created_at__date__gte=f["created_from"])
    if f.get("created_to"):
        qs = qs.filter(created_at__date__lte=f["created_to"])
    if f.get("age_days"):
        qs = qs.filter(created_at__lte=timezone.now() - dt.timedelta(days=int(f["age_days"])))
    if staff and f.get("partner"):
        qs = qs.filter(offered_to_id=getattr(f["partner"], "pk", f["partner"]))
    if staff and f.get("rule"):
        qs = qs.filter(routing_rule_id=getattr(f["rule"], "pk", f["rule"]))
    return qs.distinct().order_by("-created_at", "-id")


def lead_get_for_user(*, user, public_id) -> Lead:
    """One lead, or Http404. Staff: with `decisions` (partner, rule, actor) and `offers`
    (partner, responded_by) prefetched — the routing explanation. Partner users: only leads
    offered to their partner, with `my_offer(lead)`; never the decisions or other offers."""
    qs = _visible(user).prefetch_related("products")
    if user is not None and user.is_authenticated and user.is_vendor_staff:
        qs = qs.prefetch_related(
            Prefetch(
                "decisions",
                queryset=RoutingDecision.objects.select_related("partner", "rule", "actor").order_by("attempt"),
            ),
            Prefetch(
                "offers", queryset=LeadOffer.objects.select_related("partner", "responded_by").order_by("offered_at")
            ),
        )
    return get_or_404(qs.distinct(), public_id=public_id)


def lead_inbox(*, user) -> QuerySet[Lead]:
    """Open offers to the user's partner, soonest deadline first (cabinet inbox)."""
    if user is None or not user.is_authenticated or not user.is_partner_user or not user.partner_id:
        return Lead.objects.none()
    return (
        Lead.objects.filter(status=LeadStatus.OFFERED, offered_to_id=user.partner_id)
        .select_related("end_customer", "product_line")
        .order_by("offer_expires_at", "pk")
    )


def routing_rule_list() -> QuerySet[RoutingRule]:
    """All rules in order, with product lines and tiers prefetched."""
    return RoutingRule.objects.prefetch_related("product_lines", "tiers").order_by("position")


@dataclass(frozen=True)
class FairnessRow:
    partner_id: int
    partner_name: str
    offered: int
    accepted: int
    declined: int
    timed_out: int
    won: int
    median_hours_to_accept: float | None

    @property
    def acceptance_rate(self) -> float | None:
        answered = self.accepted + self.declined + self.timed_out
        return self.accepted / answered if answered else None

    @property
    def win_rate(self) -> float | None:
        return self.won / self.accepted if self.accepted else None


class _MedianHours(Aggregate):
    """percentile_cont(0.5) of an interval, in hours (Postgres ordered-set aggregate)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(expressions)s) / 3600.0)"
    output_field = FloatField()


def _offers_in(partners, since, until) -> QuerySet[LeadOffer]:
    qs = LeadOffer.objects.all()
    if partners is not None:
        qs = qs.filter(partner__in=partners)
    if since is not None:
        qs = qs.filter(offered_at__gte=since)
    if until is not None:
        qs = qs.filter(offered_at__lt=until)
    return qs


def fairness_stats(
    *, partners=None, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[FairnessRow]:
    """Per partner with at least one offer in [since, until): offered, accepted, declined,
    timed out, won (accepted leads whose registration is won), median hours to accept.
    One aggregate query. `partners`: a Partner queryset or ids to restrict to (None = all).
    Sorted by partner name."""
    accepted = Q(status=LeadOfferStatus.ACCEPTED)
    rows = (
        _offers_in(partners, since, until)
        .values("partner_id", "partner__name")
        .annotate(
            offered=Count("pk"),
            accepted=Count("pk", filter=accepted),
            declined=Count("pk", filter=Q(status=LeadOfferStatus.DECLINED)),
            timed_out=Count("pk", filter=Q(status=LeadOfferStatus.EXPIRED)),
            won=Count("pk", filter=accepted & Q(lead__registration__status=DealStatus.WON)),
            median=_MedianHours(
                ExpressionWrapper(F("responded_at") - F("offered_at"), output_field=DurationField()), filter=accepted
            ),
        )
        .order_by("partner__name", "partner_id")
    )
    return [
        FairnessRow(
            partner_id=r["partner_id"],
            partner_name=r["partner__name"],
            offered=r["offered"],
            accepted=r["accepted"],
            declined=r["declined"],
            timed_out=r["timed_out"],
            won=r["won"],
            median_hours_to_accept=round(r["median"], 2) if r["median"] is not None else None,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class LeadQueueCounts:
    unaccepted: int
    overdue: int
    unassigned: int


def lead_queue_counts(*, partners=None, now: dt.datetime | None = None) -> LeadQueueCounts:
    """Staff dashboard, one query: open offers (unaccepted), open offers past their deadline
    not yet re-routed (overdue), leads with no partner available (unassigned). `partners`
    restricts the first two (unassigned leads belong to nobody, so they are always counted)."""
    now = now or timezone.now()
    offered = Q(status=LeadStatus.OFFERED)
    if partners is not None:
        offered &= Q(offered_to__in=partners)
    counts = Lead.objects.filter(offered | Q(status=LeadStatus.UNASSIGNED)).aggregate(
        unaccepted=Count("pk", filter=offered),
        overdue=Count("pk", filter=offered & Q(offer_expires_at__lte=now)),
        unassigned=Count("pk", filter=Q(status=LeadStatus.UNASSIGNED)),
    )
    return LeadQueueCounts(**counts)


@dataclass(frozen=True)
class LeadFunnel:
    offered: int
    accepted: int
    won: int


def lead_funnel(*, partners=None, since: dt.datetime | None = None, until: dt.datetime | None = None) -> LeadFunnel:
    """Distinct leads offered in the period (to `partners`, when given) → accepted → won, one
    query, for a dashboard chart."""
    accepted = Q(status=LeadOfferStatus.ACCEPTED)
    counts = _offers_in(partners, since, until).aggregate(
        offered=Count("lead_id", distinct=True),
        accepted=Count("lead_id", distinct=True, filter=accepted),
        won=Count("lead_id", distinct=True, filter=accepted & Q(lead__registration__status=DealStatus.WON)),
    )
    return LeadFunnel(**counts)


def lead_queue_cards(user, partners) -> list:
    """Staff dashboard cards (prm.dashboard provider): unaccepted offers (urgent = past their
    deadline, waiting for the expiry job) and leads with no partner available. One query."""
    from django.urls import NoReverseMatch, reverse
    from django.utils.translation import gettext as _

    from prm.dashboard import QueueCard

    if user is None or not user.is_authenticated or not user.is_vendor_staff:
        return []
    counts = lead_queue_counts(partners=partners)
    try:
        base = reverse("staff:lead_list")
    except NoReverseMatch:  # the staff pages are not mounted (e.g. an API-only deployment)
        base = ""
    return [
        QueueCard(
            key="leads_unaccepted",
            title=_("Leads waiting for a partner's answer"),
            count=counts.unaccepted,
            url=f"{base}?status={LeadStatus.OFFERED}",
            urgent=counts.overdue,
            urgent_label=_("past the deadline"),
            order=30,
            icon="send",
        ),
        QueueCard(
            key="leads_unassigned",
            title=_("Leads with no partner available"),
            count=counts.unassigned,
            url=f"{base}?status={LeadStatus.UNASSIGNED}",
            urgent=counts.unassigned,
            urgent_label=_("need a partner"),
            order=31,
            icon="person-x",
        ),
    ]
