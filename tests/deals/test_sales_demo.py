"""The sales and certification demo section on a small channel: counts, seasonality, rhythm,
returns that never exceed their sale, certificates expired and expiring, determinism."""

import datetime as dt
import random
import time
from collections import defaultdict

import pytest
from django.utils import timezone

from deals import demo_sales
from deals.models import SalesRecord
from deals.selectors_sales import sales_monthly_totals
from partners.demo import DemoContext
from partners.models import Certification, PartnerStatus, Region
from tests.deals.factories import ProductFactory
from tests.factories import ContactFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def _ctx(seed=7):
    ctx = DemoContext.create()
    ctx.rng = random.Random(seed)
    old = timezone.now() - dt.timedelta(days=5 * 365)
    places = [
        ("RU", Region.RUSSIA),
        ("KZ", Region.CIS),
        ("DE", Region.EUROPE),
        ("CN", Region.CHINA),
        ("BY", Region.CIS),
    ]
    for i in range(24):
        country, region = places[i % len(places)]
        partner = PartnerFactory(status=PartnerStatus.ACTIVE, country=country, region=region, created_at=old)
        ctx.partners.append(partner)
        ctx.contacts[partner.pk] = [ContactFactory(partner=partner) for _ in range(4)]
    for _ in range(6):
        ProductFactory()
    return ctx


def test_demo_sales_seeds_36_months_with_seasonality_and_rhythm():
    ctx = _ctx()
    started = time.monotonic()
    demo_sales.seed(ctx)
    assert time.monotonic() - started < 10
    today = timezone.localdate()
    sell_in = SalesRecord.objects.filter(kind="sell_in")
    assert sell_in.filter(amount__gt=0).count() > 200
    assert SalesRecord.objects.filter(kind="sell_out").exists()
    assert SalesRecord.objects.filter(amount__lt=0).exists()
    assert SalesRecord.objects.order_by().values("currency").distinct().count() >= 4
    assert not SalesRecord.objects.filter(occurred_on__gt=today).exists()
    oldest = sell_in.order_by("occurred_on").first().occurred_on
    assert (today - oldest).days > 30 * 34

    # Seasonality, in the base currency, over the channel: Q4 months above summer months on average.
    since = dt.date(today.year - 3, 1, 1)
    totals = sales_monthly_totals(kind="sell_in", since=since, until=today)
    by_month = defaultdict(list)
    for t in totals:
        by_month[t.month.month].append(t.amount)
    avg = {m: sum(v) / len(v) for m, v in by_month.items()}
    assert (avg[10] + avg[11] + avg[12]) / 3 > (avg[6] + avg[7] + avg[8]) / 3
    assert avg[1] < avg[12]

    # Rhythm: some partners buy every month, some only every few months.
    months_per_partner = defaultdict(set)
    for pid, day in sell_in.filter(amount__gt=0).values_list("partner_id", "occurred_on"):
        months_per_partner[pid].add((day.year, day.month))
    counts = sorted(len(v) for v in months_per_partner.values())
    assert counts[0] <= 13 and counts[-1] >= 30


def test_demo_sales_returns_never_exceed_their_sale():
    demo_sales.seed(_ctx(seed=11))
    returns = SalesRecord.objects.filter(amount__lt=0)
    assert returns.filter(kind="sell_in").exists()
    assert returns.filter(kind="sell_out").exists()  # their points are clawed back by the ledger section
    for ret in returns:
        original = SalesRecord.objects.get(public_id=ret.reference.split("-")[1])
        assert original.partner_id == ret.partner_id and -ret.amount <= original.amount
        assert original.reference in ret.note


def test_demo_certifications_expired_and_expiring():
    ctx = _ctx(seed=3)
    demo_sales.seed(ctx)
    today = timezone.localdate()
    certs = Certification.objects.all()
    assert certs.count() > 20
    assert certs.filter(expires_on__lte=today).exists()
    assert certs.filter(expires_on__gt=today, expires_on__lte=today + dt.timedelta(days=30)).exists()
    assert certs.filter(expires_on__isnull=True).exists()
    assert certs.filter(course__regex=r"[\u4e00-\u9fff]").exists()
    assert certs.filter(course__regex=r"[А-Яа-я]").exists()


def test_demo_sales_is_deterministic():
    ctx = _ctx(seed=5)
    demo_sales.seed(_replay(ctx, 5))
    first = sorted(SalesRecord.objects.values_list("reference", "amount", "occurred_on"))
    SalesRecord.objects.all().delete()
    Certification.objects.all().delete()
    demo_sales.seed(_replay(ctx, 5))
    assert sorted(SalesRecord.objects.values_list("reference", "amount", "occurred_on")) == first


def _replay(ctx, seed):
    """A fresh context over the same partners and people, with the rng at `seed`."""
    replay = DemoContext.create()
    replay.rng = random.Random(seed)
    replay.partners, replay.contacts = ctx.partners, ctx.contacts
    return replay
