"""The services of earning events publish them after commit to the ledger's accrual task, on the
real broker; running the task credits the event once (the reconciliation then finds nothing)."""

import json

import pytest
import redis
from django.conf import settings

from programs import services
from programs.models import EarningEvent, LedgerEntry
from programs.tasks_ledger import accrue_event
from tests.programs.ledger_helpers import make_rule, won_deal

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def ours():
        out = []
        for raw in client.lrange("celery", 0, -1):
            message = json.loads(raw)
            if message["headers"]["task"] == "programs.tasks_ledger.accrue_event":
                out.append((raw, message["headers"]["argsrepr"]))
        return out

    for raw, _ in ours():
        client.lrem("celery", 0, raw)
    yield lambda: [args for _, args in ours()]
    for raw, _ in ours():
        client.lrem("celery", 0, raw)


def test_won_deal_and_approval_are_published_and_credited_once(broker, partner_a, partner_admin, manager):
    make_rule(event=EarningEvent.DEAL_WON, points="10")
    make_rule(event=EarningEvent.REGISTRATION_APPROVED, points="25", per_thousand=False)
    deal = won_deal(user=partner_admin, manager=manager, value="100000.00")
    assert sorted(broker()) == sorted([f"['registration_approved', {deal.pk}]", f"['deal_won', {deal.pk}]"])

    accrue_event.run("deal_won", deal.pk)
    accrue_event.run("registration_approved", deal.pk)
    accrue_event.run("deal_won", deal.pk)  # redelivered: nothing more
    assert LedgerEntry.objects.count() == 2
    # 100,000 RUB won at 10 points per 1,000 (no tier multiplier) + 25 for the approval.
    assert sorted(e.amount for e in LedgerEntry.objects.all()) == [25, 1000]
    assert services.points_reconcile() == {"deal_won": 0, "registration_approved": 0}


def test_certification_and_sell_out_are_published(broker, partner_a, partner_admin, manager):
    import datetime as dt
    from decimal import Decimal

    from deals.services import sales_record_create
    from partners.services import certification_create
    from tests.factories import ContactFactory

    cert = certification_create(
        actor=manager, contact=ContactFactory(partner=partner_a), course="Firewall admin", earned_on=dt.date(2026, 1, 5)
    )
    sale = sales_record_create(
        actor=partner_admin,
        partner=partner_a,
        kind="sell_out",
        occurred_on=dt.date(2026, 1, 5),
        amount=Decimal("1000"),
        currency="RUB",
    )
    assert sorted(broker()) == sorted([f"['certification_earned', {cert.pk}]", f"['sales_reported', {sale.pk}]"])
