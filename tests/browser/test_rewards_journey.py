"""End to end in Chromium: a partner admin sees its points balance on the cabinet home, opens
the rewards catalogue, redeems a reward; the manager approves it in the redemption queue; the
partner sees the status change and the lower balance."""

from decimal import Decimal

import pytest
from django.urls import reverse

from programs import services
from programs.models import Redemption, RedemptionStatus
from tests.programs.ledger_helpers import make_reward

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base_url, email, password, next_path):
    page.goto(f"{base_url}{reverse('login')}?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"{base_url}{next_path}")


def test_rewards_journey_redeem_approve_and_the_partner_sees_it(
    live_server, new_page, celery_worker, settings, manager, partner_admin, password
):
    settings.SITE_URL = live_server.url
    base = live_server.url
    partner = partner_admin.partner
    services.points_adjust(actor=manager, partner=partner, amount=Decimal(2500), reason="Summit booth")
    ticket = make_reward(cost=1000, stock=2, name="Partner summit ticket", category="ticket")
    make_reward(cost=9000, name="Laptop")

    # The partner admin sees the balance on the cabinet home (loaded by htmx).
    alpha = new_page(viewport={"width": 1280, "height": 900})
    _log_in(alpha, base, partner_admin.email, password, reverse("cabinet:home"))
    card_balance = alpha.get_by_test_id("points-card-balance")
    card_balance.wait_for()
    assert card_balance.get_attribute("data-balance") == "2500"

    # The catalogue: the ticket can be redeemed, the laptop says why not.
    alpha.get_by_test_id("nav-rewards").click()
    alpha.wait_for_url(f"{base}{reverse('cabinet:rewards')}")
    laptop = alpha.locator('[data-testid="reward-card"]', has_text="Laptop")
    assert "You need 6,500 more points." in laptop.get_by_test_id("reward-unavailable-reason").inner_text()
    assert laptop.get_by_test_id("reward-redeem-disabled").is_disabled()
    card = alpha.locator(f'[data-testid="reward-card"][data-reward="{ticket.public_id}"]')
    card.get_by_test_id("reward-redeem").click()
    alpha.wait_for_url(f"{base}{reverse('cabinet:redemptions')}")
    assert "requested for 1000 points" in alpha.locator(".alert-success").inner_text()
    redemption = Redemption.objects.get()
    row = alpha.locator(f'[data-testid="redemption-row"][data-redemption="{redemption.public_id}"]')
    assert row.get_by_test_id("redemption-status").get_attribute("data-status") == RedemptionStatus.REQUESTED

    # The manager approves it from the queue (Programs → Redemptions).
    staff = new_page(viewport={"width": 1280, "height": 900})
    _log_in(staff, base, manager.email, password, reverse("staff:partner_list"))
    staff.get_by_test_id("nav-programs").click()
    staff.get_by_test_id("nav-redemptions").click()
    staff.wait_for_url(f"{base}{reverse('staff:redemption_queue')}")
    queue_row = staff.locator(f'[data-testid="queue-row"][data-redemption="{redemption.public_id}"]')
    assert "Alpha Systems" in queue_row.inner_text()
    queue_row.get_by_test_id("queue-approve").click()
    staff.wait_for_url(f"{base}{reverse('staff:redemption_queue')}")
    assert "approved" in staff.locator(".alert-success").inner_text()
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.APPROVED

    # The partner sees the status change, and the points it spent.
    alpha.reload()
    row = alpha.locator(f'[data-testid="redemption-row"][data-redemption="{redemption.public_id}"]')
    status = row.get_by_test_id("redemption-status")
    assert status.get_attribute("data-status") == RedemptionStatus.APPROVED
    assert "Approved" in status.inner_text()
    alpha.goto(f"{base}{reverse('cabinet:points')}")
    assert alpha.get_by_test_id("points-balance").get_attribute("data-balance") == "1500"
    assert "Redemption" in alpha.get_by_test_id("points-history").inner_text()


def test_staff_adjusts_points_on_the_partner_page_and_sees_the_liability_chart(
    live_server, new_page, settings, manager, partner_a, password
):
    from partners.models import Tier

    settings.SITE_URL = live_server.url
    base = live_server.url
    partner_a.tier = Tier.objects.create(name="Gold", code="gold", rank=3)
    partner_a.save(update_fields=["tier"])

    staff = new_page(viewport={"width": 1280, "height": 900})
    detail = reverse("staff:partner_detail", args=[partner_a.public_id])
    _log_in(staff, base, manager.email, password, detail)
    staff.get_by_test_id("tab-points").click()
    fragment = staff.get_by_test_id("partner-ledger")
    fragment.wait_for()
    assert staff.get_by_test_id("partner-ledger-balance").get_attribute("data-balance") == "0"
    fragment.locator("summary").click()
    fragment.locator("[name=amount]").fill("750")
    fragment.locator("[name=reason]").fill("Co-marketing webinar")
    fragment.get_by_test_id("ledger-adjust-submit").click()
    staff.wait_for_url(f"{base}{detail}")
    assert "750 points recorded" in staff.locator(".alert-success").inner_text()

    staff.get_by_test_id("nav-programs").click()
    staff.get_by_test_id("nav-liability").click()
    staff.wait_for_url(f"{base}{reverse('staff:points_liability')}")
    assert "750" in staff.get_by_test_id("liability-total-points").inner_text()
    # Chart.js drew the bars: the canvas got a size and no console error was reported.
    staff.wait_for_function("() => window.Chart && Chart.getChart('liability-chart') !== undefined")
    assert staff.evaluate("() => Chart.getChart('liability-chart').data.labels") == ["Gold"]
