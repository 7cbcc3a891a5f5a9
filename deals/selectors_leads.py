"""Every read of leads, and who may see what.

Staff see every lead with its routing. A partner user sees the leads currently or previously
offered to its partner (any role of that partner), never whom else a lead was offered to nor
the routing: partner-facing code renders only the lead itself and `my_offer` (the partner's
own LeadOffer, attached by these selectors). Anything else is Http404.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from deals.models import Lead, RoutingRule


def lead_list_for_user(*, user, filters: dict | None = None) -> QuerySet[Lead]:
    """Leads `user` may see, newest first, with customer/product line/offered_to loaded.

    filters (all optional): status (value or list), country (ISO-2), product_line (id),
    q (reference or customer name), created_from / created_to (dates), age_days (older than N
    days), source. Staff only: partner (id: currently offered to), rule (id).
    """
    raise NotImplementedError


def lead_get_for_user(*, user, public_id) -> Lead:
    """One lead, or Http404. Staff: with decisions and offers prefetched (`decisions`,
    `offers`). Partner users: only leads offered to their partner; `lead.my_offer` is set."""
    raise NotImplementedError


def lead_inbox(*, user) -> QuerySet[Lead]:
    """Open offers to the user's partner, soonest deadline first (cabinet inbox)."""
    raise NotImplementedError


def routing_rule_list() -> QuerySet[RoutingRule]:
    """All rules in order, with product lines and tiers prefetched."""
    raise NotImplementedError


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


def fairness_stats(
    *, partners=None, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[FairnessRow]:
    """Per partner with at least one offer in [since, until): offered, accepted, declined,
    timed out, won (accepted leads whose registration is won), median hours to accept.
    One aggregate query. `partners`: a Partner queryset/ids to restrict to (None = all)."""
    raise NotImplementedError


@dataclass(frozen=True)
class LeadQueueCounts:
    unaccepted: int
    overdue: int
    unassigned: int


def lead_queue_counts(*, partners=None, now: dt.datetime | None = None) -> LeadQueueCounts:
    """Staff dashboard: open offers (unaccepted), open offers past their deadline not yet
    re-routed (overdue), leads with no partner (unassigned). `partners` restricts the first two."""
    raise NotImplementedError


@dataclass(frozen=True)
class LeadFunnel:
    offered: int
    accepted: int
    won: int


def lead_funnel(*, partners=None, since: dt.datetime | None = None, until: dt.datetime | None = None) -> LeadFunnel:
    """Leads offered in the period → accepted → won (distinct leads), for a dashboard chart."""
    raise NotImplementedError
