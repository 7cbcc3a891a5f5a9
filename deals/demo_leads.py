"""Demo data for lead distribution: three routing rules, partner specialisations and ~600 vendor
leads over the past year in every status, plus live offers in the demo partners' inboxes.

Like deals.demo, two paths:

* History is decided by the real routing engine (`deals.routing.route`, seeded from ctx.rng,
  over the partners as the services load them) and bulk-inserted: leads, decisions with their
  breakdown, offers declined with reasons, timed out, withdrawn; unassigned and closed leads.
* Acceptances go through `services.lead_accept` with the clock set to the moment (so each
  becomes a real approved registration with its tier's protection), some of those registrations
  are then won or lost through the services, and the live offers (including Northwind's inbox)
  are created and routed by `services.lead_create`.

Runs after deals.demo.seed (it uses its end customers, product lines and partner log-ins).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Q

from deals import routing, services
from deals.demo import _Clock, _emails_paused
from deals.models import (
    EndCustomer,
    Lead,
    LeadOffer,
    LeadOfferStatus,
    LeadReferenceCounter,
    LeadSource,
    LeadStatus,
    PartnerSpecialisation,
    ProductLine,
    RoutingDecision,
    RoutingRule,
)
from deals.services.lead_routing import candidate_rows, default_acceptance_hours, load_rules, to_candidate
from partners.demo import BATCH, NORTHWIND, DemoContext
from partners.models import Partner, PartnerStatus, Tier
from prm.models import User

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
HISTORY = 600
LIVE_NORTHWIND = 5

DECLINE_REASONS = {
    "en": [
        "Outside our coverage area.",
        "No capacity this quarter.",
        "The customer already works with us through another channel.",
        "Budget is far below our minimum project size.",
        "Contact does not answer; the company looks inactive.",
        "We do not sell this product line.",
    ],
    "ru": [
        "Не наш регион, до заказчика больше 500 км.",
        "Нет свободных пресейлов в этом квартале.",
        "Заказчик уже работает с нами напрямую.",
        "Бюджет меньше нашего минимального проекта.",
        "Контакт не отвечает, компания похожа на неактивную.",
    ],
    "zh": [
        "不在我们的服务区域。",
        "本季度没有足够的售前资源。",
        "客户预算低于我们的最低项目规模。",
        "联系人无法联系上。",
    ],
}
SPAM_REASON = {"en": "Fake company and e-mail.", "ru": "Фейковая компания и почта.", "zh": "虚假公司和邮箱。"}
CLOSE_REASONS = [
    "Customer bought from a competitor before a partner was found.",
    "Duplicate of an earlier lead.",
    "Customer postponed the project indefinitely.",
]
FIRST_NAMES = {
    "en": ["James", "Sophie", "Daniel", "Laura", "Thomas", "Anna", "Peter", "Marie"],
    "ru": ["Алексей", "Мария", "Дмитрий", "Елена", "Сергей", "Ольга", "Игорь", "Наталья"],
    "zh": ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊"],
}


def _lang(country: str) -> str:
    if country == "CN":
        return "zh"
    if country in {"RU", "BY", "KZ", "UZ", "KG", "AM", "AZ"}:
        return "ru"
    return "en"


def seed(ctx: DemoContext) -> None:
    clock = _Clock(ctx.now)
    with _emails_paused():
        lines = list(ProductLine.objects.filter(is_active=True).order_by("pk"))
        _seed_rules(ctx, lines)
        _seed_specialisations(ctx, lines)
        accepted = _seed_history(ctx, lines)
        _accept(ctx, clock, accepted)
        # Registrations accepted long ago have lost protection (the beat job's work).
        with clock.at(ctx.now):
            services.deal_protection_expire(now=ctx.now)
        _seed_live(ctx, clock, lines)
        clock.finish()
    for status, label in LeadStatus.choices:
        ctx.count(f"leads: {str(label).lower()}", Lead.objects.filter(status=status).count())
    ctx.count("lead offers", LeadOffer.objects.count())


# --- configuration --------------------------------------------------------------------------


def _seed_rules(ctx: DemoContext, lines: list[ProductLine]) -> None:
    tiers = {t.code: t for t in Tier.objects.all()}
    big = RoutingRule.objects.create(
        name="Large deals to Gold and Platinum",
        position=10,
        min_value=Decimal("5000000"),
        require_specialisation=True,
        acceptance_hours=24,
        use_win_boost=True,
    )
    big.tiers.set([t for code, t in tiers.items() if code in ("gold", "platinum")])
    RoutingRule.objects.create(
        name="China: local partners only",
        position=20,
        countries=["CN"],
        allow_abroad=False,
        use_acceptance_boost=True,
    )
    RoutingRule.objects.create(name="Everyone else", position=100, use_acceptance_boost=True)
    ctx.count("routing rules", 3)


def _seed_specialisations(ctx: DemoContext, lines: list[ProductLine]) -> None:
    rng = ctx.rng
    rows = []
    for partner in Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("pk"):
        if rng.random() < 0.45:  # the rest are generalists (no specialisation = every line)
            for line in rng.sample(lines, k=min(len(lines), rng.choice((1, 1, 2)))):
                rows.append(PartnerSpecialisation(partner=partner, product_line=line, created_at=ctx.now - 200 * DAY))
    PartnerSpecialisation.objects.bulk_create(rows, batch_size=BATCH)
    ctx.count("partner specialisations", len(rows))


# --- history --------------------------------------------------------------------------------


def _value(rng, currency: str) -> Decimal:
    base = rng.lognormvariate(13.2, 1.0)  # ~ 500k RUB median
    factor = {"RUB": 1, "CNY": 0.08, "EUR": 0.01, "USD": 0.011}.get(currency, 1)
    return Decimal(round(base * factor, -2)).quantize(Decimal("1.00"))


def _seed_history(ctx: DemoContext, lines: list[ProductLine]) -> list[tuple[Lead, dt.datetime]]:
    """Bulk-insert the year's leads. Returns (lead, moment) for the offers to accept by service."""
    rng, now = ctx.rng, ctx.now
    rules = load_rules()
    rows = candidate_rows(Q())
    candidates = [to_candidate(r, {}) for r in rows]
    by_country: dict[str, list[routing.Candidate]] = defaultdict(list)
    for c in candidates:
        by_country[c.country].append(c)
    region_of = {r["country"]: r["region"] for r in rows}
    with_users = set(User.objects.filter(partner__isnull=False, is_active=True).values_list("partner_id", flat=True))
    customers = [
        c
        for c in EndCustomer.objects.exclude(country="").order_by("pk")
        if c.country in by_country or rng.random() < 0.1
    ]
    hours = default_acceptance_hours()
    year = now.year
    counter = LeadReferenceCounter.objects.filter(year=year).values_list("last_number", flat=True).first() or 0

    leads, plans = [], []
    for _ in range(HISTORY):
        customer = rng.choice(customers)
        country = customer.country
        lang = _lang(country)
        created = now - dt.timedelta(days=rng.uniform(3, 365))
        currency = {"ru": "RUB", "zh": "CNY"}.get(lang, "EUR")
        home = by_country.get(country, [])
        located = [c for c in home if c.latitude is not None]
        lat = lon = None
        if located and rng.random() < 0.6:
            anchor = rng.choice(located)
            lat, lon = anchor.latitude + rng.uniform(-0.3, 0.3), anchor.longitude + rng.uniform(-0.3, 0.3)
        counter += 1
        lead = Lead(
            public_id=ctx.uuid(),
            reference=f"L-{year}-{counter:05d}",
            end_customer=customer,
            customer_name=customer.name,
            contact_name=rng.choice(FIRST_NAMES[lang]),
            contact_email=f"info@{customer.domain}" if customer.domain else "",
            country=country,
            region=region_of.get(country, ""),
            city=customer.city,
            latitude=Decimal(str(round(lat, 6))) if lat is not None else None,
            longitude=Decimal(str(round(lon, 6))) if lon is not None else None,
            product_line=rng.choice(lines) if lines else None,
            estimated_value=_value(rng, currency),
            currency=currency,
            source=rng.choice([s for s in LeadSource.values if s != LeadSource.IMPORT]),
            description="",
            created_at=created,
            status_changed_at=created,
        )
        facts = routing.LeadFacts(
            country=country,
            region=lead.region,
            latitude=lat,
            longitude=lon,
            product_line_id=lead.product_line.pk if lead.product_line else None,
            estimated_value=float(lead.estimated_value),
        )
        pool = routing.match_rule(facts, rules)
        lead.routing_rule_id = pool.rule_id
        # Offer after offer, as the services would have: declines and timeouts move it on.
        decisions, offers, excluded, moment = [], [], set(), created
        final = None
        for attempt in range(1, 5):
            pool_candidates = home or [c for c in candidates if c.country != country]
            outcome = routing.route(facts, pool_candidates, pool, rng, excluded_ids=excluded)
            decisions.append((attempt, outcome, moment))
            if outcome.partner_id is None:
                final = LeadStatus.UNASSIGNED
                break
            window = dt.timedelta(hours=pool.acceptance_hours or hours)
            roll = rng.random()
            if roll < 0.15 and outcome.partner_id in with_users:
                answered = moment + window * rng.uniform(0.05, 0.9)
                offers.append((outcome.partner_id, moment, window, "accept", answered, attempt))
                final = LeadStatus.ACCEPTED
                break
            if roll < 0.7:
                answered = moment + window * rng.uniform(0.05, 0.9)
                offers.append((outcome.partner_id, moment, window, LeadOfferStatus.DECLINED, answered, attempt))
            else:
                answered = moment + window + rng.randint(1, 5) * 5 * dt.timedelta(minutes=1)
                offers.append((outcome.partner_id, moment, window, LeadOfferStatus.EXPIRED, answered, attempt))
            excluded.add(outcome.partner_id)
            moment = answered
            if attempt == 4 or rng.random() < 0.15:
                final = LeadStatus.CLOSED if rng.random() < 0.75 else LeadStatus.UNASSIGNED
                if final == LeadStatus.UNASSIGNED:
                    outcome = routing.Outcome(band=routing.BAND_NONE, partner_id=None, exclusions={}, pool=pool)
                    decisions.append((attempt + 1, outcome, moment))
                break
        lead.routing_attempts = len(decisions)
        leads.append(lead)
        plans.append((lead, final, decisions, offers, lang, moment))

    Lead.objects.bulk_create(leads, batch_size=BATCH)
    LeadReferenceCounter.objects.update_or_create(year=year, defaults={"last_number": counter})

    decision_rows, offer_specs = [], []
    for lead, final, decisions, offers, lang, _moment in plans:
        by_attempt = {}
        for attempt, outcome, moment in decisions:
            d = RoutingDecision(
                lead=lead,
                attempt=attempt,
                rule_id=outcome.pool.rule_id,
                rule_name=outcome.pool.rule_name,
                band=outcome.band,
                partner_id=outcome.partner_id,
                candidates=outcome.candidates,
                candidate_count=outcome.candidate_count,
                exclusions=outcome.exclusions,
                draw=outcome.draw,
                created_at=moment,
            )
            decision_rows.append(d)
            by_attempt[attempt] = d
        offer_specs.append((lead, final, offers, by_attempt, lang))
    RoutingDecision.objects.bulk_create(decision_rows, batch_size=BATCH)

    offer_rows, to_accept, lead_updates = [], [], []
    for lead, final, offers, by_attempt, lang in offer_specs:
        for partner_id, offered_at, window, outcome, answered, attempt in offers:
            offer = LeadOffer(
                lead=lead,
                partner_id=partner_id,
                decision=by_attempt[attempt],
                offered_at=offered_at,
                expires_at=offered_at + window,
                remind_at=offered_at + window / 2,
                created_at=offered_at,
            )
            if outcome == "accept":
                # Left open here; services.lead_accept turns it into a registration below.
                lead.status = LeadStatus.OFFERED
                lead.offered_to_id = partner_id
                lead.offered_at = offered_at
                lead.offer_expires_at = offered_at + window
                to_accept.append((lead, answered))
            else:
                offer.status = outcome
                offer.responded_at = answered
                if outcome == LeadOfferStatus.DECLINED:
                    spam = rng.random() < 0.08
                    offer.spam = spam
                    offer.decline_reason = SPAM_REASON[lang] if spam else rng.choice(DECLINE_REASONS[lang])
                    lead.spam_flags += int(spam)
                if outcome == LeadOfferStatus.EXPIRED:
                    offer.reminded_at = offered_at + window / 2
            offer_rows.append(offer)
        if final != LeadStatus.ACCEPTED:
            lead.status = final
            if final == LeadStatus.CLOSED:
                lead.closed_reason = rng.choice(CLOSE_REASONS)
        lead.status_changed_at = max([o[4] for o in offers], default=lead.created_at)
        lead_updates.append(lead)
    LeadOffer.objects.bulk_create(offer_rows, batch_size=BATCH)
    Lead.objects.bulk_update(
        lead_updates,
        [
            "status",
            "offered_to",
            "offered_at",
            "offer_expires_at",
            "closed_reason",
            "spam_flags",
            "status_changed_at",
        ],
        batch_size=BATCH,
    )
    ctx.count("leads (history)", len(leads))
    return to_accept


def _accept(ctx: DemoContext, clock: _Clock, accepted: list[tuple[Lead, dt.datetime]]) -> None:
    """Accept through the service at the moment it happened; some registrations are then won or lost."""
    rng = ctx.rng
    users: dict[int, list[User]] = defaultdict(list)
    for user in User.objects.filter(partner__isnull=False, is_active=True).order_by("pk"):
        users[user.partner_id].append(user)
    for lead, moment in sorted(accepted, key=lambda x: x[1]):
        user = rng.choice(users[lead.offered_to_id])
        with clock.at(moment):
            deal = services.lead_accept(user=user, lead=lead)
        age = ctx.now - moment
        if age > 45 * DAY:
            roll = rng.random()
            closed_at = moment + dt.timedelta(days=rng.randint(10, min(40, age.days - 1)))
            with clock.at(closed_at):
                if roll < 0.4:
                    amount = (deal.value * Decimal(str(rng.uniform(0.8, 1.1)))).quantize(Decimal("1.00"))
                    services.deal_mark_won(user=user, deal=deal, final_amount=amount)
                elif roll < 0.65:
                    services.deal_mark_lost(user=user, deal=deal, reason="Customer chose a competitor.")


# --- live offers ----------------------------------------------------------------------------


def _seed_live(ctx: DemoContext, clock: _Clock, lines: list[ProductLine]) -> None:
    """Leads created in the last two days through the services; Northwind's inbox gets some."""
    rng, now = ctx.rng, ctx.now
    northwind = Partner.objects.get(name=NORTHWIND)
    staff = User.objects.filter(email="manager@demo.prm").first()
    gb_names = [
        "Harrow & Finch Logistics",
        "Blackwater Analytics",
        "Kestrel Health Partners",
        "Thames Valley Foods",
        "Redbrick Architecture",
        "Oakridge Insurance Brokers",
        "Millbank Retail Group",
        "Pennine Water Services",
        "Albion Freight Ltd",
        "Cobalt Learning Trust",
        "Saltire Energy",
        "Wessex Print & Media",
    ]
    made = offered_to_northwind = 0
    for name in gb_names:
        if offered_to_northwind >= LIVE_NORTHWIND:
            break
        moment = now - dt.timedelta(hours=rng.uniform(1, 20))
        with clock.at(moment):
            lead = services.lead_create(
                actor=staff,
                rng=rng,
                customer_name=name,
                country="GB",
                region="europe",
                city="London",
                latitude=round(51.5072 + rng.uniform(-0.2, 0.2), 6),
                longitude=round(-0.1276 + rng.uniform(-0.2, 0.2), 6),
                product_line=rng.choice(lines).pk if lines else None,
                estimated_value=_value(rng, "EUR"),
                currency="EUR",
                source=LeadSource.WEB,
                contact_name=rng.choice(FIRST_NAMES["en"]),
            )
            if lead.offered_to_id != northwind.pk and lead.status == LeadStatus.OFFERED:
                # The channel manager knows Northwind covers London for this line.
                lead = services.lead_reassign(
                    actor=staff, lead=lead, partner=northwind, reason="Northwind covers London for this product line."
                ).lead
        made += 1
        offered_to_northwind += int(Lead.objects.filter(pk=lead.pk, offered_to=northwind).exists())
    # A few more live offers elsewhere, so the staff board has unaccepted leads everywhere.
    pool = list(EndCustomer.objects.exclude(country="").order_by("pk").values_list("pk", flat=True))
    customers = list(EndCustomer.objects.filter(pk__in=rng.sample(pool, k=min(25, len(pool)))).order_by("pk"))
    for customer in customers:
        moment = now - dt.timedelta(hours=rng.uniform(1, 40))
        with clock.at(moment):
            services.lead_create(
                actor=staff,
                rng=rng,
                customer_name=customer.name,
                customer_website=customer.website,
                customer_tax_id=customer.tax_id,
                country=customer.country,
                city=customer.city,
                product_line=rng.choice(lines).pk if lines else None,
                estimated_value=_value(rng, "RUB"),
                currency="RUB",
                source=rng.choice([LeadSource.EVENT, LeadSource.CAMPAIGN, LeadSource.WEB]),
            )
        made += 1
    ctx.count("leads (live, via services)", made)
