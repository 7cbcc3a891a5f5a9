"""`manage.py seed_demo`, forecasts section (after deals, and after sales when that branch is
merged): exchange rates for reporting, quarterly targets for every channel manager (past and
coming quarters), partner commits for the coming quarters for part of the partners, then one
run of the nightly computations (dormancy, health, forecast snapshots, reorder expectations) so
the dashboards are full on first open.

Targets are set around what each manager's partners actually sold, so fulfilment reads as a
believable 70–130 %. Deterministic: everything random comes from `ctx.rng`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from deals import dashboard, services
from deals.demo import _emails_paused
from deals.models import PartnerCommit, Target
from partners.demo import DemoContext
from partners.models import Partner, PartnerStatus
from prm.models import Currency, ExchangeRate, Role, User

# Reporting rates to RUB (base currency of the demo), a year of monthly moves.
DEMO_RATES = {
    Currency.USD: Decimal("92.50"),
    Currency.EUR: Decimal("99.80"),
    Currency.CNY: Decimal("12.70"),
    Currency.KZT: Decimal("0.1850"),
    Currency.BYN: Decimal("28.40"),
}


def seed(ctx: DemoContext) -> None:
    _seed_rates(ctx)
    _seed_targets(ctx)
    _seed_commits(ctx)
    with _emails_paused():
        turned = services.partner_dormancy_compute(now=ctx.now)
        scored = services.partner_health_compute(today=ctx.today)
        run = services.forecast_snapshot_run(as_of=ctx.today)
        expectations = services.reorder_expectations_compute(today=ctx.today)
        reminded = services.reorder_reminders_send(today=ctx.today)
    ctx.count("partners turned dormant (nightly job)", len(turned))
    ctx.count("partner health scores", scored)
    ctx.count("forecast snapshots", run.snapshots.count())
    ctx.count("reorder expectations", expectations)
    ctx.count("reorder reminders", reminded)


def _seed_rates(ctx: DemoContext) -> None:
    """Monthly rates over the last three years for currencies that have none yet (a real
    installation loads them from its bank; the sales branch may have seeded its own)."""
    base = dashboard.add_months(ctx.today.replace(day=1), -36)
    rows = []
    for currency, rate in DEMO_RATES.items():
        if ExchangeRate.objects.filter(currency=currency).exists():
            continue
        for m in range(37):
            drift = Decimal(str(round(1 + 0.04 * ctx.rng.uniform(-1, 1), 4)))
            rows.append(ExchangeRate(currency=currency, valid_from=dashboard.add_months(base, m), rate=(rate * drift)))
    ExchangeRate.objects.bulk_create(rows)
    ctx.count("exchange rates", len(rows))


def _managers() -> list[User]:
    return list(
        User.objects.filter(
            role__in=[Role.CHANNEL_MANAGER, Role.CHANNEL_LEAD], is_active=True, owned_partners__isnull=False
        )
        .distinct()
        .order_by("pk")
    )


def _round(amount: Decimal) -> Decimal:
    step = Decimal("10000")
    return (amount / step).quantize(Decimal("1")) * step


def _seed_targets(ctx: DemoContext) -> None:
    year, quarter = dashboard.quarter_of(ctx.today)
    past = [dashboard.shift_quarter(year, quarter, -i) for i in range(4, 0, -1)]
    coming = [dashboard.shift_quarter(year, quarter, i) for i in range(0, 4)]
    rows = []
    for manager in _managers():
        owned = Partner.objects.filter(owner=manager)
        actuals = []
        for y, q in past:
            start, end = dashboard.quarter_bounds(y, q)
            actuals.append(
                sum(dashboard.revenue_by_partner(partners=owned, since=start, until=end).values(), Decimal(0))
            )
        typical = max(sum(actuals) / len(actuals), Decimal("500000"))
        for (y, q), actual in zip(past, actuals, strict=True):
            factor = Decimal(str(round(ctx.rng.uniform(0.8, 1.35), 2)))
            rows.append(Target(manager=manager, year=y, quarter=q, amount=_round(max(actual, typical / 2) * factor)))
        for i, (y, q) in enumerate(coming):
            growth = Decimal(str(round(1.05 + 0.03 * i + ctx.rng.uniform(0, 0.1), 2)))
            rows.append(Target(manager=manager, year=y, quarter=q, amount=_round(typical * growth)))
    Target.objects.bulk_create(rows, ignore_conflicts=True)
    ctx.count("sales targets", len(rows))


def _seed_commits(ctx: DemoContext) -> None:
    """Commits for the current and next quarter from about 40 % of the active partners that
    sold something in the last year: roughly their quarterly average, optimistic or careful."""
    year, quarter = dashboard.quarter_of(ctx.today)
    quarters = [(year, quarter), dashboard.shift_quarter(year, quarter, 1)]
    active = Partner.objects.filter(status=PartnerStatus.ACTIVE, is_dormant=False)
    revenue = dashboard.revenue_by_partner(
        partners=active, since=ctx.today - dt.timedelta(days=365), until=ctx.today + dt.timedelta(days=1)
    )
    admins = dict(
        User.objects.filter(role=Role.PARTNER_ADMIN, partner_id__in=list(revenue), is_active=True)
        .order_by("pk")
        .values_list("partner_id", "pk")
    )
    rows = []
    for partner_id in sorted(revenue):
        if revenue[partner_id] <= 0 or ctx.rng.random() > 0.4:
            continue
        quarterly = revenue[partner_id] / 4
        for y, q in quarters:
            mood = Decimal(str(round(ctx.rng.uniform(0.7, 1.5), 2)))
            rows.append(
                PartnerCommit(
                    partner_id=partner_id,
                    year=y,
                    quarter=q,
                    amount=max((quarterly * mood / 1000).quantize(Decimal("1")) * 1000, Decimal("1000")),
                    currency=Currency.RUB,
                    entered_by_id=admins.get(partner_id),
                )
            )
    PartnerCommit.objects.bulk_create(rows, ignore_conflicts=True)
    ctx.count("partner commits", len(rows))
