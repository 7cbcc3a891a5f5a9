"""`manage.py seed_demo`, points section: rules for every event, a catalogue in three
languages, points from the year of history (via the reconciliation), balances equal to the
ledger, redemptions in every state, a manual adjustment, Northwind with points expiring soon.

Seeding takes a while, so it runs once for the module inside a rolled-back transaction."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Sum

from prm.models import Notification, User
from programs import selectors
from programs.models import (
    EarningEvent,
    EarningRule,
    LedgerEntry,
    PointsBalance,
    Redemption,
    RedemptionStatus,
    Reward,
    SourceType,
)

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        call_command("seed_demo", "--allow-without-debug", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def demo(seeded, db):
    return seeded


def test_demo_rules_cover_every_event_and_catalogue_three_languages(demo):
    assert set(EarningRule.objects.values_list("event", flat=True)) == set(EarningEvent.values)
    rewards = list(Reward.objects.all())
    assert {r.category for r in rewards} == {"gift", "ticket", "training", "fund_credit"}
    assert all(CYRILLIC.search(r.name_i18n["ru"]) and CJK.search(r.name_i18n["zh-hans"]) for r in rewards)


def test_demo_points_come_from_history_and_balances_match_the_ledger(demo):
    assert LedgerEntry.objects.filter(source_type=SourceType.DEAL_WON).count() > 100
    assert LedgerEntry.objects.filter(source_type=SourceType.REGISTRATION_APPROVED).exists()
    per_partner = dict(
        LedgerEntry.objects.filter(kind="points")
        .values("partner_id")
        .annotate(s=Sum("amount"))
        .values_list("partner_id", "s")
    )
    balances = dict(PointsBalance.objects.values_list("partner_id", "balance"))
    assert per_partner and balances == per_partner
    dupes = (
        LedgerEntry.objects.values("source_type", "source_id", "kind", "rule").annotate(c=Count("id")).filter(c__gt=1)
    )
    assert not dupes.exists()


def test_demo_redemptions_in_every_state_and_a_manual_adjustment(demo):
    assert set(Redemption.objects.values_list("status", flat=True)) == set(RedemptionStatus.values)
    manager = User.objects.get(email="manager@demo.prm")
    assert LedgerEntry.objects.filter(source_type=SourceType.ADJUSTMENT, created_by=manager).exclude(reason="").exists()


def test_demo_northwind_has_points_expiring_and_admins_were_warned(demo):
    northwind = User.objects.get(email="partner@demo.prm")
    soon = selectors.points_expiring_soon(partner=northwind.partner)
    assert soon.points > 0
    assert Notification.objects.filter(user=northwind, kind="points_expiring").exists()
    assert "points" in demo


def test_demo_returned_sell_out_is_clawed_back_and_northwind_shows_it(demo):
    from deals.models import SalesRecord
    from programs.views.ledger_display import describe_entry

    clawbacks = LedgerEntry.objects.filter(source_type=SourceType.SALES_RETURNED).select_related("reverses", "rule")
    returns = SalesRecord.objects.filter(kind="sell_out", amount__lt=0)
    assert clawbacks.count() >= returns.count() >= 2
    for entry in clawbacks:
        assert entry.amount < 0 and entry.reverses.source_type == SourceType.SALES_REPORTED
        assert entry.calculation["shortfall"] == "0"  # the demo history had the points
    northwind = User.objects.get(email="partner@demo.prm").partner
    mine = clawbacks.filter(partner=northwind).first()
    assert mine is not None and describe_entry(mine).startswith("Return of sale SO-")
