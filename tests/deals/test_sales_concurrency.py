"""Concurrent writes on real Postgres (threads with their own connections, released together):
returns racing on one sale never exceed it; the same file imported twice at once creates
each line once."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from deals import services
from deals.models import SalesRecord
from prm.exceptions import ApplicationError
from tests.deals.sales_helpers import make_sale
from tests.deals.test_concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def _attempt(func):
    try:
        return func()
    except ApplicationError:
        return None


def test_sales_record_return_concurrently_never_exceeds_the_sale(manager, partner_a):
    sale = make_sale(actor=manager, partner=partner_a, amount="1000", quantity=10)
    results = run_together(
        [
            lambda: _attempt(lambda: services.sales_record_return(actor=manager, record=sale, amount="400", reason="r"))
            for _ in range(4)
        ]
    )
    assert sum(1 for r in results if r is not None) == 2  # 400 + 400 fit, a third would not
    returned = SalesRecord.objects.filter(amount__lt=0)
    assert sum(r.amount for r in returned) == Decimal("-800.00")
    assert len({r.reference for r in returned}) == 2


def test_sales_records_import_concurrently_creates_each_line_once(manager, partner_a):
    day = (timezone.localdate() - dt.timedelta(days=2)).isoformat()
    rows = [
        {
            "partner": partner_a.name,
            "kind": "sell_in",
            "date": day,
            "reference": f"C-{i}",
            "amount": "10",
            "currency": "RUB",
        }
        for i in range(50)
    ]
    results = run_together([lambda: services.sales_records_import(actor=manager, rows=rows) for _ in range(3)])
    assert sorted(r.created for r in results) == [0, 0, 50]
    assert SalesRecord.objects.count() == 50
