"""Demo data for sales records and certifications (runs right after deals.demo.seed).

* Exchange rates: one a month for 37 months for every currency, so base-currency reports work.
* Sell-in: 36 months of invoices for every active partner (from the month it joined), with a
  trend of its own (shrinking to fast-growing), a clear seasonality (Q4 peak, summer dip,
  January low) and a purchase rhythm of its own — monthly, every two months or quarterly — so
  reorder reminders have an interval to learn. Products from the demo catalogue, currencies by
  the partner's country, an occasional return (a negative record linked like the service does).
* Sell-out: monthly reports for part of the partners (resale value, smoother than sell-in), and
  a few returns against recent reports (Northwind's among them), whose points the ledger section
  claws back.
* Certifications for partners' people: courses named in Russian, English or Chinese by the
  partner's region, two-year validity (some never expire); some expired, some expiring
  within 30 days.

Set-based (bulk_create, no audit rows: this is history, not someone's action), deterministic
from ctx.rng, every date relative to ctx.today.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal

from deals.models import Product, SalesKind, SalesRecord, SalesSource
from partners.demo import BATCH, NORTHWIND, DemoContext
from partners.models import Certification, PartnerStatus, Region
from prm.models import Currency, ExchangeRate, Role, User

MONTHS = 36
# Units of each currency per euro (the deals demo's table), and the base currency's (RUB) view.
PER_EUR = {
    Currency.EUR: Decimal("1"),
    Currency.USD: Decimal("1.08"),
    Currency.RUB: Decimal("98"),
    Currency.KZT: Decimal("520"),
    Currency.BYN: Decimal("3.5"),
    Currency.CNY: Decimal("7.8"),
}
# Calendar-month demand: January low, summer dip, Q4 peak (December highest: year-end budgets).
SEASON = {1: 0.55, 2: 0.8, 3: 1.0, 4: 0.95, 5: 0.95, 6: 0.8, 7: 0.65, 8: 0.65, 9: 1.0, 10: 1.15, 11: 1.35, 12: 1.7}
RHYTHMS = ((1, 0.55), (2, 0.15), (3, 0.30))  # purchase every N months, share of partners
COURSES = [
    # (Russian, English, Chinese), validity in years (None: never expires)
    (("Сетевой специалист", "Network Specialist", "网络专家"), 2),
    (("Инженер по безопасности", "Security Engineer", "安全工程师"), 2),
    (("Облачный архитектор", "Cloud Architect", "云架构师"), 2),
    (("Основы продаж решений", "Solution Sales Fundamentals", "解决方案销售基础"), None),
    (("Специалист по внедрению", "Implementation Specialist", "实施专家"), 3),
    (("Технический пресейл", "Technical Presales", "售前技术顾问"), 2),
]


def _month_add(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _currency(partner) -> str:
    if partner.region == Region.CHINA:
        return Currency.CNY
    if partner.region == Region.EUROPE:
        return Currency.EUR
    return {"KZ": Currency.KZT, "BY": Currency.BYN}.get(partner.country, Currency.RUB)


def _language(partner) -> int:
    if partner.region == Region.CHINA:
        return 2
    if partner.region == Region.EUROPE:
        return 1
    return 0


def seed(ctx: DemoContext) -> None:
    _seed_rates(ctx)
    _seed_sales(ctx)
    _seed_certifications(ctx)


def _seed_rates(ctx: DemoContext) -> None:
    start = _month_add(ctx.today.replace(day=1), -MONTHS)
    rows = []
    for currency, per_eur in PER_EUR.items():
        if currency == Currency.RUB:
            continue
        drift = 0.0
        for m in range(MONTHS + 1):
            drift += ctx.rng.uniform(-0.02, 0.02)
            rate = PER_EUR[Currency.RUB] / per_eur * Decimal(str(round(math.exp(drift), 4)))
            rows.append(
                ExchangeRate(currency=currency, valid_from=_month_add(start, m), rate=rate.quantize(Decimal("0.0001")))
            )
    # A second run (or another section's rates) must not fail on the one-rate-per-day rule.
    ExchangeRate.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
    ctx.count("exchange rates", len(rows))


def _seed_sales(ctx: DemoContext) -> None:
    rng, today = ctx.rng, ctx.today
    products = list(Product.objects.filter(is_active=True).order_by("pk"))
    if not products:
        return
    # A list price per product (EUR), fixed for the demo.
    prices = {p.pk: Decimal(rng.choice((150, 300, 450, 800, 1200, 2500, 4000))) for p in products}
    first_month = _month_add(today.replace(day=1), -(MONTHS - 1))
    active = [p for p in ctx.partners if p.status == PartnerStatus.ACTIVE]
    admins = dict(
        User.objects.filter(role=Role.PARTNER_ADMIN, partner__in=active, is_active=True)
        .order_by("partner_id", "pk")
        .values_list("partner_id", "pk")
    )
    records: list[SalesRecord] = []
    returns: list[tuple[SalesRecord, dt.date, float]] = []
    for partner in active:
        currency = _currency(partner)
        per_eur = PER_EUR[currency]
        size = rng.lognormvariate(math.log(12_000), 0.8) * (1 + 0.5 * (partner.tier.rank if partner.tier else 0))
        growth = rng.uniform(-0.10, 0.40)  # per year
        period = rng.choices([r for r, _ in RHYTHMS], weights=[w for _, w in RHYTHMS])[0]
        offset = rng.randrange(period)
        line_products = rng.sample(products, k=min(len(products), rng.randint(2, 5)))
        reports_sell_out = rng.random() < 0.45
        joined = partner.created_at.date().replace(day=1) if partner.created_at else first_month
        start = max(first_month, joined)
        # Dormant partners (partners demo) went quiet: no purchases or reports for 3+ months.
        quiet_from = _month_add(today.replace(day=1), -3) if partner.is_dormant else None
        for m in range(MONTHS):
            month = _month_add(first_month, m)
            if month < start or (quiet_from and month >= quiet_from):
                continue
            years_from_now = (MONTHS - 1 - m) / 12
            demand = size * SEASON[month.month] * (1 + growth) ** (-years_from_now) * rng.uniform(0.85, 1.15)
            if (m + offset) % period == 0:
                # One purchase covering the next `period` months, split over one to three invoices.
                day = month.replace(day=rng.randint(2, 26))
                if day <= today:
                    lines = rng.randint(1, 3)
                    for k in range(lines):
                        product = rng.choice(line_products)
                        eur = Decimal(str(demand * period / lines))
                        quantity = max(1, int(eur / prices[product.pk]))
                        amount = (eur * per_eur).quantize(Decimal("0.01"))
                        record = SalesRecord(
                            public_id=ctx.uuid(),
                            partner=partner,
                            kind=SalesKind.SELL_IN,
                            occurred_on=day,
                            reference=f"INV-{day:%Y%m}-{partner.pk:05d}-{k + 1}",
                            product=product,
                            quantity=quantity,
                            amount=amount,
                            currency=currency,
                            source=SalesSource.CSV,
                            created_at=ctx.at(day),
                        )
                        records.append(record)
                        if rng.random() < 0.025:
                            returns.append((record, day + dt.timedelta(days=rng.randint(5, 40)), rng.uniform(0.1, 1)))
            if reports_sell_out:
                day = _month_add(month, 1) - dt.timedelta(days=1)  # reported for the month, on its last day
                if day < today:
                    eur = Decimal(str(demand * 1.25 * rng.uniform(0.9, 1.1)))
                    records.append(
                        SalesRecord(
                            public_id=ctx.uuid(),
                            partner=partner,
                            kind=SalesKind.SELL_OUT,
                            occurred_on=day,
                            reference=f"SO-{day:%Y%m}",
                            amount=(eur * per_eur).quantize(Decimal("0.01")),
                            currency=currency,
                            source=rng.choice((SalesSource.MANUAL, SalesSource.CSV)),
                            entered_by_id=admins.get(partner.pk),
                            note="Monthly sell-out report",
                            created_at=ctx.at(min(day + dt.timedelta(days=3), today)),
                        )
                    )
    # Returns: negative records linked by reference and note, as sales_record_return writes them.
    quiet_from = _month_add(today.replace(day=1), -3)
    for original, day, share in returns:
        if day > today or (original.partner.is_dormant and day >= quiet_from):
            continue
        quantity = max(1, round(original.quantity * share))
        amount = (original.amount * quantity / original.quantity).quantize(Decimal("0.01"))
        records.append(
            SalesRecord(
                public_id=ctx.uuid(),
                partner=original.partner,
                kind=original.kind,
                occurred_on=day,
                reference=f"R-{original.public_id.hex}-1",
                product=original.product,
                quantity=-quantity,
                amount=-amount,
                currency=original.currency,
                source=SalesSource.MANUAL,
                note=f"Return of {original.reference}: damaged in transit"[:300],
                created_at=ctx.at(day),
            )
        )
    records += _sell_out_returns(ctx, [r for r in records if r.kind == SalesKind.SELL_OUT])
    SalesRecord.objects.bulk_create(records, batch_size=2000)
    ctx.count("sales records: sell-in", sum(1 for r in records if r.kind == SalesKind.SELL_IN and r.amount > 0))
    ctx.count("sales records: sell-out", sum(1 for r in records if r.kind == SalesKind.SELL_OUT and r.amount > 0))
    ctx.count("sales records: returns", sum(1 for r in records if r.amount < 0))
    ctx.count(
        "sales records: sell-out returns", sum(1 for r in records if r.kind == SalesKind.SELL_OUT and r.amount < 0)
    )


# A customer sent part of an order back: the points the report earned are clawed back (the
# ledger section's reconciliation does it, as the nightly job would).
SELL_OUT_RETURN_NOTE = "Return of {reference}: the customer sent goods back"


def _sell_out_returns(ctx: DemoContext, sell_out: list[SalesRecord]) -> list[SalesRecord]:
    """Returns against a few recent sell-out reports (within the points rules' window): the
    latest report one to six months old of Northwind (the demo log-in: its cabinet shows the
    points taken back) and of every fifth other reporting partner, 30 % of it, every third
    one in full. Chosen without ctx.rng, so the sections after this one see the same draws."""
    today = ctx.today
    latest: dict[int, SalesRecord] = {}
    window = (today - dt.timedelta(days=180), today - dt.timedelta(days=30))
    for record in sell_out:
        newer = record.partner_id not in latest or record.occurred_on > latest[record.partner_id].occurred_on
        if window[0] <= record.occurred_on <= window[1] and newer:
            latest[record.partner_id] = record
    northwind = next((p for p in ctx.partners if p.name == NORTHWIND), None)
    partner_ids = sorted(latest)
    chosen = [pid for i, pid in enumerate(partner_ids) if i % 5 == 0]
    if northwind is not None and northwind.pk in latest and northwind.pk not in chosen:
        chosen.insert(0, northwind.pk)
    returns = []
    for i, pid in enumerate(chosen):
        original = latest[pid]
        share = Decimal(1) if i % 3 == 2 else Decimal("0.3")
        returns.append(
            SalesRecord(
                # Derived from the original, not drawn: deterministic without touching ctx.rng.
                public_id=uuid.uuid5(uuid.NAMESPACE_URL, f"demo-return:{original.public_id}"),
                partner=original.partner,
                kind=original.kind,
                occurred_on=original.occurred_on + dt.timedelta(days=12),
                reference=f"R-{original.public_id.hex}-1",
                amount=-(original.amount * share).quantize(Decimal("0.01")),
                currency=original.currency,
                source=SalesSource.MANUAL,
                entered_by_id=original.entered_by_id,
                note=SELL_OUT_RETURN_NOTE.format(reference=original.reference)[:300],
                created_at=ctx.at(original.occurred_on + dt.timedelta(days=12)),
            )
        )
    return returns


def _seed_certifications(ctx: DemoContext) -> None:
    rng, today = ctx.rng, ctx.today
    rows: list[Certification] = []
    expiring_made = 0
    for partner in ctx.partners:
        if partner.status not in (PartnerStatus.ACTIVE, PartnerStatus.ONBOARDING, PartnerStatus.SUSPENDED):
            continue
        people = [c for c in ctx.contacts.get(partner.pk, []) if c.is_active]
        if not people:
            continue
        lang = _language(partner)
        tier_rank = partner.tier.rank if partner.tier else 0
        holders = rng.sample(people, k=min(len(people), rng.randint(0, 2 + tier_rank * 2)))
        for contact in holders:
            for names, years in rng.sample(COURSES, k=rng.randint(1, 3)):
                earned = today - dt.timedelta(days=rng.randint(20, 3 * 365))
                if years is not None and expiring_made < 40 and rng.random() < 0.12:
                    # Earned long enough ago that it expires within the next 30 days.
                    earned = today - dt.timedelta(days=years * 365 - rng.randint(1, 28))
                    expiring_made += 1
                expires = None if years is None else earned + dt.timedelta(days=years * 365)
                rows.append(
                    Certification(
                        public_id=ctx.uuid(),
                        contact=contact,
                        course=names[lang],
                        certificate_number=f"CERT-{earned:%y}-{rng.randint(10000, 99999)}",
                        earned_on=earned,
                        expires_on=expires,
                        created_at=ctx.at(earned),
                    )
                )
    Certification.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
    ctx.count("certifications", len(rows))
    ctx.count("certifications: expired", sum(1 for r in rows if r.expires_on and r.expires_on <= today))
    ctx.count(
        "certifications: expiring within 30 days",
        sum(1 for r in rows if r.expires_on and today < r.expires_on <= today + dt.timedelta(days=30)),
    )
