"""Demo data for the tier engine: certified people, exchange rates for the demo currencies
(if nobody seeded them), one partner's tier locked with a reason, and a year of real tier
history — the engine replayed month by month over the past year on the demo deals (and on the
sales records, when the sales demo ran before), so the tier report has promotions, at-risk
partners and demotions with the numbers that caused them.

Works with or without the sales demo: metrics come from whatever won deals, sales records
and certifications exist. The replayed months notify nobody (they are the past); the
changes of today's evaluation notify as the nightly job would (in-app only while seeding).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from partners.demo import NORTHWIND, DemoContext
from partners.models import Certification
from prm.models import Currency, ExchangeRate, User
from programs.models import ChangeKind, PartnerTierStatus, TierChange
from programs.services import tier_lock, tiers_evaluate
from programs.services.tiers import EVALUATED_STATUSES, tier_change_send_notifications

COURSES = [
    "Network Security Engineer",
    "Firewall Administrator",
    "Cloud Solutions Architect",
    "Sales Specialist",
    "SOC Analyst",
]
# How many certified people a partner of each tier has (range), before some certificates expire.
CERTIFIED_BY_TIER = {"registered": (0, 1), "silver": (1, 2), "gold": (3, 4), "platinum": (5, 6)}
# Units of RUB (the demo base currency) per unit of each currency: the deals demo's cross rates.
DEMO_RATES_TO_RUB = {
    Currency.USD: Decimal("90.74"),
    Currency.EUR: Decimal("98.00"),
    Currency.KZT: Decimal("0.1885"),
    Currency.BYN: Decimal("28.00"),
    Currency.CNY: Decimal("12.56"),
}
MONTHS = 12
LOCK_REASON = "Strategic account: tier kept while the joint data-centre project runs (board decision)."


def seed(ctx: DemoContext) -> None:
    _seed_rates(ctx)
    _seed_certifications(ctx)
    _lock_one(ctx)
    with _emails_paused():
        # The past year, month by month: promotions, at-risk notices and demotions as they happened.
        for months_ago in range(MONTHS, 0, -1):
            tiers_evaluate(now=ctx.now - datetime.timedelta(days=30 * months_ago), notify=False)
        summary = tiers_evaluate(now=ctx.now, notify=False)
        tier_change_send_notifications(change_ids=summary.change_ids)
    ctx.count("tier changes", TierChange.objects.count())
    ctx.count("partners at risk", PartnerTierStatus.objects.filter(at_risk_since__isnull=False).count())
    ctx.count("tier promotions", TierChange.objects.filter(kind=ChangeKind.PROMOTION).count())
    ctx.count("tier demotions", TierChange.objects.filter(kind=ChangeKind.DEMOTION).count())


class _emails_paused:
    """In-app notifications only while seeding (as in deals.demo)."""

    def __enter__(self):
        self.ids = list(User.objects.filter(email_notifications=True).values_list("pk", flat=True))
        User.objects.filter(pk__in=self.ids).update(email_notifications=False)

    def __exit__(self, *exc):
        User.objects.filter(pk__in=self.ids).update(email_notifications=True)


def _seed_rates(ctx: DemoContext) -> None:
    since = ctx.today - datetime.timedelta(days=3 * 365)
    have = set(ExchangeRate.objects.values_list("currency", flat=True))
    rows = [
        ExchangeRate(currency=currency, valid_from=since, rate=rate)
        for currency, rate in DEMO_RATES_TO_RUB.items()
        if currency not in have
    ]
    ExchangeRate.objects.bulk_create(rows)
    ctx.count("exchange rates", len(rows))


def _seed_certifications(ctx: DemoContext) -> None:
    """Certificates for the partners' people, unless an earlier section (sales) made some."""
    if Certification.objects.exists():
        return
    rng = ctx.rng
    rows = []
    for partner in ctx.partners:
        if partner.status not in EVALUATED_STATUSES:
            continue
        code = partner.tier.code if partner.tier_id else "registered"
        low, high = CERTIFIED_BY_TIER.get(code, (0, 1))
        people = [c for c in ctx.contacts.get(partner.pk, []) if c.is_active]
        for contact in people[: rng.randint(low, high)]:
            earned = ctx.today - datetime.timedelta(days=rng.randint(60, 900))
            # Two-year certificates: the older ones have expired (and no longer count).
            rows.append(
                Certification(
                    contact=contact,
                    course=rng.choice(COURSES),
                    certificate_number=f"CERT-{rng.randint(100000, 999999)}",
                    earned_on=earned,
                    expires_on=earned + datetime.timedelta(days=730),
                )
            )
    Certification.objects.bulk_create(rows, ignore_conflicts=True)
    ctx.count("certifications", len(rows))


def _lock_one(ctx: DemoContext) -> None:
    partner = next((p for p in ctx.partners if p.name == NORTHWIND), None)
    manager = ctx.users.get("manager@demo.prm")
    if partner is None or manager is None or partner.status not in EVALUATED_STATUSES:
        return
    tier_lock(actor=manager, partner=partner, reason=LOCK_REASON)
