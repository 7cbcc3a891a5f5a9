"""Leads from the vendor: create, route, offer, accept, decline, re-assign, remind, expire.

    new ─route→ offered ─accept→ accepted (an APPROVED DealRegistration of that partner)
     │            ├─decline (reason, spam?) ─┐
     │            └─timeout (beat task) ─────┴→ routed again at once → offered (next) | unassigned
     └─route→ unassigned ─route / reassign→ offered …                       (staff) → closed

Every function runs in one transaction, locks the leads it changes (select_for_update, leads
before offers, always in id order, so accept/decline/expire cannot deadlock), writes an audit
row per lead and sends notifications (e-mailed after commit). The routing itself is
deals.routing (pure); lead_routing.route_locked loads what it needs for a whole list of leads
with a fixed number of queries (rules, past offers, candidates, rates), whatever the number of
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

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from deals import routing
from deals.models import (
    LEAD_INPUT_MAX_LENGTHS,
    LEAD_REASON_MAX_LENGTH,
    DealRegistration,
    Lead,
    LeadImport,
    LeadImportStatus,
    LeadOffer,
    LeadOfferStatus,
    LeadReferenceCounter,
    LeadSource,
    LeadStatus,
    Product,
    ProductLine,
    RoutingBand,
    RoutingDecision,
)
from partners.models import Partner, PartnerStatus, Region
from prm.audit import audit_record, diff
from prm.events import publish_on_commit
from prm.exceptions import ApplicationError, PermissionDenied, StateError
from prm.models import Currency, User

from ._common import (
    claim_ids,
    full_clean_or_error,
    notify,
    prm_setting,
    require_max_length,
    require_staff,
    too_long_message,
)
from .customers import end_customer_get_or_create
from .lead_routing import (
    Roster,
    lead_snapshot,
    notification_url,
    notify_offers,
    record,
    route_locked,
)
from .registration import deal_create_approved_from_lead


def _snap(lead: Lead) -> dict:
    return lead_snapshot(lead)


def _audit(*, actor, action: str, lead: Lead, before: dict, reason: str = "") -> None:
    b, a = diff(before, _snap(lead))
    audit_record(actor=actor, action=action, instance=lead, before=b, after=a, reason=reason, partner_id=None)


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
    for name, limit in LEAD_INPUT_MAX_LENGTHS.items():
        if isinstance(data.get(name), str) and len(data[name]) > limit:
            errors[name] = [too_long_message(limit)]
    if not data.get("customer_name") and "customer_name" not in errors:
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
        customer_name=data["customer_name"],
        contact_name=data.get("contact_name") or "",
        contact_email=data.get("contact_email") or "",
        contact_phone=data.get("contact_phone") or "",
        country=data["country"],
        region=data["region"],
        city=data.get("city") or "",
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
    help find the shared EndCustomer). Text longer than LEAD_INPUT_MAX_LENGTHS (description
    4,000, contact phone 40 characters, …) is refused, never cut short. Raises
    ApplicationError(fields=…); nothing is written then.
    """
    if actor is not None:
        require_staff(actor)
    data = _clean(fields)
    with transaction.atomic():
        now = timezone.now()
        lead = _build(data, actor=actor, now=now, lead_import=None)
        if route:
            route_locked([lead], actor=actor, rng=rng, now=now)
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
                roster = Roster()
                for start in range(0, len(leads), 200):
                    route_locked(leads[start : start + 200], actor=actor, rng=rng, now=now, roster=roster)
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
    return require_max_length(reason, field="reason", limit=LEAD_REASON_MAX_LENGTH)


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
        (decision,) = route_locked([lead], actor=actor, rng=rng, now=now)
    return decision


def leads_route_batch(
    *, actor, leads: Iterable[Lead], rng: random.Random | None = None, chunk: int = 200
) -> list[RoutingDecision]:
    """Route many new / unassigned leads (others are skipped), in chunks of `chunk` leads, one
    transaction per chunk. Each lead is decided on its own (own rule, own past offers); only
    capacity carries over. The partners are loaded once for the batch (reloaded between chunks
    after lead_routing.ROSTER_MAX_AGE seconds). Returns the decisions made."""
    if actor is not None:
        require_staff(actor)
    ids = sorted({lead.pk if isinstance(lead, Lead) else int(lead) for lead in leads})
    decisions: list[RoutingDecision] = []
    roster = None
    for start in range(0, len(ids), chunk):
        with transaction.atomic():
            locked = list(
                Lead.objects.select_for_update(of=("self",))
                .filter(pk__in=ids[start : start + chunk], status__in=[LeadStatus.NEW, LeadStatus.UNASSIGNED])
                .order_by("pk")
            )
            if locked and roster is None:
                roster = Roster()
            decisions += route_locked(locked, actor=actor, rng=rng, now=timezone.now(), roster=roster)
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
        (decision,) = route_locked([lead], actor=None, rng=None, now=now, action="lead.reroute")
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
        decision = record(lead, outcome, actor=actor, now=now, action="lead.reassign", reason=reason, manual=True)
        notify_offers([decision])
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
                    url=notification_url("cabinet", "lead_detail", offer.lead.public_id),
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
            route_locked(leads, actor=None, rng=rng, now=now, action="lead.reroute")
