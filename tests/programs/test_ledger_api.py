"""The ledger API: /api/v1/ledger/ (partner users: own company's entries; staff: all, with
filters) and /api/v1/ledger/balance/ — anonymous 401/403, partner B 404, flat query count."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from programs import services
from programs.models import EarningEvent
from tests.programs.ledger_helpers import make_rule, returned_sell_out, won_deal

pytestmark = pytest.mark.django_db

LEDGER = reverse("api:ledger-list")
BALANCE = reverse("api:ledger-balance")


def api(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def entries(partner_a, partner_b, manager):
    a = services.points_adjust(actor=manager, partner=partner_a, amount=300, reason="Welcome bonus")
    b = services.points_adjust(actor=manager, partner=partner_b, amount=50, reason="Beta bonus")
    services.ledger_accrue(
        partner=partner_a,
        kind="spiff",
        amount="1500.00",
        unit="RUB",
        source_type="adjustment",
        source_id="s1",
        reason="Q1 SPIFF",
    )
    return a, b


def test_ledger_list_partner_sees_own_entries_only(entries, partner_admin, partner_rep):
    a, b = entries
    for user in (partner_admin, partner_rep):
        response = api(user).get(LEDGER)
        assert response.status_code == 200
        ids = {row["id"] for row in response.json()["results"]}
        assert str(a.public_id) in ids and str(b.public_id) not in ids
    # Asking for partner B by id gives nothing of B's.
    response = api(partner_admin).get(LEDGER, {"partner": str(b.partner.public_id)})
    assert response.json()["results"] == []


def test_ledger_list_staff_sees_all_and_filters(entries, manager, partner_a):
    response = api(manager).get(LEDGER)
    assert response.status_code == 200 and response.json()["count"] == 3
    response = api(manager).get(LEDGER, {"partner": str(partner_a.public_id), "kind": "points"})
    rows = response.json()["results"]
    assert len(rows) == 1 and rows[0]["amount"] == "300.00" and rows[0]["unit"] == "points"
    assert "Welcome bonus" in rows[0]["description"]
    assert api(manager).get(LEDGER, {"kind": "nonsense"}).status_code == 400


def test_ledger_entry_detail_partner_b_gets_404(entries, partner_admin, other_partner_user):
    a, _ = entries
    url = reverse("api:ledger-detail", args=[a.public_id])
    assert api(partner_admin).get(url).status_code == 200
    assert api(other_partner_user).get(url).status_code == 404
    assert api(partner_admin).get(reverse("api:ledger-detail", args=[uuid.uuid4()])).status_code == 404


def test_ledger_anonymous_refused(entries):
    assert api().get(LEDGER).status_code in (401, 403)
    assert api().get(BALANCE).status_code in (401, 403)


def test_ledger_entry_of_a_won_deal_explains_the_rule(partner_admin, manager):
    make_rule(event=EarningEvent.DEAL_WON, points="10", name="Deals 2026")
    deal = won_deal(user=partner_admin, manager=manager, value="125000.00")
    services.points_for_event(event="deal_won", source_id=deal.pk)
    row = api(partner_admin).get(LEDGER).json()["results"][0]
    assert row["rule"] == {"name": "Deals 2026", "event": "deal_won"}
    assert row["amount"] == "1250.00" and row["source_type"] == "deal_won"
    assert deal.reference in row["description"]
    assert row["user"]["id"] == str(partner_admin.public_id)


def test_ledger_lists_a_clawback_like_any_entry(partner_admin, other_partner_user, manager):
    from programs.models import LedgerEntry

    make_rule(event=EarningEvent.SALES_REPORTED, points="10", name="Sell-out")
    _sale, back = returned_sell_out(partner_admin=partner_admin, amount="100000.00", returned="25000.00")
    credit = LedgerEntry.objects.get(source_type="sales_reported")

    body = api(partner_admin).get(LEDGER, {"source_type": "sales_returned"}).json()

    (row,) = body["results"]
    assert row["amount"] == "-250.00" and row["source_type"] == "sales_returned" and row["kind"] == "points"
    assert row["reverses"] == str(credit.public_id)
    assert row["rule"] == {"name": "Sell-out", "event": "sales_reported"}
    assert row["description"].startswith("Return of sale SO-1: −250 points")
    assert api(manager).get(LEDGER, {"source_type": "sales_returned"}).json()["count"] == 1
    # Partner B: not in its list, and 404 on the entry itself.
    assert api(other_partner_user).get(LEDGER, {"source_type": "sales_returned"}).json()["count"] == 0
    detail = reverse("api:ledger-detail", args=[row["id"]])
    assert api(other_partner_user).get(detail).status_code == 404
    assert api(partner_admin).get(detail).json()["id"] == row["id"]


def test_ledger_balance_partner_own_and_expiring(partner_a, partner_b, partner_admin, other_partner_user, manager):
    services.ledger_accrue(
        partner=partner_a,
        kind="points",
        amount=120,
        unit="points",
        source_type="deal_won",
        source_id="1",
        occurred_at=timezone.now() - dt.timedelta(days=720),
    )
    services.points_adjust(actor=manager, partner=partner_a, amount=80, reason="promo")
    body = api(partner_admin).get(BALANCE).json()
    assert body["partner"]["id"] == str(partner_a.public_id)
    assert Decimal(body["points"]) == 200
    assert body["expiring_points"] == 120 and body["next_expiry_points"] == 120
    # Partner B asking for A's balance: 404; for its own: fine.
    assert api(other_partner_user).get(BALANCE, {"partner": str(partner_a.public_id)}).status_code == 404
    assert Decimal(api(other_partner_user).get(BALANCE).json()["points"]) == 0


def test_ledger_balance_staff_needs_partner(partner_a, manager):
    services.points_adjust(actor=manager, partner=partner_a, amount=70, reason="promo")
    response = api(manager).get(BALANCE)
    assert response.status_code == 400 and "partner" in response.json()["error"]["fields"]
    body = api(manager).get(BALANCE, {"partner": str(partner_a.public_id)}).json()
    assert Decimal(body["points"]) == 70
    assert api(manager).get(BALANCE, {"partner": str(uuid.uuid4())}).status_code == 404
    assert api(manager).get(BALANCE, {"partner": str(partner_a.public_id), "days": "x"}).status_code == 400


def test_ledger_list_query_count_is_flat(partner_a, manager):
    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert api(manager).get(LEDGER).status_code == 200
        return len(ctx.captured_queries)

    services.points_adjust(actor=manager, partner=partner_a, amount=10, reason="one")
    few = count_queries()
    for i in range(15):
        services.points_adjust(actor=manager, partner=partner_a, amount=10, reason=f"more {i}")
    assert count_queries() == few
