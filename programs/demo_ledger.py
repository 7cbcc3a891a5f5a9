"""Demo data for loyalty points and rewards (`manage.py seed_demo`, after the deals section).

* Earning rules for every event (deal won: 1 point per 1,000 RUB, times the tier multiplier, registration
  approved with a monthly cap, certificates with a yearly cap per person, sales reported, and
  leads accepted within the SLA — inert until the leads work is merged).
* A rewards catalogue with Russian, English and Chinese names: gifts, event tickets, training
  vouchers and fund credit, some with limited stock.
* Points for the year of demo history credited the way production does it: the nightly
  reconciliation (`points_reconcile`) over the won deals, approved registrations,
  certificates and sell-out reports the earlier sections made — and, in the same pass, the
  points of the returned sell-out reports clawed back (Northwind's cabinet shows one).
* Points migrated from the previous programme, dated so that some expire within 30 days (the
  expiry warning is sent), a manual adjustment by the channel manager, and redemptions in every
  state, requested by partner admins and decided by managers through the services.

Deterministic: everything random comes from `ctx.rng`, every date is relative to `ctx.now`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

from django.db.models import Q

from deals.demo import _emails_paused
from partners.demo import DemoContext
from partners.selectors import partner_in_scope
from prm.models import Role, User
from programs import services
from programs.models import (
    CapPeriod,
    EarningEvent,
    EarningRule,
    LedgerEntry,
    PointsBalance,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardCategory,
    SourceType,
)

RULES = [
    # (name, event, points, per 1,000, cap period, cap per partner, cap per person, description)
    ("Deals won: 1 point per 1,000 RUB", EarningEvent.DEAL_WON, 1, True, "", None, None,
     "Every won registration earns 1 point per 1,000 RUB of its final amount, times the tier multiplier."),
    ("Registration approved", EarningEvent.REGISTRATION_APPROVED, 50, False, CapPeriod.MONTH, 1000, None,
     "50 points per approved registration, at most 1,000 points a month per partner."),
    ("Certificate earned", EarningEvent.CERTIFICATION_EARNED, 200, False, CapPeriod.YEAR, None, 600,
     "200 points per certificate, at most 600 points a year per person."),
    ("Sales reported: 2 points per 1,000 RUB", EarningEvent.SALES_REPORTED, 2, True, "", None, None,
     "Reported sell-in and sell-out earn 2 points per 1,000 RUB."),
    ("Lead accepted within SLA", EarningEvent.LEAD_ACCEPTED_IN_SLA, 30, False, CapPeriod.MONTH, 600, None,
     "30 points for each lead accepted before its offer expires."),
]  # fmt: skip

REWARDS = [
    # (English, Russian, Chinese, category, cost, stock, description)
    ("Branded thermo mug", "Фирменная термокружка", "品牌保温杯", RewardCategory.GIFT, 800, None,
     "Steel thermo mug with the vendor logo."),
    ("Wireless headphones", "Беспроводные наушники", "无线耳机", RewardCategory.GIFT, 12000, 15,
     "Noise-cancelling headphones."),
    ("Partner hoodie", "Толстовка партнёра", "合作伙伴连帽衫", RewardCategory.GIFT, 2500, 40, "Sizes S–XXL."),
    ("Partner Summit ticket", "Билет на партнёрскую конференцию", "合作伙伴峰会门票", RewardCategory.TICKET, 15000, 20,
     "Two days, Moscow; travel not included."),
    ("Tech Day seat", "Место на техническом дне", "技术日席位", RewardCategory.TICKET, 4000, 30,
     "A day of hands-on labs with the product team."),
    ("Firewall administrator course voucher", "Ваучер на курс администратора МСЭ", "防火墙管理员课程券",
     RewardCategory.TRAINING, 20000, None, "Five-day instructor-led course with the certification exam."),
    ("Certification exam voucher", "Ваучер на сертификационный экзамен", "认证考试券", RewardCategory.TRAINING, 6000, None,
     "One attempt at any certification exam."),
    ("Marketing fund credit 50,000 RUB", "Кредит маркетингового фонда 50 000 ₽", "市场基金额度 50,000 卢布",
     RewardCategory.FUND_CREDIT, 50000, None, "Credited to your market development fund for co-marketing."),
]  # fmt: skip


def seed(ctx: DemoContext) -> None:
    with _emails_paused():
        _seed_rules(ctx)
        _seed_rewards(ctx)
        with _at(ctx.now - dt.timedelta(hours=1)):
            services.points_reconcile()
        _seed_migrated_points(ctx)
        _seed_adjustment(ctx)
        _seed_redemptions(ctx)
        services.points_expire(now=ctx.now)
        services.points_expiry_warn(now=ctx.now)
    _count_summary(ctx)


class _at:
    """Run service calls "at" a past moment: services (and the ledger's occurred_at) read the
    patched `timezone.now`."""

    def __init__(self, moment: dt.datetime):
        self.patch = mock.patch("django.utils.timezone.now", return_value=moment)

    def __enter__(self):
        return self.patch.__enter__()

    def __exit__(self, *exc):
        return self.patch.__exit__(*exc)


def _seed_rules(ctx: DemoContext) -> None:
    start = ctx.today - dt.timedelta(days=400)
    for name, event, points, per_thousand, period, cap_partner, cap_person, description in RULES:
        EarningRule.objects.get_or_create(
            name=name,
            defaults={
                "event": event,
                "points": Decimal(points),
                "per_thousand": per_thousand,
                "valid_from": start,
                "cap_period": period,
                "cap_per_partner": cap_partner,
                "cap_per_person": cap_person,
                "description": description,
            },
        )


def _seed_rewards(ctx: DemoContext) -> None:
    manager = ctx.user("manager@demo.prm")
    for en, ru, zh, category, cost, stock, description in REWARDS:
        if Reward.objects.filter(name=en).exists():
            continue
        services.reward_create(
            actor=manager,
            name=en,
            name_i18n={"ru": ru, "zh-hans": zh, "en": en},
            category=category,
            points_cost=cost,
            stock=stock,
            description=description,
        )


def _partners_with_points(limit: int | None = None):
    qs = PointsBalance.objects.filter(balance__gt=0).select_related("partner").order_by("-balance", "partner_id")
    return [b.partner for b in (qs[:limit] if limit else qs)]


def _seed_migrated_points(ctx: DemoContext) -> None:
    """Balances carried over from the previous loyalty programme, dated almost two years ago:
    what is left of them expires within the month (the cabinet shows it, admins are warned)."""
    months = services.points_expiry_months()
    northwind = ctx.user("partner@demo.prm").partner  # the demo log-in sees its expiry warning
    partners = [northwind, *[p for p in _partners_with_points(limit=12)[::2] if p.pk != northwind.pk]]
    for i, partner in enumerate(partners):
        earned = services.add_months(ctx.now, -months) + dt.timedelta(days=8 + 4 * i)
        services.ledger_accrue(
            partner=partner,
            kind="points",
            # Northwind's redemption spends the oldest points first: enough is left to expire.
            amount=Decimal(6500 if partner.pk == northwind.pk else 500 + 250 * ctx.rng.randint(1, 6)),
            unit="points",
            source_type=SourceType.ADJUSTMENT,
            source_id=f"migration-{partner.public_id}",
            occurred_at=earned,
            reason="Balance migrated from the previous loyalty programme",
        )


def _seed_adjustment(ctx: DemoContext) -> None:
    manager = ctx.user("manager@demo.prm")
    partner = ctx.user("partner@demo.prm").partner
    if LedgerEntry.objects.filter(partner=partner, source_type=SourceType.ADJUSTMENT, created_by=manager).exists():
        return
    with _at(ctx.now - dt.timedelta(days=20)):
        services.points_adjust(
            actor=manager,
            partner=partner,
            amount=3000,
            reason="Booth at the Partner Summit: thank-you points agreed with the partner",
        )


def _seed_redemptions(ctx: DemoContext) -> None:
    """Redemptions in every state, by partner admins of partners that have the points."""
    if Redemption.objects.exists():
        return
    rewards = list(Reward.objects.order_by("points_cost"))
    managers = [ctx.user("manager@demo.prm"), ctx.user("lead@demo.prm")]
    admins = {
        u.partner_id: u
        for u in User.objects.filter(role=Role.PARTNER_ADMIN, is_active=True, partner__isnull=False).order_by("-pk")
    }
    northwind = ctx.user("partner@demo.prm")
    admins[northwind.partner_id] = northwind
    plan = [
        RedemptionStatus.FULFILLED,
        RedemptionStatus.FULFILLED,
        RedemptionStatus.APPROVED,
        RedemptionStatus.REQUESTED,
        RedemptionStatus.REQUESTED,
        RedemptionStatus.REJECTED,
        RedemptionStatus.CANCELLED,
        RedemptionStatus.FULFILLED,
        RedemptionStatus.REQUESTED,
        RedemptionStatus.APPROVED,
    ]
    partners = [p for p in _partners_with_points() if p.pk in admins]
    partners.sort(key=lambda p: (p.pk != northwind.partner_id, p.pk))  # Northwind first: the demo log-in
    for i, status in enumerate(plan):
        if not partners:
            break
        # Northwind redeems once, a modest reward: its oldest (migrated) points must partly
        # survive to expire this month, which is what its cabinet shows.
        others = [p for p in partners if p.pk != northwind.partner_id] or partners
        partner = partners[0] if i == 0 else others[(i - 1) % len(others)]
        admin = admins[partner.pk]
        balance = services_balance(partner)
        affordable = [r for r in rewards if r.points_cost <= balance and (r.stock is None or r.stock > 0)]
        if partner.pk == northwind.partner_id:
            affordable = [r for r in affordable if r.points_cost <= 3000]
        if not affordable:
            continue
        reward = affordable[ctx.rng.randrange(len(affordable))]
        asked = ctx.now - dt.timedelta(days=3 + 9 * (len(plan) - i), hours=ctx.rng.randint(0, 8))
        if status == RedemptionStatus.REQUESTED:
            asked = ctx.now - dt.timedelta(days=i % 3, hours=2 + i)
        # Decided by staff whose portfolio holds the partner (the services refuse anyone else).
        deciders = [u for u in managers if partner_in_scope(user=u, partner=partner)] or [ctx.user("admin@demo.prm")]
        manager = deciders[i % len(deciders)]
        with _at(asked):
            redemption = services.redemption_request(actor=admin, reward=reward, note="")
        Redemption.objects.filter(pk=redemption.pk).update(created_at=asked)
        with _at(asked + dt.timedelta(days=1)):
            if status in (RedemptionStatus.APPROVED, RedemptionStatus.FULFILLED):
                services.redemption_approve(actor=manager, redemption=redemption)
            elif status == RedemptionStatus.REJECTED:
                services.redemption_reject(
                    actor=manager, redemption=redemption, reason="This item is being replaced by a newer model"
                )
            elif status == RedemptionStatus.CANCELLED:
                services.redemption_cancel(actor=admin, redemption=redemption)
        if status == RedemptionStatus.FULFILLED:
            with _at(asked + dt.timedelta(days=4)):
                services.redemption_fulfil(actor=manager, redemption=redemption)


def services_balance(partner) -> Decimal:
    from programs.selectors import points_balance

    return points_balance(partner=partner)


def _count_summary(ctx: DemoContext) -> None:
    ctx.count("earning rules", EarningRule.objects.count())
    ctx.count("rewards", Reward.objects.count())
    ctx.count("ledger entries", LedgerEntry.objects.count())
    ctx.count("partners with points", PointsBalance.objects.filter(balance__gt=0).count())
    ctx.count(
        "points clawed back (returned sales)", LedgerEntry.objects.filter(source_type=SourceType.SALES_RETURNED).count()
    )
    for status, label in RedemptionStatus.choices:
        ctx.count(f"redemptions: {str(label).lower()}", Redemption.objects.filter(status=status).count())
    ctx.count(
        "points expiring within 30 days (entries)",
        LedgerEntry.objects.filter(
            Q(expires_at__gt=ctx.now) & Q(expires_at__lte=ctx.now + dt.timedelta(days=30)), amount__gt=0
        ).count(),
    )
