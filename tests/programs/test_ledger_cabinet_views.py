"""Cabinet points and rewards pages: balance, expiry, history with the rule behind each entry,
CSV, the catalogue (redeem for partner admins only, disabled with a reason when short), my
redemptions with cancel — and that partner B never sees or touches A's."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from partners.models import Tier
from programs import services
from programs.models import EarningEvent, LedgerEntry, Redemption, RedemptionStatus, SourceType
from tests.programs.ledger_helpers import make_reward, make_rule, returned_sell_out, won_deal

pytestmark = pytest.mark.django_db


def give(partner, points, manager, reason="Welcome bonus"):
    return services.points_adjust(actor=manager, partner=partner, amount=Decimal(points), reason=reason)


def _csv_rows(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


# --- points page -------------------------------------------------------------------------------


def test_points_page_shows_balance_and_history_with_the_rule(partner_a, partner_admin, manager, partner_admin_client):
    partner_a.tier = Tier.objects.create(name="Gold", code="gold", rank=3, points_multiplier=Decimal("1.5"))
    partner_a.save(update_fields=["tier"])
    make_rule(points="10", name="Won deals")  # 10 points per 1,000, × 1.5
    deal = won_deal(user=partner_admin, manager=manager, value="125000.00")
    services.points_for_event(event="deal_won", source_id=deal.pk)
    give(partner_a, 100, manager, reason="Conference booth")

    response = partner_admin_client.get(reverse("cabinet:points"))

    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-balance="1975"' in text  # 125 × 10 × 1.5 = 1,875 + 100
    assert f"Deal won {deal.reference}" in text
    assert "1,250" in text and "× 1.5 tier multiplier" in text and "Won deals" in text
    assert "Manual adjustment: Conference booth" in text


def test_points_page_shows_a_returned_sale_taken_back_and_partner_b_does_not(
    partner_a, partner_admin, partner_admin_client, other_partner_client
):
    make_rule(event=EarningEvent.SALES_REPORTED, points="10", name="Sell-out")
    returned_sell_out(partner_admin=partner_admin, amount="100000.00", returned="25000.00")

    response = partner_admin_client.get(reverse("cabinet:points"))

    text = response.content.decode()
    assert 'data-balance="750"' in text
    assert 'data-source="sales_returned"' in text
    assert "Return of sale SO-1: −250 points (25,000 of 100,000 RUB returned × 1,000 points credited, Sell-out)" in text
    assert ">-250</td>" in text
    only = partner_admin_client.get(reverse("cabinet:points"), {"source_type": "sales_returned"})
    assert [e.source_type for e in only.context["entries"]] == ["sales_returned"]
    rows = _csv_rows(partner_admin_client.get(reverse("cabinet:points"), {"format": "csv"}))
    # (The CSV helper quotes a leading minus against formula injection.)
    assert rows[1][1:3] == ["'-250.00", "Sale returned"] and rows[1][3].startswith("Return of sale SO-1: −250 points")
    other = other_partner_client.get(reverse("cabinet:points")).content.decode()
    assert "SO-1" not in other and 'data-source="sales_returned"' not in other


def old_credit(partner, points, *, days_ago, reason="Old credit"):
    """A credit that occurred `days_ago` (so it expires POINTS_EXPIRE_MONTHS after that)."""
    return services.ledger_accrue(
        partner=partner,
        kind="points",
        amount=Decimal(points),
        unit="points",
        source_type=SourceType.ADJUSTMENT,
        source_id=f"test-{partner.pk}-{days_ago}-{points}",
        occurred_at=timezone.now() - dt.timedelta(days=days_ago),
        reason=reason,
    )


def test_points_page_says_how_many_points_expire_and_when(partner_a, partner_admin_client, settings):
    settings.PRM = {**settings.PRM, "POINTS_EXPIRE_MONTHS": 2}
    entry = old_credit(partner_a, 300, days_ago=50)  # expires in about 10 days
    old_credit(partner_a, 50, days_ago=0)  # expires in two months: outside the window

    response = partner_admin_client.get(reverse("cabinet:points"))

    assert response.status_code == 200
    assert response.context["expiring"].points == 300
    assert response.context["expiring"].first_date == entry.expires_at
    text = response.content.decode()
    assert 'data-testid="points-expiring"' in text
    assert "300 points expire on" in text


def test_points_page_filters_by_source(partner_a, partner_admin, manager, partner_admin_client):
    give(partner_a, 500, manager, reason="Credit")
    reward = make_reward(cost=200, name="Mug")
    services.redemption_request(actor=partner_admin, reward=reward)

    response = partner_admin_client.get(reverse("cabinet:points"), {"source_type": SourceType.REDEMPTION})

    entries = list(response.context["entries"])
    assert [e.source_type for e in entries] == [SourceType.REDEMPTION]
    assert entries[0].amount == -200


def test_points_page_paginates(partner_a, manager, partner_admin_client):
    for i in range(30):
        give(partner_a, 1, manager, reason=f"r{i}")
    response = partner_admin_client.get(reverse("cabinet:points"), {"page": 2})
    assert response.status_code == 200
    assert len(response.context["entries"]) == 5


def test_points_csv_has_only_own_entries(partner_a, partner_b, manager, partner_admin_client):
    give(partner_a, 40, manager, reason="Alpha credit")
    give(partner_b, 70, manager, reason="Beta secret credit")

    response = partner_admin_client.get(reverse("cabinet:points"), {"format": "csv"})

    assert response.status_code == 200
    rows = _csv_rows(response)
    assert rows[0][:2] == ["Date", "Points"]
    assert len(rows) == 2
    assert "Alpha credit" in rows[1][3]
    assert "Beta" not in "".join(",".join(r) for r in rows)
    assert "Entered by" not in rows[0]  # vendor-side names stay out of the partner's export


def test_points_history_queries_do_not_grow_with_rows(
    partner_a, partner_admin, manager, partner_admin_client, django_assert_max_num_queries
):
    make_rule(points="10")
    for _ in range(3):
        services.points_for_event(event="deal_won", source_id=won_deal(user=partner_admin, manager=manager).pk)
        give(partner_a, 5, manager)
    with django_assert_max_num_queries(14) as few:
        partner_admin_client.get(reverse("cabinet:points"))
    for _ in range(8):
        services.points_for_event(event="deal_won", source_id=won_deal(user=partner_admin, manager=manager).pk)
        give(partner_a, 5, manager)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = partner_admin_client.get(reverse("cabinet:points"))
    assert len(response.context["entries"]) == 22


def test_points_card_fragment(partner_a, manager, partner_rep_client):
    give(partner_a, 1234, manager)
    response = partner_rep_client.get(reverse("cabinet:points_card"))
    assert response.status_code == 200
    assert 'data-balance="1234"' in response.content.decode()
    assert "{% " not in response.content.decode()


def test_cabinet_home_loads_the_points_card(partner_admin_client):
    response = partner_admin_client.get(reverse("cabinet:home"))
    assert reverse("cabinet:points_card") in response.content.decode()


@pytest.mark.parametrize("name", ["cabinet:points", "cabinet:points_card", "cabinet:rewards", "cabinet:redemptions"])
def test_cabinet_pages_send_anonymous_users_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.parametrize("name", ["cabinet:points", "cabinet:points_card", "cabinet:rewards", "cabinet:redemptions"])
def test_cabinet_pages_are_not_for_staff(manager_client, name):
    assert manager_client.get(reverse(name)).status_code == 404


def test_partner_b_sees_its_own_zero_balance_not_a(partner_a, manager, other_partner_client):
    give(partner_a, 900, manager, reason="Alpha only")
    response = other_partner_client.get(reverse("cabinet:points"))
    text = response.content.decode()
    assert 'data-balance="0"' in text
    assert "Alpha only" not in text


# --- rewards catalogue -----------------------------------------------------------------------------


def test_catalogue_lets_a_partner_admin_redeem_what_it_can_afford(partner_a, manager, partner_admin_client):
    give(partner_a, 500, manager)
    cheap = make_reward(cost=100, name="Mug", stock=3)
    dear = make_reward(cost=900, name="Trip")
    gone = make_reward(cost=50, name="Pen", stock=0)

    response = partner_admin_client.get(reverse("cabinet:rewards"))

    assert response.status_code == 200
    options = {o.reward.pk: o for o in response.context["rewards"]}
    assert options[cheap.pk].reason == ""
    assert options[dear.pk].reason == "You need 400 more points."
    assert options[gone.pk].reason == "Out of stock."
    text = response.content.decode()
    assert reverse("cabinet:reward_redeem", args=[cheap.public_id]) in text
    assert reverse("cabinet:reward_redeem", args=[dear.public_id]) not in text
    assert "You need 400 more points." in text


def test_catalogue_tells_a_rep_only_admins_redeem(partner_a, manager, partner_rep_client):
    give(partner_a, 500, manager)
    reward = make_reward(cost=100)
    response = partner_rep_client.get(reverse("cabinet:rewards"))
    text = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="rewards-admin-only"' in text
    assert reverse("cabinet:reward_redeem", args=[reward.public_id]) not in text


def test_catalogue_hides_withdrawn_rewards(partner_admin_client):
    make_reward(name="Shown")
    hidden = make_reward(name="Withdrawn thing")
    hidden.active = False
    hidden.save(update_fields=["active"])
    text = partner_admin_client.get(reverse("cabinet:rewards")).content.decode()
    assert "Shown" in text and "Withdrawn thing" not in text


def test_redeem_debits_points_and_lists_the_request(partner_a, partner_admin, manager, partner_admin_client):
    give(partner_a, 500, manager)
    reward = make_reward(cost=100, stock=5)

    response = partner_admin_client.post(
        reverse("cabinet:reward_redeem", args=[reward.public_id]), {"quantity": "2"}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("cabinet:redemptions")
    redemption = Redemption.objects.get()
    assert (redemption.partner, redemption.requested_by, redemption.points) == (partner_a, partner_admin, 200)
    assert redemption.status == RedemptionStatus.REQUESTED
    partner_a.points_balance.refresh_from_db()
    assert partner_a.points_balance.balance == 300
    assert "requested for 200 points" in response.content.decode()
    assert 'data-status="requested"' in response.content.decode()


def test_redeem_with_too_few_points_says_so_and_writes_nothing(partner_a, manager, partner_admin_client):
    give(partner_a, 50, manager)
    reward = make_reward(cost=100, stock=5)

    response = partner_admin_client.post(reverse("cabinet:reward_redeem", args=[reward.public_id]), follow=True)

    assert Redemption.objects.count() == 0
    assert "Not enough points: this costs 100 points and your balance is 50." in response.content.decode()
    reward.refresh_from_db()
    assert reward.stock == 5


def test_redeem_out_of_stock_says_so(partner_a, manager, partner_admin_client):
    give(partner_a, 500, manager)
    reward = make_reward(cost=100, stock=1)
    response = partner_admin_client.post(
        reverse("cabinet:reward_redeem", args=[reward.public_id]), {"quantity": "2"}, follow=True
    )
    assert Redemption.objects.count() == 0
    assert "Out of stock" in response.content.decode()


def test_redeem_bad_quantity_is_refused_with_a_message(partner_a, manager, partner_admin_client):
    give(partner_a, 500, manager)
    reward = make_reward(cost=100)
    response = partner_admin_client.post(
        reverse("cabinet:reward_redeem", args=[reward.public_id]), {"quantity": "0"}, follow=True
    )
    assert Redemption.objects.count() == 0
    assert "Enter a quantity of at least 1." in response.content.decode()


def test_reps_cannot_redeem(partner_a, manager, partner_rep_client):
    give(partner_a, 500, manager)
    reward = make_reward(cost=100)
    response = partner_rep_client.post(reverse("cabinet:reward_redeem", args=[reward.public_id]))
    assert response.status_code == 404
    assert Redemption.objects.count() == 0


def test_redeem_anonymous_goes_to_log_in(client):
    reward = make_reward()
    response = client.post(reverse("cabinet:reward_redeem", args=[reward.public_id]))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert Redemption.objects.count() == 0


def test_redeem_a_withdrawn_reward_is_refused(partner_a, manager, partner_admin_client):
    give(partner_a, 500, manager)
    reward = make_reward(cost=100)
    reward.active = False
    reward.save(update_fields=["active"])
    # A withdrawn reward is not in the partner's catalogue any more: it is not found.
    response = partner_admin_client.post(reverse("cabinet:reward_redeem", args=[reward.public_id]))
    assert response.status_code == 404
    assert Redemption.objects.count() == 0


# --- my redemptions ----------------------------------------------------------------------------------


@pytest.fixture
def alpha_redemption(partner_a, partner_admin, manager):
    give(partner_a, 500, manager)
    return services.redemption_request(actor=partner_admin, reward=make_reward(cost=100, name="Alpha mug"))


def test_my_redemptions_list_and_filter(alpha_redemption, partner_admin_client, partner_rep_client):
    response = partner_admin_client.get(reverse("cabinet:redemptions"))
    assert response.status_code == 200
    assert [r.pk for r in response.context["redemptions"]] == [alpha_redemption.pk]
    assert reverse("cabinet:redemption_cancel", args=[alpha_redemption.public_id]) in response.content.decode()
    filtered = partner_admin_client.get(reverse("cabinet:redemptions"), {"status": "fulfilled"})
    assert list(filtered.context["redemptions"]) == []
    # A rep sees the company's redemptions but has no cancel button.
    rep_page = partner_rep_client.get(reverse("cabinet:redemptions"))
    assert [r.pk for r in rep_page.context["redemptions"]] == [alpha_redemption.pk]
    assert reverse("cabinet:redemption_cancel", args=[alpha_redemption.public_id]) not in rep_page.content.decode()


def test_my_redemptions_query_count_is_flat(
    partner_a, partner_admin, manager, partner_admin_client, django_assert_max_num_queries
):
    give(partner_a, 10_000, manager)
    reward = make_reward(cost=10)
    services.redemption_request(actor=partner_admin, reward=reward)
    with django_assert_max_num_queries(12) as few:
        partner_admin_client.get(reverse("cabinet:redemptions"))
    for _ in range(10):
        services.redemption_request(actor=partner_admin, reward=make_reward(cost=10))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = partner_admin_client.get(reverse("cabinet:redemptions"))
    assert len(response.context["redemptions"]) == 11


def test_cancel_returns_the_points(partner_a, alpha_redemption, partner_admin_client):
    response = partner_admin_client.post(
        reverse("cabinet:redemption_cancel", args=[alpha_redemption.public_id]), follow=True
    )
    alpha_redemption.refresh_from_db()
    assert alpha_redemption.status == RedemptionStatus.CANCELLED
    partner_a.points_balance.refresh_from_db()
    assert partner_a.points_balance.balance == 500
    assert "the points are back on your balance" in response.content.decode()


def test_cancel_after_approval_is_refused_with_a_message(alpha_redemption, manager, partner_admin_client):
    services.redemption_approve(actor=manager, redemption=alpha_redemption)
    response = partner_admin_client.post(
        reverse("cabinet:redemption_cancel", args=[alpha_redemption.public_id]), follow=True
    )
    alpha_redemption.refresh_from_db()
    assert alpha_redemption.status == RedemptionStatus.APPROVED
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]


def test_partner_b_cannot_see_or_cancel_a_redemption_of_a(alpha_redemption, other_partner_client):
    listing = other_partner_client.get(reverse("cabinet:redemptions"))
    assert list(listing.context["redemptions"]) == []
    assert "Alpha mug" not in listing.content.decode()
    response = other_partner_client.post(reverse("cabinet:redemption_cancel", args=[alpha_redemption.public_id]))
    assert response.status_code == 404
    alpha_redemption.refresh_from_db()
    assert alpha_redemption.status == RedemptionStatus.REQUESTED


def test_rep_cannot_cancel(alpha_redemption, partner_rep_client):
    response = partner_rep_client.post(reverse("cabinet:redemption_cancel", args=[alpha_redemption.public_id]))
    assert response.status_code == 404
    alpha_redemption.refresh_from_db()
    assert alpha_redemption.status == RedemptionStatus.REQUESTED


# --- the words behind each entry -------------------------------------------------------------------


def _entry(source_type, *, reason="", calculation=None, rule=None):
    entry = LedgerEntry(source_type=source_type, source_id="1", reason=reason, calculation=calculation or {})
    entry.rule = rule
    entry.rule_id = rule.pk if rule else None
    return entry


@pytest.mark.parametrize(
    ("source_type", "reason", "calculation", "expected"),
    [
        (SourceType.EXPIRY, "expired lot 42", None, "Points expired"),
        (SourceType.REDEMPTION, "Branded mug", None, "Redemption: Branded mug"),
        (SourceType.REDEMPTION_RETURN, "Sold out", None, "Redemption returned: Sold out"),
        (SourceType.REVERSAL, "Duplicate deal", None, "Reversal: Duplicate deal"),
        (
            SourceType.REGISTRATION_APPROVED,
            "",
            {"rate": "50", "multiplier": "1.25", "per_thousand": False},
            "Registration approved: 50 × 1.25 tier multiplier",
        ),
        (
            SourceType.CERTIFICATION_EARNED,
            "",
            {"rate": "200", "multiplier": "1", "capped": True},
            "Certification earned: 200 (capped)",
        ),
    ],
)
def test_describe_entry_says_why_in_words(source_type, reason, calculation, expected):
    from programs.views.ledger_display import describe_entry

    assert describe_entry(_entry(source_type, reason=reason, calculation=calculation)) == expected
