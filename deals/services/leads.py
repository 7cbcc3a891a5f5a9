"""Leads from the vendor: create, route, offer, accept, decline, re-assign, remind, expire.

    new ─route→ offered ─accept→ accepted (an APPROVED DealRegistration of that partner)
     │            ├─decline (reason, spam?) ─┐
     │            └─timeout (beat task) ─────┴→ routed again at once → offered (next) | unassigned
     └─route→ unassigned ─route / reassign→ offered …                       (staff) → closed

Every function runs in one transaction, locks the leads it changes (select_for_update, leads
before offers, always in id order, so accept/decline/expire cannot deadlock), writes an audit
row per lead and sends notifications (e-mailed after commit). The routing itself is
deals.routing (pure); `_route_locked` loads what it needs for a whole list of leads with a
fixed number of queries (rules, past offers, candidates, rates), whatever the number of
partners or leads, then decides each lead on its own.

Capacity (open offers per partner) is the one thing leads decided together share: a partner
offered a lead earlier in the same batch counts it against its capacity for the next.
Two concurrent routings (two separate transactions) may each fill a partner's last slot; the
beat task and batch routing run one at a time, so this is accepted, not locked against.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from deals import routing
from deals.models import (
    DealRegistration,
    DealStatus,
    Lead,
    LeadImport,
    LeadImportStatus,
    LeadOffer,
    LeadOfferStatus,
    LeadReferenceCounter,
    LeadSource,
    LeadStatus,
    PartnerSpecialisation,
    Product,
    ProductLine,
    RoutingBand,
    RoutingDecision,
    RoutingRule,
)
from partners.models import Partner, PartnerStatus, Region
from prm.audit import audit_record, audit_record_many, diff, snapshot
from prm.events import publish_on_commit
from prm.exceptions import ApplicationError, PermissionDenied, StateError
from prm.models import Currency, User

from ._common import claim_ids, full_clean_or_error, notify, prm_setting, require_staff
from .customers import end_customer_get_or_create
from .registration import deal_create_approved_from_lead

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


def _snap(lead: Lead) -> dict:
    return snapshot(lead, AUDIT_FIELDS)


def _audit(*, actor, action: str, lead: Lead, before: dict, reason: str = "") -> None:
    b, a = diff(before, _snap(lead))
    audit_record(actor=actor, action=action, instance=lead, before=b, after=a, reason=reason, partner_id=None)


def _url(namespace: str, name: str, public_id=None) -> str:
    """Link for a notification; empty while the page does not exist yet (pages are optional)."""
    try:
        if public_id is None:
            return reverse(f"{namespace}:{name}")
        return reverse(f"{namespace}:{name}", kwargs={"public_id": public_id})
    except NoReverseMatch:
        return ""


def default_acceptance_hours() -> int:
    return int(prm_setting("LEAD_ACCEPT_SLA_HOURS", 48))


# --- numbers ------------------------------------------------------------------------------


def _next_reference(now: dt.datetime) -> str:
    """L-<year>-<5+ digits>, from the year's counter row bumped by one atomic upsert (as deals)."""
    table = connection.ops.quote_name(LeadReferenceCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last_number, updated_at) VALUES (%s, 1, now()) "  # noqa: S608
            f"ON CONFLICT (year) DO UPDATE SET last_number = {table}.last_number + 1, updated_at = now() "
            "RETURNING last_number",
            [now.year],
        )
        number = cursor.fetchone()[0]
    return f"L-{now.year}-{number:05d}"


# --- input --------------------------------------------------------------------------------

_FIELDS = {
    "customer_name",
    "customer_website",
    "customer_tax_id",
    "contact_name",
    "contact_email",
    "contact_phone",
    "country",
    "region",
    "city",
    "latitude",
    "longitude",
    "product_line",
    "products",
    "estimated_value",
    "currency",
    "source",
    "description",
}


def _decimal_or_none(value, field: str, errors: dict, *, low=None, high=None) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip().replace(" ", "").replace(",", "."))
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append(_("Enter a number."))
        return None
    if not number.is_finite() or (low is not None and number < low) or (high is not None and number > high):
        errors.setdefault(field, []).append(_("This number is out of range."))
        return None
    return number


def _clean(fields: dict, *, lines: dict[int, ProductLine] | None = None) -> dict:
    """Validated, normalised lead fields, or ApplicationError listing every bad field."""
    unknown = set(fields) - _FIELDS
    if unknown:
        raise ApplicationError(_("Unknown fields: %(names)s.") % {"names": ", ".join(sorted(unknown))})
    errors: dict[str, list] = {}
    data = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}
    if not data.get("customer_name"):
        errors["customer_name"] = [_("This field is required.")]
    country = (data.get("country") or "").upper()
    if not (len(country) == 2 and country.isascii() and country.isalpha()):
        errors["country"] = [_("Use the two-letter country code, e.g. GB.")]
    data["country"] = country
    region = (data.get("region") or "").lower()
    if region and region not in Region.values:
        errors["region"] = [_("Unknown region.")]
    data["region"] = region
    lat = _decimal_or_none(data.get("latitude"), "latitude", errors, low=-90, high=90)
    lon = _decimal_or_none(data.get("longitude"), "longitude", errors, low=-180, high=180)
    if (lat is None) != (lon is None) and "latitude" not in errors and "longitude" not in errors:
        errors["latitude"] = [_("Give both latitude and longitude, or neither.")]
    data["latitude"], data["longitude"] = lat, lon
    data["estimated_value"] = _decimal_or_none(data.get("estimated_value"), "estimated_value", errors, low=0)
    currency = (data.get("currency") or prm_setting("BASE_CURRENCY", "RUB")).upper()
    if currency not in Currency.values:
        errors["currency"] = [_("Unknown currency.")]
    data["currency"] = currency
    source = data.get("source") or LeadSource.OTHER
    if source not in LeadSource.values:
        errors["source"] = [_("Unknown source.")]
    data["source"] = source
    line = data.get("product_line")
    if line not in (None, ""):
        line_id = line.pk if isinstance(line, ProductLine) else line
        try:
            line_id = int(line_id)
        except (TypeError, ValueError):
            line_id = None
        if lines is None:
            found = ProductLine.objects.filter(pk=line_id, is_active=True).first() if line_id else None
        else:
            found = lines.get(line_id)
        if found is None:
            errors["product_line"] = [_("Unknown product line.")]
        data["product_line"] = found
    else:
        data["product_line"] = None
    products = data.get("products") or []
    try:
        data["products"] = sorted({p.pk if isinstance(p, Product) else int(p) for p in products})
    except (TypeError, ValueError):
        errors["products"] = [_("Unknown product.")]
    if errors:
        raise ApplicationError(_("Please correct the lead's details."), fields=errors)
    return data


def _build(data: dict, *, actor, now: dt.datetime, lead_import: LeadImport | None) -> Lead:
    customer, _created = end_customer_get_or_create(
        name=data["customer_name"],
        website=data.get("customer_website") or "",
        email=data.get("contact_email") or "",
        tax_id=data.get("customer_tax_id") or "",
        country=data["country"],
        city=data.get("city") or "",
    )
    lead = Lead(
        reference=_next_reference(now),
        end_customer=customer,
        customer_name=data["customer_name"][:300],
        contact_name=(data.get("contact_name") or "")[:200],
        contact_email=data.get("contact_email") or "",
        contact_phone=(data.get("contact_phone") or "")[:50],
        country=data["country"],
        region=data["region"],
        city=(data.get("city") or "")[:120],
        latitude=data["latitude"],
        longitude=data["longitude"],
        product_line=data["product_line"],
        estimated_value=data["estimated_value"],
        currency=data["currency"],
        source=data["source"],
        description=data.get("description") or "",
        status=LeadStatus.NEW,
        status_changed_at=now,
        created_by=actor if actor is not None and getattr(actor, "pk", None) else None,
        lead_import=lead_import,
        created_at=now,
    )
    full_clean_or_error(lead, exclude=["end_customer", "product_line", "created_by", "lead_import", "products"])
    lead.save()
    if data["products"]:
        found = set(Product.objects.filter(pk__in=data["products"], is_active=True).values_list("pk", flat=True))
        if found != set(data["products"]):
            raise ApplicationError(
                _("Choose products from the catalogue."), fields={"products": [_("Unknown product.")]}
            )
        lead.products.set(data["products"])
    audit_record(actor=actor, action="lead.create", instance=lead, after=_snap(lead))
    return lead


def lead_create(*, actor, route: bool = True, rng: random.Random | None = None, **fields) -> Lead:
    """Create a lead (staff; `actor` None = system) and, with `route`, route it at once.

    fields: customer_name (required), country (ISO-2, required), contact_name, contact_email,
    contact_phone, region (partners Region value), city, latitude, longitude (both or neither),
    product_line (ProductLine or id), products (ids or Products), estimated_value (≥ 0),
    currency, source (LeadSource), description, customer_website, customer_tax_id (these two
    help find the shared EndCustomer). Raises ApplicationError(fields=…); nothing is written then.
    """
    if actor is not None:
        require_staff(actor)
    data = _clean(fields)
    with transaction.atomic():
        now = timezone.now()
        lead = _build(data, actor=actor, now=now, lead_import=None)
        if route:
            _route_locked([lead], actor=actor, rng=rng, now=now)
    return lead


def leads_create_bulk(
    *,
    actor,
    rows: list[dict],
    lead_import: LeadImport | None = None,
    progress: Callable[[int, int], None] | None = None,
    rng: random.Random | None = None,
    route: bool = True,
) -> list[Lead]:
    """Create (and route) every row, or none: one transaction. Each row holds lead_create's
    fields. Every row is checked first; any bad row → ApplicationError whose `fields` maps
    "row <n>" (1-based) → that row's messages, and nothing is created. `progress(done, total)`
    is called as rows are created (the caller decides how to publish it: writes inside this
    transaction are invisible to other connections). `lead_import`, when given, is marked
    running / done / failed with counts and errors (after the rollback on failure)."""
    require_staff(actor)
    lines = {line.pk: line for line in ProductLine.objects.filter(is_active=True)}
    total = len(rows)
    errors: dict[str, list] = {}
    cleaned: list[dict] = []
    for number, row in enumerate(rows, start=1):
        try:
            cleaned.append(_clean(dict(row), lines=lines))
        except ApplicationError as exc:
            messages = [f"{field}: {m}" for field, ms in (exc.fields or {}).items() for m in ms] or [exc.message]
            errors[f"row {number}"] = [str(m) for m in messages]
    if not rows:
        errors["rows"] = [_("The file has no leads.")]
    if errors:
        _import_finish(lead_import, status=LeadImportStatus.FAILED, total=total, created=0, errors=errors)
        raise ApplicationError(_("No lead was imported: correct the rows listed."), fields=errors)
    try:
        with transaction.atomic():
            now = timezone.now()
            leads = []
            for done, data in enumerate(cleaned, start=1):
                leads.append(_build(data, actor=actor, now=now, lead_import=lead_import))
                if progress is not None and (done % 50 == 0 or done == total):
                    progress(done, total)
            if route:
                for start in range(0, len(leads), 200):
                    _route_locked(leads[start : start + 200], actor=actor, rng=rng, now=now)
            _import_finish(lead_import, status=LeadImportStatus.DONE, total=total, created=len(leads), errors={})
    except ApplicationError as exc:
        _import_finish(
            lead_import,
            status=LeadImportStatus.FAILED,
            total=total,
            created=0,
            errors=exc.fields or {"": [exc.message]},
        )
        raise
    return leads


def _import_finish(lead_import: LeadImport | None, *, status: str, total: int, created: int, errors: dict) -> None:
    if lead_import is None:
        return
    lead_import.status = status
    lead_import.total = total
    lead_import.processed = total if status == LeadImportStatus.DONE else 0
    lead_import.created_count = created
    lead_import.errors = [{"row": k, "messages": [str(m) for m in v]} for k, v in errors.items()]
    lead_import.finished_at = timezone.now()
    lead_import.save(
        update_fields=["status", "total", "processed", "created_count", "errors", "finished_at", "updated_at"]
    )


# --- loading what routing needs (a fixed number of queries per call) ----------------------


def _rules() -> list[routing.Rule]:
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


def _candidate_rows(partner_filter: Q) -> list[dict]:
    """Active partners matching `partner_filter`, with open offers, specialisations and the
    effective weight/capacity inputs: ONE query (subqueries, no per-partner round trips)."""
    open_offers = (
        Lead.objects.filter(offered_to=OuterRef("pk"), status=LeadStatus.OFFERED)
        .order_by()
        .values("offered_to")
        .annotate(n=Count("pk"))
        .values("n")
    )
    specs = PartnerSpecialisation.objects.filter(partner=OuterRef("pk")).order_by().values("product_line_id")
    return list(
        Partner.objects.filter(partner_filter, status=PartnerStatus.ACTIVE)
        .annotate(
            open_leads=Coalesce(Subquery(open_offers, output_field=IntegerField()), 0),
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


def _rates(partner_ids: set[int]) -> dict[int, dict]:
    """Past offers per partner: accepted / declined / timed out / won. One aggregate query."""
    if not partner_ids:
        return {}
    rows = (
        LeadOffer.objects.filter(partner_id__in=partner_ids)
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


def _to_candidate(row: dict, open_delta: dict[int, int], rates: dict[int, dict]) -> routing.Candidate:
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
        open_leads=row["open_leads"] + open_delta.get(row["pk"], 0),
        capacity=capacity,
        specialisations=frozenset(i for i in (row["spec_ids"] or []) if i is not None),
        accepted=rate.get("accepted", 0),
        declined=rate.get("declined", 0),
        timed_out=rate.get("timed_out", 0),
        won=rate.get("won", 0),
    )


# --- deciding and recording ---------------------------------------------------------------


def _route_locked(
    leads: list[Lead],
    *,
    actor,
    rng: random.Random | None,
    now: dt.datetime,
    action: str = "lead.route",
    reason: str = "",
) -> list[RoutingDecision]:
    """Route leads that are locked (or just created) in the current transaction and hold no
    open offer. Each lead is decided on its own: its own rule, its own past offers; only the
    partners' open-offer counts carry over (capacity). Queries: rules (3), past offers (1),
    home candidates (1), abroad candidates (≤ 1), rates (≤ 1), then one INSERT each of the
    decisions, offers and audit rows and one UPDATE of the leads for the whole list, plus the
    partner users (1) and the notification writes."""
    if not leads:
        return []
    rng = rng or random.Random()  # noqa: S311 - fair shuffling, not security
    rules = _rules()
    past: dict[int, set[int]] = defaultdict(set)
    for lead_id, partner_id in LeadOffer.objects.filter(lead__in=[lead.pk for lead in leads]).values_list(
        "lead_id", "partner_id"
    ):
        past[lead_id].add(partner_id)
    facts = {lead.pk: _facts(lead) for lead in leads}
    pools = {lead.pk: routing.match_rule(facts[lead.pk], rules) for lead in leads}
    any_boost = any(p.use_acceptance_boost or p.use_win_boost for p in pools.values())
    countries = {lead.country for lead in leads}
    home_rows = _candidate_rows(Q(country__in=countries))
    by_country: dict[str, list[dict]] = defaultdict(list)
    for row in home_rows:
        by_country[row["country"]].append(row)
    rates = _rates({row["pk"] for row in home_rows}) if any_boost else {}
    # Offers made earlier in this list count against capacity (the one shared state).
    open_delta: dict[int, int] = defaultdict(int)
    decisions, items = [], []
    base: dict[str, list[routing.Candidate]] = {
        country: [_to_candidate(row, {}, rates) for row in country_rows] for country, country_rows in by_country.items()
    }
    abroad_base: list[routing.Candidate] | None = None
    for lead in leads:
        pool, lf = pools[lead.pk], facts[lead.pk]
        candidates = base.get(lead.country, [])
        outcome = routing.route(lf, candidates, pool, rng, excluded_ids=past[lead.pk], open_extra=open_delta)
        if outcome.partner_id is None and pool.allow_abroad and not _has_home_eligible(outcome):
            if abroad_base is None:
                # Only when some country has nobody: every active partner abroad, loaded once.
                abroad_rows = _candidate_rows(~Q(country__in=countries)) + home_rows
                if any_boost:
                    rates.update(_rates({row["pk"] for row in abroad_rows} - set(rates)))
                abroad_base = [_to_candidate(row, {}, rates) for row in abroad_rows]
            extra = [c for c in abroad_base if c.country != lead.country]
            outcome = routing.route(
                lf, candidates + extra, pool, rng, excluded_ids=past[lead.pk], open_extra=open_delta
            )
        decision, offer, audit = _decide(lead, outcome, actor=actor, now=now, action=action, reason=reason)
        if outcome.partner_id is not None:
            open_delta[outcome.partner_id] += 1
        items.append((lead, decision, offer, audit))
        decisions.append(decision)
    _persist(items)
    _notify_offers([d for d in decisions if d.partner_id is not None])
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
    before = _snap(lead)
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
    b, a = diff(before, _snap(lead))
    audit = {"actor": actor, "action": action, "instance": lead, "before": b, "after": a, "reason": reason}
    return decision, offer, audit


def _persist(items: list[tuple[Lead, RoutingDecision, LeadOffer | None, dict]]) -> None:
    """Write what _decide made for many leads: four statements, whatever their number."""
    if not items:
        return
    RoutingDecision.objects.bulk_create([d for _lead, d, _o, _a in items])
    offers = []
    for _lead, decision, offer, _audit_entry in items:
        if offer is not None:
            offer.decision = decision
            offers.append(offer)
    LeadOffer.objects.bulk_create(offers)
    leads = [lead for lead, _d, _o, _a in items]
    if len(leads) == 1:
        leads[0].save(update_fields=_LEAD_ROUTING_FIELDS)
    else:
        _update_routing_fields(leads)
    audit_record_many([a for _lead, _d, _o, a in items])


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


def _record(
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


def _notify_offers(decisions: list[RoutingDecision]) -> None:
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
            url=_url("cabinet", "lead_detail", lead.public_id),
        )


# --- locking ------------------------------------------------------------------------------


def _lock(lead: Lead | int) -> Lead:
    pk = lead.pk if isinstance(lead, Lead) else lead
    return Lead.objects.select_for_update(of=("self",)).select_related("offered_to", "offered_to__tier").get(pk=pk)


def _open_offer(lead: Lead) -> LeadOffer | None:
    return LeadOffer.objects.select_for_update().filter(lead=lead, status=LeadOfferStatus.OFFERED).first()


def _close_offer(lead: Lead, *, status: str, now: dt.datetime, user=None, reason: str = "", spam: bool = False):
    """End the open offer of a locked lead (conditional UPDATE: only an open one changes)."""
    changed = LeadOffer.objects.filter(lead=lead, status=LeadOfferStatus.OFFERED).update(
        status=status,
        responded_at=now,
        responded_by=user if user is not None and getattr(user, "pk", None) else None,
        decline_reason=reason,
        spam=spam,
        updated_at=now,
    )
    lead.offered_to = None
    lead.offered_at = None
    lead.offer_expires_at = None
    return changed


def _require_routable(lead: Lead) -> None:
    if lead.status in (LeadStatus.ACCEPTED, LeadStatus.CLOSED):
        raise StateError(
            _("This lead cannot be routed in its current status (%(status)s).") % {"status": lead.get_status_display()}
        )


def _require_offered_to_user(user, lead: Lead) -> None:
    if not (user and user.is_active and user.is_partner_user):
        raise PermissionDenied(_("Only the partner this lead is offered to can answer it."))
    if lead.status != LeadStatus.OFFERED or lead.offered_to_id != user.partner_id:
        if LeadOffer.objects.filter(lead=lead, partner_id=user.partner_id).exists():
            raise StateError(_("This lead is no longer offered to you."))
        raise PermissionDenied(_("Only the partner this lead is offered to can answer it."))


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Give a reason."), fields={"reason": [_("This field is required.")]})
    return reason


# --- the services -------------------------------------------------------------------------


def lead_route(*, actor, lead: Lead, rng: random.Random | None = None) -> RoutingDecision:
    """Route a lead (staff; `actor` None = system). New or unassigned leads are routed; an
    offered one has its open offer withdrawn first (that partner will not get it again).
    No partner available → the lead is `unassigned`, band "none" — not an error.
    StateError for accepted / closed leads."""
    if actor is not None:
        require_staff(actor)
    with transaction.atomic():
        lead = _lock(lead)
        _require_routable(lead)
        now = timezone.now()
        if lead.status == LeadStatus.OFFERED:
            _close_offer(lead, status=LeadOfferStatus.WITHDRAWN, now=now, user=actor, reason="")
        (decision,) = _route_locked([lead], actor=actor, rng=rng, now=now)
    return decision


def leads_route_batch(
    *, actor, leads: Iterable[Lead], rng: random.Random | None = None, chunk: int = 200
) -> list[RoutingDecision]:
    """Route many new / unassigned leads (others are skipped), in chunks of `chunk` leads, one
    transaction per chunk. Each lead is decided on its own (own rule, own past offers); only
    capacity carries over. Returns the decisions made."""
    if actor is not None:
        require_staff(actor)
    ids = sorted({lead.pk if isinstance(lead, Lead) else int(lead) for lead in leads})
    decisions: list[RoutingDecision] = []
    for start in range(0, len(ids), chunk):
        with transaction.atomic():
            locked = list(
                Lead.objects.select_for_update(of=("self",))
                .filter(pk__in=ids[start : start + chunk], status__in=[LeadStatus.NEW, LeadStatus.UNASSIGNED])
                .order_by("pk")
            )
            decisions += _route_locked(locked, actor=actor, rng=rng, now=timezone.now())
    return decisions


def lead_accept(*, user, lead: Lead) -> DealRegistration:
    """A user of the offered partner accepts before the offer expires: the lead becomes an
    APPROVED registration of that partner (registered by `user`) with its tier's protection.
    StateError when the offer ended (expired, re-routed); PermissionDenied for anyone else."""
    with transaction.atomic():
        lead = _lock(lead)
        _require_offered_to_user(user, lead)
        now = timezone.now()
        if now >= lead.offer_expires_at:
            raise StateError(_("The time to accept this lead has run out."))
        before = _snap(lead)
        partner = lead.offered_to
        deal = deal_create_approved_from_lead(
            user=user,
            partner=partner,
            end_customer=lead.end_customer,
            customer={"name": lead.customer_name, "country": lead.country, "city": lead.city},
            title=lead.customer_name,
            description=lead.description,
            value=lead.estimated_value,
            currency=lead.currency,
            product_ids=list(lead.products.values_list("pk", flat=True)),
            reference_note=_("From vendor lead %(reference)s.") % {"reference": lead.reference},
            now=now,
        )
        LeadOffer.objects.filter(lead=lead, status=LeadOfferStatus.OFFERED).update(
            status=LeadOfferStatus.ACCEPTED, responded_at=now, responded_by=user, updated_at=now
        )
        lead.status = LeadStatus.ACCEPTED
        lead.status_changed_at = now
        lead.accepted_at = now
        lead.registration = deal
        lead.offer_expires_at = None
        lead.save(
            update_fields=[
                "status",
                "status_changed_at",
                "accepted_at",
                "registration",
                "offer_expires_at",
                "updated_at",
            ]
        )
        _audit(actor=user, action="lead.accept", lead=lead, before=before)
        # Accepting is only possible before the offer expires, so every acceptance is within SLA.
        for offer_id in LeadOffer.objects.filter(
            lead=lead, partner=partner, status=LeadOfferStatus.ACCEPTED
        ).values_list("pk", flat=True):
            publish_on_commit("lead_accepted_in_sla", offer_id)
    return deal


def lead_decline(*, user, lead: Lead, reason: str, spam: bool = False) -> RoutingDecision:
    """A user of the offered partner declines (reason required; `spam` flags the lead). The
    lead is re-routed at once; that partner is never offered it again. Returns the new decision."""
    reason = _require_reason(reason)
    with transaction.atomic():
        lead = _lock(lead)
        _require_offered_to_user(user, lead)
        now = timezone.now()
        before = _snap(lead)
        _close_offer(lead, status=LeadOfferStatus.DECLINED, now=now, user=user, reason=reason, spam=bool(spam))
        if spam:
            lead.spam_flags += 1
            lead.save(update_fields=["spam_flags", "updated_at"])
        _audit(actor=user, action="lead.decline", lead=lead, before=before, reason=reason)
        (decision,) = _route_locked([lead], actor=None, rng=None, now=now, action="lead.reroute")
    return decision


def lead_reassign(*, actor, lead: Lead, partner, reason: str) -> RoutingDecision:
    """Staff offer a lead to a partner by hand (reason required, audited, a manual decision
    with band "manual"). Withdraws any open offer. Refused for a partner that is not active or
    that already had an offer of this lead (declined, timed out, withdrawn)."""
    require_staff(actor)
    reason = _require_reason(reason)
    with transaction.atomic():
        lead = _lock(lead)
        _require_routable(lead)
        partner = Partner.objects.get(pk=partner.pk if isinstance(partner, Partner) else partner)
        if partner.status != PartnerStatus.ACTIVE:
            raise ApplicationError(
                _("Only an active partner can receive leads."), fields={"partner": [_("Not active.")]}
            )
        if lead.offered_to_id == partner.pk:
            raise StateError(_("The lead is already offered to this partner."))
        if LeadOffer.objects.filter(lead=lead, partner=partner).exists():
            raise ApplicationError(
                _("This partner was already offered this lead."), fields={"partner": [_("Already offered.")]}
            )
        now = timezone.now()
        if lead.status == LeadStatus.OFFERED:
            _close_offer(lead, status=LeadOfferStatus.WITHDRAWN, now=now, user=actor)
        rule = lead.routing_rule
        pool = routing.Pool(
            rule_id=rule.pk if rule else None,
            rule_name=rule.name if rule else "",
            acceptance_hours=rule.acceptance_hours if rule else None,
        )
        outcome = routing.Outcome(
            band=RoutingBand.MANUAL,
            partner_id=partner.pk,
            candidates=[{"partner_id": partner.pk, "public_id": str(partner.public_id), "name": partner.name}],
            exclusions={},
            pool=pool,
            candidate_count=None,
        )
        decision = _record(lead, outcome, actor=actor, now=now, action="lead.reassign", reason=reason, manual=True)
        _notify_offers([decision])
    return decision


def lead_close(*, actor, lead: Lead, reason: str) -> Lead:
    """Staff close a lead that is not accepted (reason required); withdraws an open offer."""
    require_staff(actor)
    reason = _require_reason(reason)
    with transaction.atomic():
        lead = _lock(lead)
        _require_routable(lead)
        now = timezone.now()
        before = _snap(lead)
        if lead.status == LeadStatus.OFFERED:
            _close_offer(lead, status=LeadOfferStatus.WITHDRAWN, now=now, user=actor)
        lead.status = LeadStatus.CLOSED
        lead.status_changed_at = now
        lead.closed_reason = reason
        lead.save(
            update_fields=[
                "status",
                "status_changed_at",
                "closed_reason",
                "offered_to",
                "offered_at",
                "offer_expires_at",
                "updated_at",
            ]
        )
        _audit(actor=actor, action="lead.close", lead=lead, before=before, reason=reason)
    return lead


# --- beat jobs ----------------------------------------------------------------------------


def lead_offers_remind(*, now: dt.datetime | None = None, chunk: int = 500) -> int:
    """Beat job: remind the partner's users of open offers past half time, once per offer
    (claimed with skip-locked + conditional UPDATE; the notification key is the offer).
    Returns the number of offers reminded."""
    now = now or timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            ids = claim_ids(
                LeadOffer.objects.filter(
                    status=LeadOfferStatus.OFFERED, reminded_at__isnull=True, remind_at__lte=now, expires_at__gt=now
                ),
                limit=chunk,
            )
            if not ids:
                return sent
            LeadOffer.objects.filter(pk__in=ids, reminded_at__isnull=True).update(reminded_at=now, updated_at=now)
            offers = list(LeadOffer.objects.filter(pk__in=ids).select_related("lead").order_by("pk"))
            users: dict[int, list[User]] = defaultdict(list)
            for user in User.objects.filter(partner_id__in={o.partner_id for o in offers}, is_active=True).order_by(
                "pk"
            ):
                users[user.partner_id].append(user)
            for offer in offers:
                notify(
                    users.get(offer.partner_id, []),
                    kind="lead.reminder",
                    key=f"lead-offer-remind:{offer.pk}",
                    title=_lazy("Lead %(reference)s waits for your answer"),
                    body=_lazy("Accept or decline it before %(due)s, or it goes to another partner."),
                    params={
                        "reference": offer.lead.reference,
                        "due": timezone.localtime(offer.expires_at).strftime("%Y-%m-%d %H:%M"),
                    },
                    url=_url("cabinet", "lead_detail", offer.lead.public_id),
                )
            sent += len(offers)


def lead_offers_expire(*, now: dt.datetime | None = None, chunk: int = 200, rng: random.Random | None = None) -> int:
    """Beat job: time out open offers past their deadline and re-route those leads. Safe to run
    twice and concurrently: leads are claimed FOR UPDATE SKIP LOCKED (a second worker takes
    others or none), and each claimed lead is re-checked under its lock, so an offer expires
    once and a lead gets one new offer. Returns the number of offers expired."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            ids = claim_ids(Lead.objects.filter(status=LeadStatus.OFFERED, offer_expires_at__lte=now), limit=chunk)
            if not ids:
                return expired
            leads = list(
                Lead.objects.filter(pk__in=ids, status=LeadStatus.OFFERED, offer_expires_at__lte=now).order_by("pk")
            )
            for lead in leads:
                before = _snap(lead)
                expired += _close_offer(lead, status=LeadOfferStatus.EXPIRED, now=now)
                _audit(actor=None, action="lead.offer_expired", lead=lead, before=before)
            _route_locked(leads, actor=None, rng=rng, now=now, action="lead.reroute")
