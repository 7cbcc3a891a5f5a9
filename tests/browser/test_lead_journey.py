"""End to end in Chromium: the manager imports a CSV of leads and watches the import finish;
partner A accepts its lead within the SLA and lands on its new approved registration; partner B
declines its lead with a reason and the lead moves on to the next partner (seen on the staff
lead page). Partners never see whom else a lead went to."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from deals.models import DealStatus, Lead, LeadOfferStatus, LeadStatus
from tests.factories import PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Semicolons and a BOM, as Excel in Russian writes them.
CSV = (
    "\ufeffcustomer_name;country;city;latitude;longitude;contact_name;contact_email;estimated_value;currency;source\n"
    "Romashka Holding;RU;Moscow;;;Ivan Petrov;ivan@romashka.example;1 500 000;RUB;event\n"
    "Lindenbaum Logistik GmbH;DE;Berlin;52.52;13.405;Greta Lind;greta@lindenbaum.example;80000;EUR;web\n"
)


def _log_in(page, base_url, email, password, next_path):
    page.goto(f"{base_url}{reverse('login')}?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"{base_url}{next_path}")


@pytest.fixture
def import_task_on_test_worker(celery_worker):
    """Send the import task to the test worker's own queue (as the fixture does for prm.tasks)."""
    from prm.celery import app

    routes = dict(app.conf.task_routes)
    queue = routes["prm.tasks.*"]["queue"]
    app.conf.update(task_routes={**routes, "deals.*": {"queue": queue}})
    yield
    app.conf.update(task_routes=routes)


def test_lead_journey_import_accept_decline(
    live_server,
    new_page,
    import_task_on_test_worker,
    settings,
    manager,
    partner_a,
    partner_b,
    partner_admin,
    other_partner_user,
    password,
):
    settings.SITE_URL = live_server.url
    base = live_server.url
    # A sells in Russia. B (Berlin) and Gamma (Munich) in Germany: the Berlin lead goes to B,
    # the nearest; when B declines, Gamma is the only one left.
    partner_b.country, partner_b.region, partner_b.city = "DE", "europe", "Berlin"
    partner_b.latitude, partner_b.longitude = Decimal("52.50"), Decimal("13.40")
    partner_b.save()
    gamma = PartnerFactory(
        name="Gamma Systeme",
        country="DE",
        region="europe",
        city="Munich",
        latitude=Decimal("48.14"),
        longitude=Decimal("11.58"),
        owner=manager,
    )

    # The manager uploads the file, checks the preview and confirms; the import runs in Celery.
    staff = new_page(viewport={"width": 1280, "height": 900})
    _log_in(staff, base, manager.email, password, reverse("staff:lead_list"))
    staff.get_by_test_id("lead-import-link").click()
    staff.wait_for_url(f"{base}{reverse('staff:lead_import')}")
    staff.set_input_files(
        "input[name=file]", files=[{"name": "leads.csv", "mimeType": "text/csv", "buffer": CSV.encode("utf-8")}]
    )
    staff.get_by_test_id("lead-import-preview").click()
    staff.get_by_test_id("lead-import-confirm").wait_for()
    assert staff.get_by_test_id("lead-import-row").count() == 2
    assert staff.locator('[data-testid="lead-import-row"][data-valid="0"]').count() == 0
    assert Lead.objects.count() == 0  # the preview saves nothing
    staff.get_by_test_id("lead-import-confirm").click()
    staff.wait_for_url(re.compile(rf"{re.escape(base)}/staff/leads/import/[0-9a-f-]{{36}}/$"))
    staff.get_by_test_id("lead-import-progress").wait_for()
    staff.get_by_test_id("lead-import-done").wait_for(timeout=30_000)
    assert "2 leads imported" in staff.get_by_test_id("lead-import-done").inner_text()
    moscow = Lead.objects.get(customer_name="Romashka Holding")
    berlin = Lead.objects.get(customer_name="Lindenbaum Logistik GmbH")
    assert (moscow.status, moscow.offered_to) == (LeadStatus.OFFERED, partner_a)
    assert (berlin.status, berlin.offered_to) == (LeadStatus.OFFERED, partner_b)

    # Partner A sees its lead on the home page with the countdown, opens it and accepts.
    alpha = new_page(viewport={"width": 390, "height": 844})  # a phone
    _log_in(alpha, base, partner_admin.email, password, reverse("cabinet:home"))
    card = alpha.locator(f'[data-testid="open-lead"][data-reference="{moscow.reference}"]')
    card.wait_for()
    assert "left to accept" in card.get_by_test_id("lead-countdown").inner_text()
    assert "Lindenbaum" not in alpha.content()
    card.get_by_role("link").click()
    alpha.wait_for_url(f"{base}{reverse('cabinet:lead_detail', args=[moscow.public_id])}")
    assert "Ivan Petrov" in alpha.get_by_test_id("lead-facts").inner_text()
    alpha.get_by_test_id("lead-accept").click()
    alpha.wait_for_url(re.compile(rf"{re.escape(base)}/cabinet/deals/[0-9a-f-]{{36}}/$"))
    moscow.refresh_from_db()
    assert moscow.status == LeadStatus.ACCEPTED
    deal = moscow.registration
    assert alpha.url == f"{base}{reverse('cabinet:deal_detail', args=[deal.public_id])}"
    assert alpha.get_by_test_id("deal-status").get_attribute("data-status") == DealStatus.APPROVED
    assert deal.reference in alpha.content()

    # Partner B declines its lead with a reason; it leaves B's inbox.
    beta = new_page(viewport={"width": 1280, "height": 900})
    _log_in(beta, base, other_partner_user.email, password, reverse("cabinet:lead_list"))
    beta.locator(f'[data-testid="lead-inbox-item"][data-reference="{berlin.reference}"]').click()
    beta.wait_for_url(f"{base}{reverse('cabinet:lead_detail', args=[berlin.public_id])}")
    beta.fill("[name=reason]", "Logistics is not our field")
    beta.get_by_test_id("lead-decline").click()
    beta.wait_for_url(f"{base}{reverse('cabinet:lead_list')}")
    assert beta.get_by_test_id("lead-inbox-empty").is_visible()
    assert beta.locator(f'[data-testid="lead-history-row"][data-reference="{berlin.reference}"]').is_visible()
    assert gamma.name not in beta.content()

    # The manager sees on the lead page that it moved on to Gamma, and why.
    staff.goto(f"{base}{reverse('staff:lead_detail', args=[berlin.public_id])}")
    assert "Gamma Systeme" in staff.get_by_test_id("lead-offered-to").inner_text()
    declined = staff.locator(f'[data-testid="lead-offer-row"][data-status="{LeadOfferStatus.DECLINED}"]')
    assert "Beta Trade" in declined.inner_text() and "Logistics is not our field" in declined.inner_text()
    why = staff.get_by_test_id("routing-explanation")
    assert why.locator('[data-testid="routing-exclusions"] [data-reason="already_offered"]').count() == 1
    assert why.locator('[data-testid="routing-candidate"][data-chosen="1"]').get_attribute("data-partner") == gamma.name
    # The first decision (Beta, the nearest) stays in the history.
    assert staff.get_by_test_id("routing-history-item").count() == 1
    berlin.refresh_from_db()
    assert berlin.offered_to == gamma and berlin.status == LeadStatus.OFFERED
