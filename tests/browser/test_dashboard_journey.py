"""In Chromium: the channel manager opens the dashboard, every chart draws (a canvas Chart.js
has painted, no console errors — the fixture fails on any), the table is one click away, and a
queue card leads to its queue. The partner's home renders on a phone (375×812) with its charts."""

import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from deals.models import SalesKind, SalesRecord
from tests.deals.factories import customer_data, make_deal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base_url, email, password, next_path):
    page.goto(f"{base_url}{reverse('login')}?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"{base_url}{next_path}")


def _customer():
    letters = "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:14]).capitalize()
    return customer_data(name=letters, website=f"https://{uuid.uuid4().hex[:10]}.example", tax_id="")


def _drawn_charts(page) -> int:
    """Chart blocks charts.js has built and whose canvas has been given a size."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-prm-chart]')).filter(
            b => b.dataset.prmChartReady === '1' && b.querySelector('canvas').width > 0).length"""
    )


@pytest.fixture
def activity(partner_a, partner_admin):
    """Something to draw: a registration waiting for review and revenue this month."""
    make_deal(user=partner_admin, customer=_customer(), submit=True, value="250000.00")
    SalesRecord.objects.create(
        partner=partner_a, kind=SalesKind.SELL_IN, occurred_on=timezone.localdate(), amount="90000.00", currency="RUB"
    )


def test_manager_dashboard_charts_render_and_a_card_leads_to_its_queue(
    live_server, new_page, manager, password, activity
):
    page = new_page(viewport={"width": 1366, "height": 900})
    home = reverse("staff:home")
    _log_in(page, live_server.url, manager.email, password, home)

    charts = page.locator("[data-prm-chart] canvas")
    assert charts.count() == 6  # five channel charts and the lead funnel
    page.wait_for_function("() => document.querySelectorAll('[data-prm-chart-ready]').length === 6")
    assert _drawn_charts(page) == 6

    # The table is one click away and the chart comes back on a second click.
    table = page.get_by_test_id("chart-pipeline_by_stage-table")
    assert not table.is_visible()
    page.get_by_test_id("chart-pipeline_by_stage-toggle").click()
    assert table.is_visible()
    assert "250" in table.inner_text()
    page.get_by_test_id("chart-pipeline_by_stage-toggle").click()
    assert not table.is_visible()

    # The review card counts the waiting registration and opens the review queue.
    card = page.get_by_test_id("queue-card-registrations_to_review")
    assert card.get_by_test_id("queue-card-count").inner_text() == "1"
    card.click()
    page.wait_for_url(re.compile(re.escape(live_server.url + reverse("staff:deal_review_queue"))))

    # The KPI scorecard and the forecasts page draw their charts too.
    for name in ("staff:kpi_scorecard", "staff:forecasts"):
        page.goto(live_server.url + reverse(name))
        page.wait_for_function("() => document.querySelectorAll('[data-prm-chart-ready]').length === 1")
        assert _drawn_charts(page) == 1


def test_partner_home_renders_on_a_phone_with_its_charts(live_server, new_page, partner_admin, password, activity):
    page = new_page(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    home = reverse("cabinet:home")
    _log_in(page, live_server.url, partner_admin.email, password, home)

    page.wait_for_function("() => document.querySelectorAll('[data-prm-chart-ready]').length === 4")
    assert _drawn_charts(page) == 4
    # Nothing sticks out sideways on a phone.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    for key in ("my_registrations", "my_win_rate", "my_revenue", "my_commit"):
        box = page.get_by_test_id(f"chart-{key}").bounding_box()
        assert box["width"] <= 375
    assert page.get_by_test_id("commit-form").is_visible()
    # The open registrations card still loads into its slot.
    page.get_by_test_id("open-registrations-slot").get_by_test_id("open-registration").first.wait_for()
