"""Leads from the vendor: create, route, offer, accept, decline, re-assign, remind, expire.

    new ─route→ offered ─accept→ accepted (an APPROVED DealRegistration of that partner)
     │            ├─decline (reason, spam?) ─┐
     │            └─timeout (beat task) ─────┴→ routed again at once → offered (next) | unassigned
     └─route→ unassigned ─route / reassign→ offered …

Every function runs in one transaction, locks the lead (select_for_update), writes an audit
row and sends notifications after commit. The routing itself is deals.routing (pure); this
module loads the candidates with a bounded number of queries and stores the decision.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable

from deals.models import DealRegistration, Lead, LeadImport, RoutingDecision


def lead_create(*, actor, route: bool = True, rng: random.Random | None = None, **fields) -> Lead:
    """Create a lead (staff; `actor` None = system/import) and, with `route`, route it at once.

    fields: customer_name (required), country (ISO-2, required), contact_name, contact_email,
    contact_phone, region, city, latitude, longitude, product_line (ProductLine|id|None),
    products (ids or Products), estimated_value, currency, source, description,
    customer_website, customer_tax_id (used to find/create the EndCustomer).
    Raises ApplicationError(fields=…) on bad input; nothing is written then.
    """
    raise NotImplementedError


def leads_create_bulk(
    *,
    actor,
    rows: list[dict],
    lead_import: LeadImport | None = None,
    progress: Callable[[int, int], None] | None = None,
    rng: random.Random | None = None,
) -> list[Lead]:
    """Create (and route) every row, or none: one transaction. Each row is lead_create's fields.
    On any bad row raises ApplicationError whose `fields` maps "row <n>" → messages (1-based),
    after checking every row (so the user sees all errors at once). `progress(done, total)` is
    called every few rows; `lead_import` is updated (status, counts, errors) when given."""
    raise NotImplementedError


def lead_route(*, actor, lead: Lead, rng: random.Random | None = None) -> RoutingDecision:
    """Route a lead that is new or unassigned (or offered: withdraws the open offer first when
    `actor` is staff): picks a partner with deals.routing, stores the decision, creates the
    offer and notifies the partner. No partner available → lead `unassigned`, decision band
    "none" (not an error). StateError for accepted / closed leads."""
    raise NotImplementedError


def leads_route_batch(*, actor, leads: Iterable[Lead], rng: random.Random | None = None) -> list[RoutingDecision]:
    """Route many leads; each is decided on its own (its own transaction, own exclusions)."""
    raise NotImplementedError


def lead_accept(*, user, lead: Lead) -> DealRegistration:
    """A user of the offered partner accepts before the offer expires: the lead becomes an
    APPROVED registration of that partner with its tier's protection. StateError when the
    offer is gone or expired; Http404-style PermissionDenied for any other user."""
    raise NotImplementedError


def lead_decline(*, user, lead: Lead, reason: str, spam: bool = False) -> RoutingDecision:
    """A user of the offered partner declines (reason required; `spam` flags the lead). The
    lead is re-routed at once; that partner is never offered it again. Returns the new decision."""
    raise NotImplementedError


def lead_reassign(*, actor, lead: Lead, partner, reason: str) -> RoutingDecision:
    """Staff assign a lead to a partner by hand (reason required, audited, a manual decision).
    Withdraws any open offer. A partner that already had an offer of this lead is refused."""
    raise NotImplementedError


def lead_close(*, actor, lead: Lead, reason: str) -> Lead:
    """Staff close a lead that is not accepted (reason required); withdraws an open offer."""
    raise NotImplementedError


def lead_offers_remind(*, now: dt.datetime | None = None, chunk: int = 500) -> int:
    """Beat job: remind the partner of open offers past half time, once per offer. Returns count."""
    raise NotImplementedError


def lead_offers_expire(*, now: dt.datetime | None = None, chunk: int = 200, rng: random.Random | None = None) -> int:
    """Beat job: time out open offers past their deadline and re-route those leads. Safe to run
    twice and concurrently (skip-locked claims): each offer expires once, never double-offers.
    Returns the number of offers expired."""
    raise NotImplementedError
