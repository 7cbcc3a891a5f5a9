"""End to end in Chromium: a partner sees its tier progress bars (cabinet home card and tier
page, with what it lacks); the manager opens the tier report (chart drawn, at-risk list) and
the what-if calculator, whose result updates live as numbers are typed."""

import pytest
from django.urls import reverse

from programs import services
from tests.programs.tiers_factories import make_silver, tiers_fixture  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base_url, email, password, next_path):
    page.goto(f"{base_url}{reverse('login')}?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"{base_url}{next_path}")


def test_tier_journey(live_server, new_page, tiers, partner_a, partner_b, partner_admin, manager, password):
    make_silver(partner_a, partner_admin)
    partner_b.tier = tiers["gold"]
    partner_b.save(update_fields=["tier"])
    services.tiers_evaluate()  # A promoted to Silver, B (no numbers) at risk of losing Gold

    partner = new_page()
    _log_in(partner, live_server.url, partner_admin.email, password, reverse("cabinet:home"))
    card = partner.get_by_test_id("tier-card")
    card.wait_for()
    assert card.get_by_test_id("tier-card-bar").count() == 3
    partner.get_by_test_id("nav-tier").click()
    partner.wait_for_url(f"{live_server.url}{reverse('cabinet:tier_progress')}")
    assert partner.get_by_test_id("tier-name").inner_text() == "Silver"
    bars = partner.get_by_test_id("tier-bar")
    assert bars.count() == 3
    assert "3 more won deals" in partner.get_by_test_id("tier-next").inner_text()
    width = partner.locator("[data-testid=tier-bar][data-metric=won_deals] .progress-bar").evaluate(
        "el => el.style.width"
    )
    assert width == "40%"

    staff = new_page()
    _log_in(staff, live_server.url, manager.email, password, reverse("staff:tier_report"))
    assert staff.get_by_test_id("tier-at-risk-row").count() == 1
    assert "Beta Trade" in staff.get_by_test_id("tier-at-risk").inner_text()
    staff.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('tier-distribution'))")

    staff.get_by_test_id("whatif-link").click()
    staff.wait_for_url(f"{live_server.url}{reverse('staff:tier_whatif')}")
    staff.fill("#id_revenue", "6000000")
    staff.fill("#id_won_deals", "5")
    staff.fill("#id_certified_people", "1")
    result = staff.get_by_test_id("whatif-tier")
    staff.wait_for_function("() => document.querySelector('[data-testid=whatif-tier]')?.innerText === 'Silver'")
    staff.fill("#id_certified_people", "3")
    staff.wait_for_function("() => document.querySelector('[data-testid=whatif-tier]')?.innerText === 'Gold'")
    assert result.inner_text() == "Gold"
