"""Staff points and rewards pages: the partner's ledger (fragment and full page, filters, CSV),
manual adjustments (reason required, audited), the redemption queue (approve / fulfil / reject,
filters, CSV), the points liability report and the rewards catalogue — and that partner users
get 404 on every one of them."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from partners.models import Tier
from prm.models import AuditLog
from programs import services
from programs.models import LedgerEntry, Redemption, RedemptionStatus, Reward, SourceType
from tests.factories import PartnerFactory
from tests.programs.ledger_helpers import make_reward, make_rule, returned_sell_out, won_deal

pytestmark = pytest.mark.django_db


def give(partner, points, manager, reason="Welcome bonus"):
    return services.points_adjust(actor=manager, partner=partner, amount=Decimal(points), reason=reason)


def _csv_rows(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def requested(partner_a, partner_admin, manager):
    give(partner_a, 1000, manager)
    reward = make_reward(cost=300, stock=4, name="Conference ticket")
    return services.redemption_request(actor=partner_admin, reward=reward)


def _staff_urls(partner, redemption, reward):
    return {
        "get": [
            reverse("staff:partner_ledger", args=[partner.public_id]),
            reverse("staff:ledger_partner", args=[partner.public_id]),
            reverse("staff:redemption_queue"),
            reverse("staff:points_liability"),
            reverse("staff:reward_list"),
            reverse("staff:reward_create"),
            reverse("staff:reward_edit", args=[reward.public_id]),
        ],
        "post": [
            reverse("staff:ledger_adjust", args=[partner.public_id]),
            reverse("staff:redemption_approve", args=[redemption.public_id]),
            reverse("staff:redemption_fulfil", args=[redemption.public_id]),
            reverse("staff:redemption_reject", args=[redemption.public_id]),
            reverse("staff:reward_create"),
            reverse("staff:reward_edit", args=[reward.public_id]),
        ],
    }


def test_staff_pages_refuse_partner_users_and_anonymous(
    partner_a, requested, client, partner_admin_client, other_partner_client
):
    urls = _staff_urls(partner_a, requested, requested.reward)
    for url in urls["get"]:
        assert client.get(url).status_code == 302, url
        assert partner_admin_client.get(url).status_code == 404, url
        assert other_partner_client.get(url).status_code == 404, url
    for url in urls["post"]:
        assert client.post(url, {"amount": "5", "reason": "x", "name": "x"}).status_code == 302, url
        assert partner_admin_client.post(url, {"amount": "5", "reason": "x"}).status_code == 404, url
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.REQUESTED
    assert LedgerEntry.objects.filter(source_type=SourceType.ADJUSTMENT).count() == 1  # the fixture's credit only


def test_staff_pages_answer_the_manager(partner_a, requested, manager_client):
    for url in _staff_urls(partner_a, requested, requested.reward)["get"]:
        assert manager_client.get(url).status_code == 200, url


# --- the partner's ledger --------------------------------------------------------------------------


def test_partner_page_loads_the_ledger_fragment(partner_a, manager_client):
    response = manager_client.get(reverse("staff:partner_detail", args=[partner_a.public_id]))
    assert reverse("staff:partner_ledger", args=[partner_a.public_id]) in response.content.decode()


def test_ledger_fragment_shows_balance_latest_entries_and_the_adjustment_form(partner_a, manager, manager_client):
    for i in range(12):
        give(partner_a, 10, manager, reason=f"credit {i}")
    response = manager_client.get(reverse("staff:partner_ledger", args=[partner_a.public_id]))
    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-balance="120"' in text
    assert len(response.context["entries"]) == 10
    assert reverse("staff:ledger_adjust", args=[partner_a.public_id]) in text


def test_ledger_fragment_for_an_unknown_partner_is_404(manager_client):
    import uuid

    assert manager_client.get(reverse("staff:partner_ledger", args=[uuid.uuid4()])).status_code == 404


def test_ledger_page_lists_only_that_partner_and_filters(partner_a, partner_b, partner_admin, manager, manager_client):
    make_rule(points="10", name="Won deals")
    deal = won_deal(user=partner_admin, manager=manager, value="50000.00")
    services.points_for_event(event="deal_won", source_id=deal.pk)
    give(partner_a, 5, manager, reason="Alpha adj")
    give(partner_b, 7, manager, reason="Beta adj")

    url = reverse("staff:ledger_partner", args=[partner_a.public_id])
    response = manager_client.get(url)
    text = response.content.decode()
    assert {e.partner_id for e in response.context["entries"]} == {partner_a.pk}
    assert f"Deal won {deal.reference}" in text and "Alpha adj" in text and "Beta adj" not in text

    only_deals = manager_client.get(url, {"source_type": SourceType.DEAL_WON})
    assert [e.source_type for e in only_deals.context["entries"]] == [SourceType.DEAL_WON]


def test_ledger_page_explains_a_clawback_and_its_shortfall(partner_a, partner_admin, manager_client):
    from programs.models import EarningEvent

    make_rule(event=EarningEvent.SALES_REPORTED, points="10", name="Sell-out")
    returned_sell_out(partner_admin=partner_admin, amount="10000.00", returned="4000.00")  # 100 − 40

    response = manager_client.get(reverse("staff:ledger_partner", args=[partner_a.public_id]))

    text = response.content.decode()
    assert 'data-source="sales_returned"' in text
    assert "Return of sale SO-1: −40 points (4,000 of 10,000 RUB returned × 100 points credited, Sell-out)" in text


def test_ledger_page_csv(partner_a, partner_b, manager, manager_client):
    give(partner_a, 5, manager, reason="=HYPERLINK(evil)")
    give(partner_b, 7, manager, reason="Beta adj")
    response = manager_client.get(reverse("staff:ledger_partner", args=[partner_a.public_id]), {"format": "csv"})
    rows = _csv_rows(response)
    assert rows[0][0] == "Partner" and "Entered by" in rows[0]
    assert len(rows) == 2
    assert rows[1][0] == "Alpha Systems" and rows[1][-2] == "Max Manager"
    assert rows[1][4] == "Manual adjustment: =HYPERLINK(evil)"
    assert "Beta adj" not in repr(rows)


def test_ledger_page_query_count_is_flat(
    partner_a, partner_admin, manager, manager_client, django_assert_max_num_queries
):
    make_rule(points="10")
    url = reverse("staff:ledger_partner", args=[partner_a.public_id])
    services.points_for_event(event="deal_won", source_id=won_deal(user=partner_admin, manager=manager).pk)
    give(partner_a, 5, manager)
    with django_assert_max_num_queries(20) as few:
        manager_client.get(url)
    for _ in range(6):
        services.points_for_event(event="deal_won", source_id=won_deal(user=partner_admin, manager=manager).pk)
        give(partner_a, 5, manager)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = manager_client.get(url)
    assert len(response.context["entries"]) == 14


# --- manual adjustment ----------------------------------------------------------------------------


def test_adjustment_credits_points_and_is_audited(partner_a, manager, manager_client):
    next_url = reverse("staff:partner_detail", args=[partner_a.public_id])
    response = manager_client.post(
        reverse("staff:ledger_adjust", args=[partner_a.public_id]),
        {"amount": "250", "reason": "Booth at the summit", "next": next_url},
    )
    assert response.status_code == 302 and response["Location"] == next_url
    entry = LedgerEntry.objects.get(source_type=SourceType.ADJUSTMENT)
    assert (entry.amount, entry.reason, entry.created_by) == (Decimal(250), "Booth at the summit", manager)
    assert AuditLog.objects.filter(action="points.adjust", reason="Booth at the summit").exists()


def test_adjustment_without_reason_or_zero_is_refused(partner_a, manager_client):
    url = reverse("staff:ledger_adjust", args=[partner_a.public_id])
    no_reason = manager_client.post(url, {"amount": "10", "reason": "  "})
    assert no_reason.status_code == 400
    assert "reason" in no_reason.context["adjust_form"].errors
    zero = manager_client.post(url, {"amount": "0", "reason": "why"})
    assert zero.status_code == 400
    assert "other than zero" in zero.content.decode()
    assert not LedgerEntry.objects.exists()


def test_adjustment_debit_beyond_the_balance_says_so(partner_a, manager, manager_client):
    give(partner_a, 30, manager)
    response = manager_client.post(
        reverse("staff:ledger_adjust", args=[partner_a.public_id]), {"amount": "-50", "reason": "Clawback"}
    )
    assert response.status_code == 400
    assert LedgerEntry.objects.count() == 1
    partner_a.points_balance.refresh_from_db()
    assert partner_a.points_balance.balance == 30
    assert response.context["adjust_form"].errors


# --- redemption queue ------------------------------------------------------------------------------


def test_queue_lists_open_requests_oldest_first(
    requested, partner_a, partner_b, partner_admin, manager, manager_client
):
    give(partner_a, 1000, manager)
    second = services.redemption_request(actor=partner_admin, reward=make_reward(cost=10, name="Pen"))
    response = manager_client.get(reverse("staff:redemption_queue"))
    assert [r.pk for r in response.context["redemptions"]] == [requested.pk, second.pk]
    text = response.content.decode()
    assert reverse("staff:redemption_approve", args=[requested.public_id]) in text
    assert reverse("staff:redemption_reject", args=[requested.public_id]) in text


def test_queue_filters_by_status_and_my_partners(requested, manager, lead, manager_client, client_for):
    services.redemption_approve(actor=manager, redemption=requested)
    approved = manager_client.get(reverse("staff:redemption_queue"), {"status": "approved"})
    assert [r.pk for r in approved.context["redemptions"]] == [requested.pk]
    assert reverse("staff:redemption_fulfil", args=[requested.public_id]) in approved.content.decode()
    rejected = manager_client.get(reverse("staff:redemption_queue"), {"status": "rejected"})
    assert list(rejected.context["redemptions"]) == []
    # Another manager's "only my partners" view does not include partner A (owned by `manager`).
    from prm.models import Role
    from tests.factories import StaffUserFactory

    other = StaffUserFactory(role=Role.CHANNEL_MANAGER)
    mine = client_for(other).get(reverse("staff:redemption_queue"), {"mine": "on"})
    assert list(mine.context["redemptions"]) == []
    everyone = client_for(other).get(reverse("staff:redemption_queue"))
    assert [r.pk for r in everyone.context["redemptions"]] == [requested.pk]


def test_queue_approve_fulfil_and_the_partner_sees_it(requested, manager_client, partner_admin_client):
    approve = manager_client.post(reverse("staff:redemption_approve", args=[requested.public_id]), follow=True)
    assert "approved" in approve.content.decode()
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.APPROVED
    manager_client.post(reverse("staff:redemption_fulfil", args=[requested.public_id]))
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.FULFILLED
    mine = partner_admin_client.get(reverse("cabinet:redemptions"))
    assert 'data-status="fulfilled"' in mine.content.decode()


def test_queue_reject_needs_a_reason_and_returns_points(partner_a, requested, manager_client):
    url = reverse("staff:redemption_reject", args=[requested.public_id])
    refused = manager_client.post(url, {"reason": " "}, follow=True)
    assert "Give a reason" in refused.content.decode()
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.REQUESTED

    manager_client.post(url, {"reason": "Sold out at the venue"})
    requested.refresh_from_db()
    assert (requested.status, requested.decision_reason) == (RedemptionStatus.REJECTED, "Sold out at the venue")
    partner_a.points_balance.refresh_from_db()
    assert partner_a.points_balance.balance == 1000
    assert Reward.objects.get(pk=requested.reward_id).stock == 4


def test_queue_second_decision_says_already_decided(requested, manager, manager_client):
    services.redemption_reject(actor=manager, redemption=requested, reason="No")
    response = manager_client.post(reverse("staff:redemption_approve", args=[requested.public_id]), follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    requested.refresh_from_db()
    assert requested.status == RedemptionStatus.REJECTED


def test_queue_csv(requested, manager_client):
    response = manager_client.get(reverse("staff:redemption_queue"), {"format": "csv"})
    rows = _csv_rows(response)
    assert rows[0][:3] == ["Requested", "Partner", "Reward"]
    assert rows[1][1:3] == ["Alpha Systems", "Conference ticket"]
    assert len(rows) == 2


def test_queue_query_count_is_flat(partner_a, partner_admin, manager, manager_client, django_assert_max_num_queries):
    give(partner_a, 100_000, manager)
    services.redemption_request(actor=partner_admin, reward=make_reward(cost=10))
    with django_assert_max_num_queries(15) as few:
        manager_client.get(reverse("staff:redemption_queue"))
    for _ in range(8):
        services.redemption_request(actor=partner_admin, reward=make_reward(cost=10))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = manager_client.get(reverse("staff:redemption_queue"))
    assert len(response.context["redemptions"]) == 9


# --- points liability ------------------------------------------------------------------------------


def test_liability_by_partner_total_and_tier(partner_a, partner_b, manager, manager_client, settings):
    settings.PRM = {**settings.PRM, "POINT_VALUE_BASE": "0.50"}
    gold = Tier.objects.create(name="Gold", code="gold", rank=3)
    partner_a.tier = gold
    partner_a.save(update_fields=["tier"])
    give(partner_a, 1000, manager)
    give(partner_b, 400, manager)

    response = manager_client.get(reverse("staff:points_liability"))

    assert response.status_code == 200
    liability = response.context["liability"]
    assert liability.total_points == 1400 and liability.total_value == Decimal("700.00")
    assert [r["partner"].pk for r in response.context["rows"]] == [partner_a.pk, partner_b.pk]
    chart = response.context["chart"]
    assert dict(zip(chart["labels"], chart["values"], strict=True)) == {"Gold": 500.0, "No tier": 200.0}
    text = response.content.decode()
    assert 'id="liability-chart-data"' in text and "chart.umd.min.js" in text
    json.loads(text.split('id="liability-chart-data" type="application/json">')[1].split("</script>")[0])


def test_liability_csv_has_rows_and_total(partner_a, partner_b, manager, manager_client):
    give(partner_a, 1000, manager)
    give(partner_b, 400, manager)
    rows = _csv_rows(manager_client.get(reverse("staff:points_liability"), {"format": "csv"}))
    assert rows[1][0] == "Alpha Systems" and rows[1][2] == "1000.00"
    assert rows[-1][0] == "Total" and rows[-1][2] == "1400.00"


def test_liability_query_count_is_flat(manager, manager_client, django_assert_max_num_queries):
    give(PartnerFactory(owner=manager), 10, manager)
    with django_assert_max_num_queries(12) as few:
        manager_client.get(reverse("staff:points_liability"))
    for i in range(10):
        partner = PartnerFactory(owner=manager, tier=Tier.objects.create(name=f"T{i}", code=f"t{i}", rank=50 + i))
        give(partner, 10 + i, manager)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = manager_client.get(reverse("staff:points_liability"))
    assert len(response.context["rows"]) == 11


# --- rewards catalogue ---------------------------------------------------------------------------


def test_reward_create_and_edit(manager_client):
    response = manager_client.post(
        reverse("staff:reward_create"),
        {
            "name": "Training voucher",
            "name_ru": "Сертификат на обучение",
            "name_zh": "培训券",
            "category": "training",
            "points_cost": "1500",
            "stock": "",
            "active": "on",
        },
    )
    assert response.status_code == 302
    reward = Reward.objects.get()
    assert (reward.points_cost, reward.stock, reward.active) == (1500, None, True)
    assert reward.name_i18n == {"ru": "Сертификат на обучение", "zh-hans": "培训券"}

    response = manager_client.post(
        reverse("staff:reward_edit", args=[reward.public_id]),
        {"name": "Training voucher", "category": "training", "points_cost": "1200", "stock": "3"},
    )
    assert response.status_code == 302
    reward.refresh_from_db()
    assert (reward.points_cost, reward.stock, reward.active) == (1200, 3, False)
    assert "Training voucher" in manager_client.get(reverse("staff:reward_list")).content.decode()


def test_reward_form_rejects_bad_input(manager_client):
    response = manager_client.post(
        reverse("staff:reward_create"), {"name": "", "category": "gift", "points_cost": "0", "stock": "-1"}
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "points_cost", "stock"}
    assert not Reward.objects.exists()


def test_redemption_decisions_on_an_unknown_or_foreign_id_are_404(manager_client, other_partner_client, requested):
    import uuid

    assert manager_client.post(reverse("staff:redemption_approve", args=[uuid.uuid4()])).status_code == 404
    assert other_partner_client.post(reverse("staff:redemption_approve", args=[requested.public_id])).status_code == 404
    assert Redemption.objects.get().status == RedemptionStatus.REQUESTED
