"""Routing leads inside a service's transaction: load what deals.routing needs, decide each
lead, write the decisions, offers, lead fields and audit rows in a few statements.

deals.services.leads locks the leads and calls `route_locked`. What routing reads is held by a
`Roster`: the active rules, and the active partners of the leads' countries with their open
offers, specialisations, effective weight and capacity and, when a rule uses boosts, their
accepted / declined / timed-out / won counts. A roster loads a country's partners once (one
query, plus one for the counts), whatever the number of partners or leads; the partners
abroad are loaded all at once, and only when a lead's country has nobody eligible.

A batch (leads_route_batch, leads_create_bulk) keeps one roster across its chunks: the
partners, rules and counts as they were when it was loaded, plus the offers the batch made
since — those count against capacity (`Roster.open_extra`). At the start of a chunk a roster
older than ROSTER_MAX_AGE seconds is reloaded (every earlier offer is written by then), so a
change made meanwhile (a partner suspended, a rule edited, a capacity lowered) reaches a
running batch within that time. Single routings and the expiry job (which closes offers
between chunks) load a fresh roster each time.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, models
from django.db.models import Count, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _lazy

from deals import routing
from deals.models import (
    DealStatus,
    Lead,
    LeadOffer,
    LeadOfferStatus,
    LeadStatus,
    PartnerSpecialisation,
    RoutingDecision,
    RoutingRule,
)
from partners.models import Partner, PartnerStatus
from prm.audit import audit_build, diff, snapshot
from prm.models import User

from ._common import notify, prm_setting

# How stale a batch's view of partners, rules and counts may get (seconds).
ROSTER_MAX_AGE = 30.0

AUDIT_FIELDS = [
    "status",
    "offered_to",
    "offer_expires_at",
    "routing_rule",
    "routing_attempts",
    "registration",
    "spam_flags",
    "closed_reason",
]


# The audited fields routing changes (never the registration, spam flags or closing reason):
# its audit rows diff only these.
_ROUTED_AUDIT_FIELDS = ["status", "offered_to", "offer_expires_at", "routing_rule", "routing_attempts"]


def lead_snapshot(lead: Lead) -> dict:
    return snapshot(lead, AUDIT_FIELDS)


def notification_url(namespace: str, name: str, public_id=None) -> str:
    """Link for a notification; empty while the page does not exist yet (pages are optional)."""
    try:
        if public_id is None:
            return reverse(f"{namespace}:{name}")
        return reverse(f"{namespace}:{name}", kwargs={"public_id": public_id})
    except NoReverseMatch:
        return ""


def default_acceptance_hours() -> int:
    return int(prm_setting("LEAD_ACCEPT_SLA_HOURS", 48))


# --- loading what routing needs -----------------------------------------------------------


def load_rules() -> list[routing.Rule]:
    rules = []
    for r in RoutingRule.objects.filter(is_active=True).prefetch_related("product_lines", "tiers").order_by("position"):
        pool = routing.Pool(
            rule_id=r.pk,
            rule_name=r.name,
            partner_types=frozenset(r.partner_types),
            tier_ids=frozenset(t.pk for t in r.tiers.all()),
            require_specialisation=r.require_specialisation,
            allow_abroad=r.allow_abroad,
            use_acceptance_boost=r.use_acceptance_boost,
            use_win_boost=r.use_win_boost,
            acceptance_hours=r.acceptance_hours,
        )
        rules.append(
            routing.Rule(
                pool=pool,
                countries=frozenset(c.upper() for c in r.countries),
                regions=frozenset(r.regions),
                product_line_ids=frozenset(p.pk for p in r.product_lines.all()),
                min_value=float(r.min_value) if r.min_value is not None else None,
                max_value=float(r.max_value) if r.max_value is not None else None,
            )
        )
    return rules


def _facts(lead: Lead) -> routing.LeadFacts:
    return routing.LeadFacts(
        country=lead.country,
        region=lead.region,
        latitude=float(lead.latitude) if lead.latitude is not None else None,
        longitude=float(lead.longitude) if lead.longitude is not None else None,
        product_line_id=lead.product_line_id,
        estimated_value=float(lead.estimated_value) if lead.estimated_value is not None else None,
    )


def candidate_rows(partner_filter: Q) -> list[dict]:
    """Active partners matching `partner_filter`, with open offers, specialisations and the
    effective weight/capacity inputs: ONE query. The open offers are counted through a join
    (each partner's offered leads by the offered_to index), not a correlated subquery, whose
    plan Postgres may base on the status index alone — one pass over every offered lead per
    partner — when its statistics predate a batch of offers."""
    specs = PartnerSpecialisation.objects.filter(partner=OuterRef("pk")).order_by().values("product_line_id")
    return list(
        Partner.objects.filter(partner_filter, status=PartnerStatus.ACTIVE)
        .annotate(
            open_leads=Count("offered_leads", filter=Q(offered_leads__status=LeadStatus.OFFERED)),
            spec_ids=ArraySubquery(specs),
        )
        .values(
            "pk",
            "public_id",
            "name",
            "country",
            "region",
            "partner_type",
            "tier_id",
            "latitude",
            "longitude",
            "lead_weight",
            "max_open_leads",
            "tier__lead_weight",
            "tier__max_open_leads",
            "open_leads",
            "spec_ids",
        )
        .order_by("pk")
    )


def _rates(partner_filter: Q) -> dict[int, dict]:
    """Past offers of the active partners matching `partner_filter`: accepted / declined /
    timed out / won per partner. One aggregate query."""
    partners = Partner.objects.filter(partner_filter, status=PartnerStatus.ACTIVE).values("pk")
    rows = (
        LeadOffer.objects.filter(partner__in=partners)
        .values("partner_id")
        .annotate(
            accepted=Count("pk", filter=Q(status=LeadOfferStatus.ACCEPTED)),
            declined=Count("pk", filter=Q(status=LeadOfferStatus.DECLINED)),
            timed_out=Count("pk", filter=Q(status=LeadOfferStatus.EXPIRED)),
            won=Count("pk", filter=Q(status=LeadOfferStatus.ACCEPTED, lead__registration__status=DealStatus.WON)),
        )
        .order_by()
    )
    return {r["partner_id"]: r for r in rows}


def to_candidate(row: dict, rates: dict[int, dict]) -> routing.Candidate:
    weight = row["lead_weight"]
    if weight is None:
        weight = row["tier__lead_weight"] if row["tier_id"] is not None else 1
    capacity = row["max_open_leads"] if row["max_open_leads"] is not None else row["tier__max_open_leads"]
    rate = rates.get(row["pk"], {})
    return routing.Candidate(
        partner_id=row["pk"],
        public_id=str(row["public_id"]),
        name=row["name"],
        country=row["country"],
        region=row["region"],
        partner_type=row["partner_type"],
        tier_id=row["tier_id"],
        latitude=float(row["latitude"]) if row["latitude"] is not None else None,
        longitude=float(row["longitude"]) if row["longitude"] is not None else None,
        weight=int(weight),
        open_leads=row["open_leads"],
        capacity=capacity,
        specialisations=frozenset(i for i in (row["spec_ids"] or []) if i is not None),
        accepted=rate.get("accepted", 0),
        declined=rate.get("declined", 0),
        timed_out=rate.get("timed_out", 0),
        won=rate.get("won", 0),
    )


class Roster:
    """The rules and candidates routing reads, loaded on demand and kept for many leads (see
    the module docstring). `open_extra`: offers made per partner since it was loaded."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._reload()

    def _reload(self) -> None:
        self.loaded_at = self._clock()
        self.rules = load_rules()
        self._boosts = any(r.pool.use_acceptance_boost or r.pool.use_win_boost for r in self.rules)
        self._by_country: dict[str, routing.CandidateSet] = {}
        self._everyone: routing.CandidateSet | None = None
        self.open_extra: defaultdict[int, int] = defaultdict(int)

    def refresh_if_stale(self) -> None:
        """Reload everything when older than ROSTER_MAX_AGE. Call it only between chunks, when
        every offer counted in `open_extra` is written (the reload reads them back)."""
        if self._clock() - self.loaded_at > ROSTER_MAX_AGE:
            self._reload()

    def _load(self, partner_filter: Q) -> dict[str, list[routing.Candidate]]:
        rates = _rates(partner_filter) if self._boosts else {}
        by_country: dict[str, list[routing.Candidate]] = defaultdict(list)
        for row in candidate_rows(partner_filter):
            by_country[row["country"]].append(to_candidate(row, rates))
        return by_country

    def load_countries(self, countries: set[str]) -> None:
        """Load the partners of the countries not loaded yet (one query, two with boosts)."""
        missing = {c for c in countries if c not in self._by_country}
        if not missing:
            return
        # Once everyone is loaded, a country not among them has no active partner.
        loaded = self._load(Q(country__in=missing)) if self._everyone is None else {}
        for country in missing:
            self._by_country[country] = routing.CandidateSet(loaded.get(country, []))

    def home(self, country: str) -> routing.CandidateSet:
        """The active partners of `country`."""
        if country not in self._by_country:
            self.load_countries({country})
        return self._by_country[country]

    def everyone(self) -> routing.CandidateSet:
        """Every active partner (the abroad band's pool); the partners of the countries not
        loaded yet are loaded now, at once."""
        if self._everyone is None:
            known = set(self._by_country)
            for country, candidates in self._load(~Q(country__in=known) if known else Q()).items():
                self._by_country[country] = routing.CandidateSet(candidates)
            self._everyone = routing.CandidateSet(c for cs in self._by_country.values() for c in cs.candidates)
        return self._everyone


# --- deciding and recording ---------------------------------------------------------------


def route_locked(
    leads: list[Lead],
    *,
    actor,
    rng: random.Random | None,
    now: dt.datetime,
    action: str = "lead.route",
    reason: str = "",
    roster: Roster | None = None,
) -> list[RoutingDecision]:
    """Route leads that are locked (or just created) in the current transaction and hold no
    open offer. Each lead is decided on its own: its own rule, its own past offers; only the
    partners' open-offer counts carry over (capacity), also into later calls with the same
    `roster`. Queries: past offers (1), plus what the roster loads (rules 3, each new set of
    countries 1-2, partners abroad ≤ 2), then one INSERT each of the decisions, offers and
    audit rows and one UPDATE of the leads for the whole list, plus the partner users (1) and
    the notification writes."""
    if not leads:
        return []
    rng = rng or random.Random()  # noqa: S311 - fair shuffling, not security
    if roster is None:
        roster = Roster()
    else:
        roster.refresh_if_stale()
    past: dict[int, set[int]] = defaultdict(set)
    for lead_id, partner_id in LeadOffer.objects.filter(lead__in=[lead.pk for lead in leads]).values_list(
        "lead_id", "partner_id"
    ):
        past[lead_id].add(partner_id)
    roster.load_countries({lead.country for lead in leads})
    open_extra = roster.open_extra
    decisions, items = [], []
    for lead in leads:
        lf = _facts(lead)
        pool = routing.match_rule(lf, roster.rules)
        excluded = past[lead.pk]
        outcome = routing.route(lf, roster.home(lead.country), pool, rng, excluded_ids=excluded, open_extra=open_extra)
        if outcome.partner_id is None and pool.allow_abroad and not _has_home_eligible(outcome):
            outcome = routing.route(lf, roster.everyone(), pool, rng, excluded_ids=excluded, open_extra=open_extra)
        decision, offer, audit = _decide(lead, outcome, actor=actor, now=now, action=action, reason=reason)
        if outcome.partner_id is not None:
            open_extra[outcome.partner_id] += 1
        items.append((lead, decision, offer, audit))
        decisions.append(decision)
    _persist(items)
    notify_offers([d for d in decisions if d.partner_id is not None])
    return decisions


def _has_home_eligible(outcome: routing.Outcome) -> bool:
    return outcome.band in (routing.BAND_COUNTRY, routing.BAND_DISTANCE)


def _hours(pool_hours: int | None) -> int:
    return int(pool_hours or default_acceptance_hours())


_LEAD_ROUTING_FIELDS = [
    "status",
    "status_changed_at",
    "offered_to",
    "offered_at",
    "offer_expires_at",
    "routing_rule",
    "routing_attempts",
    "updated_at",
]


def _decide(
    lead: Lead,
    outcome: routing.Outcome,
    *,
    actor,
    now: dt.datetime,
    action: str,
    reason: str = "",
    manual: bool = False,
) -> tuple[RoutingDecision, LeadOffer | None, dict]:
    """Apply an outcome to the lead in memory: the (unsaved) decision, offer and audit entry."""
    before = snapshot(lead, _ROUTED_AUDIT_FIELDS)
    pool = outcome.pool
    lead.routing_attempts += 1
    decision = RoutingDecision(
        lead=lead,
        attempt=lead.routing_attempts,
        rule_id=pool.rule_id,
        rule_name=pool.rule_name,
        band=outcome.band,
        partner_id=outcome.partner_id,
        candidates=outcome.candidates,
        candidate_count=outcome.candidate_count,
        exclusions=outcome.exclusions,
        draw=outcome.draw,
        manual=manual,
        reason=reason if manual else "",
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        created_at=now,
    )
    if not manual:
        lead.routing_rule_id = pool.rule_id
    lead.status_changed_at = now
    lead.updated_at = now
    offer = None
    if outcome.partner_id is not None:
        hours = _hours(pool.acceptance_hours)
        expires = now + dt.timedelta(hours=hours)
        offer = LeadOffer(
            lead=lead,
            partner_id=outcome.partner_id,
            offered_at=now,
            expires_at=expires,
            remind_at=now + dt.timedelta(hours=hours / 2),
            created_at=now,
        )
        lead.status = LeadStatus.OFFERED
        lead.offered_to_id = outcome.partner_id
        lead.offered_at = now
        lead.offer_expires_at = expires
    else:
        lead.status = LeadStatus.UNASSIGNED
        lead.offered_to_id = None
        lead.offered_at = None
        lead.offer_expires_at = None
    decision.offer = offer
    b, a = diff(before, snapshot(lead, _ROUTED_AUDIT_FIELDS))
    audit = {"actor": actor, "action": action, "instance": lead, "before": b, "after": a, "reason": reason}
    return decision, offer, audit


def _persist(items: list[tuple[Lead, RoutingDecision, LeadOffer | None, dict]]) -> None:
    """Write what _decide made for many leads: four statements, whatever their number."""
    if not items:
        return
    _insert_new([d for _lead, d, _o, _a in items])
    offers = []
    for _lead, decision, offer, _audit_entry in items:
        if offer is not None:
            offer.decision = decision
            offers.append(offer)
    _insert_new(offers)
    leads = [lead for lead, _d, _o, _a in items]
    if len(leads) == 1:
        leads[0].save(update_fields=_LEAD_ROUTING_FIELDS)
    else:
        _update_routing_fields(leads)
    _insert_new([audit_build(**a) for _lead, _d, _o, a in items])


def _insert_new(objs: list[models.Model]) -> None:
    """bulk_create without its per-row, per-field preparation, which cost more than routing the
    leads: one INSERT … SELECT FROM unnest(one array per column) RETURNING the keys, set on the
    instances in order (as bulk_create relies on, for its VALUES list). Values are taken as the
    instances hold them (auto_now fields set here, JSON dumped with the field's encoder); the
    models written here have no other field needing preparation."""
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    arrays = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            values = [f.pre_save(obj, add=True) for obj in objs]
        else:
            values = [getattr(obj, f.attname) for obj in objs]
        if isinstance(f, models.JSONField):
            values = [json.dumps(v, cls=f.encoder) for v in values]
        arrays.append(values)
    casts = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"SELECT * FROM unnest({casts}) RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        keys = cursor.fetchall()
    for obj, (pk,) in zip(objs, keys, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def _update_routing_fields(leads: list[Lead]) -> None:
    """One UPDATE … FROM (VALUES …) for many leads (Django's bulk_update builds a CASE per
    field and row, which costs more Python time than the routing itself)."""
    table = connection.ops.quote_name(Lead._meta.db_table)
    row = (
        "(%s, %s, %s::timestamptz, %s::bigint, %s::timestamptz, %s::timestamptz, %s::bigint, %s::int, %s::timestamptz)"
    )
    params = []
    for lead in leads:
        params += [
            lead.pk,
            lead.status,
            lead.status_changed_at,
            lead.offered_to_id,
            lead.offered_at,
            lead.offer_expires_at,
            lead.routing_rule_id,
            lead.routing_attempts,
            lead.updated_at,
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS l SET status = v.status, status_changed_at = v.sca, offered_to_id = v.ot, "  # noqa: S608
            "offered_at = v.oa, offer_expires_at = v.oe, routing_rule_id = v.rr, routing_attempts = v.ra, "
            f"updated_at = v.ua FROM (VALUES {', '.join([row] * len(leads))}) "
            "AS v(id, status, sca, ot, oa, oe, rr, ra, ua) WHERE l.id = v.id",
            params,
        )


def record(
    lead: Lead,
    outcome: routing.Outcome,
    *,
    actor,
    now: dt.datetime,
    action: str,
    reason: str = "",
    manual: bool = False,
) -> RoutingDecision:
    decision, offer, audit = _decide(lead, outcome, actor=actor, now=now, action=action, reason=reason, manual=manual)
    _persist([(lead, decision, offer, audit)])
    return decision


def notify_offers(decisions: list[RoutingDecision]) -> None:
    """Tell the partner's users about new offers (one query for the users of all partners)."""
    partner_ids = {d.partner_id for d in decisions}
    if not partner_ids:
        return
    users: dict[int, list[User]] = defaultdict(list)
    for user in User.objects.filter(partner_id__in=partner_ids, is_active=True).order_by("pk"):
        users[user.partner_id].append(user)
    for d in decisions:
        if not users.get(d.partner_id):
            continue
        lead, offer = d.lead, d.offer
        notify(
            users[d.partner_id],
            kind="lead.offered",
            key=f"lead-offer:{offer.pk}",
            title=_lazy("New lead %(reference)s: %(customer)s"),
            body=_lazy("Accept or decline it before %(due)s."),
            params={
                "reference": lead.reference,
                "customer": lead.customer_name,
                "due": timezone.localtime(offer.expires_at).strftime("%Y-%m-%d %H:%M"),
            },
            url=notification_url("cabinet", "lead_detail", lead.public_id),
        )
