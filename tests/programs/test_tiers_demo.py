"""The tier demo section on a small context: a year of monthly history, certificates, rates,
the lock; works without sales records; notifies only about today's changes."""

import datetime
import random

import pytest
from django.utils import timezone

from partners.demo import NORTHWIND, DemoContext
from partners.models import Certification
from prm.models import ExchangeRate, Notification
from programs import demo_tiers
from programs.models import ChangeKind, PartnerTierStatus, TierChange
from tests.factories import ContactFactory, PartnerFactory
from tests.programs.tiers_factories import tiers_fixture, won_deals  # noqa: F401

pytestmark = pytest.mark.django_db


def test_demo_tiers_builds_a_year_of_history(tiers, manager, partner_admin):
    now = timezone.now()
    ctx = DemoContext(rng=random.Random(7), today=timezone.localdate(now), now=now)
    ctx.users["manager@demo.prm"] = manager
    northwind = PartnerFactory(name=NORTHWIND, owner=manager, tier=tiers["gold"])
    climber = partner_admin.partner  # wins deals over the year
    climber.tier = tiers["silver"]
    climber.save(update_fields=["tier"])
    ctx.partners = [northwind, climber]
    ctx.contacts = {p.pk: [ContactFactory(partner=p) for _ in range(4)] for p in ctx.partners}
    won_deals(climber, partner_admin, 3, "2000000", closed_at=now - datetime.timedelta(days=200))

    demo_tiers.seed(ctx)

    assert ExchangeRate.objects.filter(currency="USD").exists()
    assert Certification.objects.filter(contact__partner=climber).count() >= 1
    status = PartnerTierStatus.objects.get(partner=northwind)
    assert status.locked and status.lock_reason == demo_tiers.LOCK_REASON
    northwind.refresh_from_db()
    assert northwind.tier == tiers["gold"]
    # The climber was at risk early in the year (no deals in its window), then recovered.
    kinds = list(TierChange.objects.filter(partner=climber).order_by("created_at").values_list("kind", flat=True))
    assert kinds[0] == ChangeKind.AT_RISK
    dates = list(TierChange.objects.filter(partner=climber).values_list("created_at", flat=True))
    assert min(dates) < now - datetime.timedelta(days=300)
    # Past months notified nobody: every tier notification is about a change of today's run.
    keys = set(Notification.objects.filter(kind__startswith="tier.").values_list("dedupe_key", flat=True))
    today_keys = {f"tier-change:{pk}" for pk in TierChange.objects.filter(created_at=now).values_list("pk", flat=True)}
    assert keys <= today_keys
    assert TierChange.objects.filter(created_at__lt=now - datetime.timedelta(days=25)).exists()
    assert ctx.summary["tier changes"] == TierChange.objects.count()
