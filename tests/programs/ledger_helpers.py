"""Builders for the ledger tests: earning rules, and events that earn points (won deals,
certificates) made the way the product makes them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from deals import services as deal_services
from partners.models import Certification
from programs.models import EarningEvent, EarningRule, Reward, RewardCategory
from tests.deals.factories import make_deal
from tests.factories import ContactFactory


def make_rule(event=EarningEvent.DEAL_WON, points="10", per_thousand=None, **extra) -> EarningRule:
    if per_thousand is None:
        per_thousand = event in (EarningEvent.DEAL_WON, EarningEvent.SALES_REPORTED)
    return EarningRule.objects.create(
        name=extra.pop("name", f"{event} rule"),
        event=event,
        points=Decimal(points),
        per_thousand=per_thousand,
        valid_from=extra.pop("valid_from", dt.date(2020, 1, 1)),
        **extra,
    )


def won_deal(*, user, manager, value="100000.00", final_amount=None, currency="RUB"):
    """A registration submitted by `user`, approved by `manager` and won."""
    deal = make_deal(user=user, value=value, currency=currency, submit=True)
    deal = deal_services.deal_approve(user=manager, deal=deal)
    return deal_services.deal_mark_won(user=manager, deal=deal, final_amount=Decimal(final_amount or value))


def certificate(*, partner, user=None, earned_on=None, course="Firewall admin") -> Certification:
    from partners.models import Contact

    if user is not None:  # one contact per person (Contact.user is one-to-one)
        contact = Contact.objects.filter(user=user).first() or ContactFactory(partner=partner, user=user)
    else:
        contact = ContactFactory(partner=partner)
    return Certification.objects.create(contact=contact, course=course, earned_on=earned_on or timezone.localdate())


def make_reward(*, cost=100, stock=None, name="Branded mug", category=RewardCategory.GIFT) -> Reward:
    return Reward.objects.create(name=name, category=category, points_cost=cost, stock=stock)


def returned_sell_out(*, partner_admin, amount="100000.00", returned="25000.00", reference="SO-1"):
    """A sell-out reported by `partner_admin`, credited, then partly returned and clawed back
    (task paths run inline). Returns (sale, return record)."""
    from programs import services

    sale = deal_services.sales_record_create(
        actor=partner_admin,
        partner=partner_admin.partner,
        kind="sell_out",
        occurred_on=timezone.localdate(),
        amount=Decimal(amount),
        currency="RUB",
        reference=reference,
    )
    services.points_for_event(event="sales_reported", source_id=sale.pk)
    back = deal_services.sales_record_return(
        actor=partner_admin, record=sale, amount=Decimal(returned), reason="Damaged in transit"
    )
    services.points_clawback_for_return(return_id=back.pk)
    return sale, back
