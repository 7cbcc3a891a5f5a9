"""End to end in Chromium: partner A registers a deal that the manager approves; partner B
registers the same customer, is told it is held (never by whom), submits anyway; the manager
resolves the conflict for A; B sees the outcome without A's identity."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from deals import services
from deals.models import Conflict, DealRegistration, DealStatus
from tests.deals.factories import ProductFactory, ProductLineFactory, customer_data, make_deal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CUSTOMER = {
    "customer_name": "Romashka Holding",
    "customer_website": "https://www.romashka-holding.ru",
    "customer_tax_id": "7707083893",
    "customer_country": "RU",
    "customer_city": "Moscow",
}
A_TITLE = "Alpha core network refresh"
A_VALUE = "987654"


def _log_in(page, base_url, email, password, next_path):
    page.goto(f"{base_url}{reverse('login')}?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"{base_url}{next_path}")


def _fill_field(page, name, value):
    field = page.locator(f"[name={name}]").first
    tag = field.evaluate("el => el.tagName")
    if tag == "SELECT":
        field.select_option(value)
    else:
        field.fill(value)


def _choose_product(page, product):
    select = page.locator("select[name=products]")
    if select.count():
        options = select.locator("option").evaluate_all("els => els.map(o => [o.value, o.textContent])")
        value = next(v for v, text in options if product.name in text)
        select.select_option([value])
    else:
        page.locator("[name=products]").locator(f"xpath=//label[contains(., '{product.name}')]").first.click()


def _register(page, base_url, product, title, value, *, expected_verdict):
    """Open "Register a deal", type the customer, wait for the live check, fill the rest, submit."""
    page.goto(f"{base_url}{reverse('cabinet:deal_create')}")
    for name, value_ in CUSTOMER.items():
        _fill_field(page, name, value_)
    page.locator("[name=customer_tax_id]").press("Tab")
    verdict = page.locator(f'[data-testid="precheck-verdict"][data-verdict="{expected_verdict}"]')
    verdict.wait_for(state="visible")
    page.fill("[name=title]", title)
    _choose_product(page, product)
    page.fill("[name=value]", value)
    _fill_field(page, "currency", "RUB")
    page.fill("[name=expected_close_date]", (timezone.localdate() + dt.timedelta(days=60)).isoformat())
    _fill_field(page, "stage", "proposal")
    return verdict


def _submit(page, base_url):
    page.get_by_test_id("deal-submit").click()
    page.wait_for_url(re.compile(rf"{re.escape(base_url)}/cabinet/.+/[0-9a-f-]{{36}}/?$"))
    page.get_by_test_id("deal-status").wait_for()


def test_deal_journey_register_approve_conflict_resolved_without_revealing_the_winner(
    live_server, new_page, celery_worker, settings, manager, partner_admin, other_partner_user, password
):
    settings.SITE_URL = live_server.url
    base = live_server.url
    product = ProductFactory(line=ProductLineFactory(name="Firewalls", code="firewalls"), name="Edge Firewall 500")

    # Partner A registers the customer: the live check says "clear".
    alpha = new_page(viewport={"width": 1280, "height": 900})
    _log_in(alpha, base, partner_admin.email, password, reverse("cabinet:deal_list"))
    _register(alpha, base, product, A_TITLE, A_VALUE, expected_verdict="clear")
    _submit(alpha, base)
    a_deal = DealRegistration.objects.get(partner=partner_admin.partner)
    assert a_deal.status == DealStatus.SUBMITTED
    assert alpha.get_by_test_id("deal-status").get_attribute("data-status") == DealStatus.SUBMITTED
    alpha_url = alpha.url

    # The manager approves it from the review queue.
    staff = new_page(viewport={"width": 1280, "height": 900})
    _log_in(staff, base, manager.email, password, reverse("staff:deal_review_queue"))
    row = staff.locator(f'[data-testid="review-row"][data-reference="{a_deal.reference}"]')
    assert row.get_by_test_id("sla-badge").get_attribute("data-sla") == "green"
    row.get_by_test_id("deal-approve").click()
    staff.wait_for_url(f"{base}{reverse('staff:deal_review_queue')}")
    assert f"Registration {a_deal.reference} approved." in staff.locator(".alert-success").inner_text()
    assert staff.locator(f'[data-testid="review-row"][data-reference="{a_deal.reference}"]').count() == 0

    # Partner A sees it approved and protected.
    alpha.goto(alpha_url)
    status = alpha.get_by_test_id("deal-status")
    assert status.get_attribute("data-status") == DealStatus.APPROVED
    assert "Approved" in status.inner_text()
    a_deal.refresh_from_db()
    assert a_deal.protected_until is not None
    protected = alpha.get_by_test_id("protected-until").inner_text()
    assert re.search(r"\d", protected), protected

    # Partner B registers the same customer: "held", and nothing says by whom.
    beta = new_page(viewport={"width": 1280, "height": 900})
    _log_in(beta, base, other_partner_user.email, password, reverse("cabinet:deal_list"))
    _register(beta, base, product, "Beta firewall deal", "120000", expected_verdict="held")
    _assert_no_trace_of_alpha(beta.content(), a_deal)
    _submit(beta, base)
    b_deal = DealRegistration.objects.get(partner=other_partner_user.partner)
    beta_url = beta.url
    _assert_no_trace_of_alpha(beta.content(), a_deal)
    conflict = Conflict.objects.get()

    # The manager opens the conflicts queue, the conflict, sees both sides, awards it to A.
    staff.get_by_test_id("nav-conflicts").click()
    staff.wait_for_url(f"{base}{reverse('staff:conflict_list')}")
    staff.locator(f'[data-testid="conflict-row"][data-conflict="{conflict.public_id}"]').get_by_test_id(
        "conflict-link"
    ).click()
    staff.wait_for_url(f"{base}{reverse('staff:conflict_detail', args=[conflict.public_id])}")
    sides = staff.get_by_test_id("conflict-side")
    assert sides.count() == 2
    sides_text = staff.get_by_test_id("conflict-sides").inner_text()
    for text in ("Alpha Systems", "Beta Trade", a_deal.reference, b_deal.reference, CUSTOMER["customer_tax_id"]):
        assert text in sides_text
    assert "Tax id" in staff.get_by_test_id("matched-fields").inner_text()
    # The default rule (earliest approved) proposes A, pre-selected.
    proposal = staff.get_by_test_id("proposed-resolution")
    assert a_deal.reference in proposal.inner_text()
    award_a = staff.get_by_label(re.compile(rf"Award to Alpha Systems \({a_deal.reference}\)"))
    assert award_a.is_checked()
    staff.fill("[name=reason]", "Alpha registered and was approved first.")
    staff.get_by_test_id("conflict-resolve").click()
    staff.get_by_test_id("conflict-outcome").wait_for()
    assert staff.get_by_test_id("conflict-outcome").get_attribute("data-outcome") == "award"
    conflict.refresh_from_db()
    assert conflict.winner_id == a_deal.pk

    # B's deal page shows the outcome, and still nothing about A.
    beta.goto(beta_url)
    assert beta.get_by_test_id("deal-status").get_attribute("data-status") == DealStatus.REJECTED
    assert beta.get_by_test_id("conflict-notice").is_visible()
    _assert_no_trace_of_alpha(beta.content(), a_deal)


def _assert_no_trace_of_alpha(html: str, a_deal):
    for secret in (
        "Alpha Systems",
        a_deal.partner.legal_name,
        a_deal.reference,
        str(a_deal.public_id),
        A_TITLE,
        "987654",
        "987,654",
        "987 654",
        "987\u00a0654",
    ):
        assert secret not in html, f"{secret!r} leaked to partner B"


def test_staff_deal_pages_work_on_a_phone(live_server, new_page, celery_worker, manager, partner_admin, password):
    base = live_server.url
    product = ProductFactory(line=ProductLineFactory(name="Firewalls", code="firewalls"), name="Edge Firewall 500")
    to_reject = make_deal(user=partner_admin, customer=customer_data(), products=[product], submit=True)
    approved = make_deal(
        user=partner_admin,
        customer=customer_data(name="Vasilek Trading", tax_id="7812014560", website="https://vasilek.example"),
        submit=True,
    )
    services.deal_approve(user=manager, deal=approved)

    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    _log_in(phone, base, manager.email, password, reverse("staff:deal_review_queue"))

    def fits():
        return phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    assert fits()
    # Reject from the queue: the reason box opens in place (Bootstrap collapse), reason required.
    row = phone.locator(f'[data-testid="review-row"][data-reference="{to_reject.reference}"]')
    row.get_by_test_id("deal-reject-open").click()
    row.get_by_test_id("reject-reason").fill("The customer is served directly.")
    row.get_by_test_id("deal-reject").click()
    phone.wait_for_url(f"{base}{reverse('staff:deal_review_queue')}")
    assert f"Registration {to_reject.reference} rejected." in phone.locator(".alert-success").inner_text()
    to_reject.refresh_from_db()
    assert to_reject.status == DealStatus.REJECTED

    phone.goto(f"{base}{reverse('staff:deal_detail', args=[to_reject.public_id])}")
    assert phone.get_by_test_id("deal-status").get_attribute("data-status") == DealStatus.REJECTED
    assert "The customer is served directly." in phone.get_by_test_id("decision-reason").inner_text()
    assert phone.locator('[data-testid="history-entry"][data-action="deal.reject"]').count() == 1
    assert fits()

    for name in ("staff:conflict_list", "staff:protection_expiring", "staff:extension_queue"):
        phone.goto(f"{base}{reverse(name)}")
        assert fits(), name

    # The partner page loads its registrations tab from the deals app with htmx.
    phone.goto(f"{base}{reverse('staff:partner_detail', args=[partner_admin.partner.public_id])}")
    phone.get_by_test_id("partner-deals").wait_for(state="attached")
    refs = phone.locator('[data-testid="partner-deal-row"]').evaluate_all("els => els.map(e => e.dataset.reference)")
    assert sorted(refs) == sorted([to_reject.reference, approved.reference])
