"""End to end in Chromium: a partner admin invites a colleague, who joins and sees only Alpha."""

import re
import time

import pytest
from django.core import mail

from prm.models import Role, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BOOTSTRAP_PRIMARY = "rgb(13, 110, 253)"


def _wait_for_mail(to: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in mail.outbox:
            if to in message.to:
                return message
        time.sleep(0.1)
    raise AssertionError(f"No e-mail to {to} within {timeout} s; outbox: {[m.to for m in mail.outbox]}")


def _log_in(page, base_url, email, password):
    page.goto(f"{base_url}/cabinet/")
    # Anonymous visitors are sent to the log-in page and back afterwards.
    assert "/accounts/login/" in page.url
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"{base_url}/cabinet/")


def test_cabinet_journey_admin_invites_colleague_who_joins_and_sees_only_own_company(
    live_server, new_page, expected_http_errors, celery_worker, settings, partner_admin, other_partner_user, password
):
    # Links in e-mails point at the site; here the site is the live server.
    settings.SITE_URL = live_server.url
    admin = new_page(viewport={"width": 1280, "height": 900})

    # The log-in page is styled by the vendored Bootstrap (served from /static/, no CDN).
    admin.goto(f"{live_server.url}/accounts/login/")
    submit_bg = admin.get_by_test_id("login-submit").evaluate("el => getComputedStyle(el).backgroundColor")
    assert submit_bg == BOOTSTRAP_PRIMARY

    _log_in(admin, live_server.url, partner_admin.email, password)
    assert admin.get_by_test_id("company-name").inner_text() == "Alpha Systems"
    assert admin.get_by_test_id("manager-name").inner_text() == "Max Manager"

    admin.get_by_role("link", name="Team", exact=True).first.click()
    admin.wait_for_url(f"{live_server.url}/cabinet/team/")
    admin.fill("#id_full_name", "Nina New")
    admin.fill("#id_email", "nina@alpha.test")
    admin.select_option("#id_role", "partner_rep")
    admin.get_by_test_id("invite-submit").click()
    admin.wait_for_url(f"{live_server.url}/cabinet/team/")
    assert "Invitation sent to nina@alpha.test." in admin.locator(".alert-success").inner_text()
    assert admin.locator('[data-testid="invitation-row"][data-email="nina@alpha.test"]').count() == 1

    # The invitation e-mail is sent by the Celery worker, like in production.
    message = _wait_for_mail("nina@alpha.test")
    link = re.search(r"(http://\S+/cabinet/invite/\S+/)", message.body).group(1)
    assert link.startswith(live_server.url)

    colleague = new_page(viewport={"width": 1280, "height": 900})
    colleague.goto(link)
    details = colleague.get_by_test_id("invitation-details").inner_text()
    assert "Alpha Systems" in details
    assert "nina@alpha.test" in details
    colleague.fill("#id_full_name", "Nina New")
    colleague.fill("#id_password1", "nina-Secret-2026!")
    colleague.fill("#id_password2", "nina-Secret-2026!")
    colleague.get_by_test_id("accept-submit").click()
    colleague.wait_for_url(f"{live_server.url}/cabinet/")
    assert colleague.get_by_test_id("cabinet-welcome").inner_text() == "Welcome, Nina"
    user = User.objects.get(email="nina@alpha.test")
    assert (user.partner_id, user.role) == (partner_admin.partner_id, Role.PARTNER_REP)

    colleague.get_by_role("link", name="Company", exact=True).click()
    colleague.wait_for_url(f"{live_server.url}/cabinet/company/")
    assert colleague.get_by_test_id("profile-name").inner_text() == "Alpha Systems"
    assert colleague.get_by_test_id("profile-readonly").is_visible()
    for path in ("/cabinet/", "/cabinet/company/", "/cabinet/team/", "/cabinet/agreements/"):
        colleague.goto(f"{live_server.url}{path}")
        body = colleague.locator("body").inner_text()
        assert "Beta Trade" not in body
        assert other_partner_user.email not in body
    # A rep sees the team but cannot invite.
    colleague.goto(f"{live_server.url}/cabinet/team/")
    assert colleague.get_by_test_id("invite-form").count() == 0
    assert colleague.locator('[data-testid="member-row"][data-email="nina@alpha.test"]').count() == 1

    # The link was single use: opening it again explains why it no longer works.
    again = new_page()
    expected_http_errors.add(link)
    response = again.goto(link)
    assert response.status == 410
    assert again.get_by_test_id("invitation-invalid").is_visible()


def test_cabinet_home_on_phone_shows_nav_toggler(live_server, new_page, partner_rep, password):
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)

    _log_in(phone, live_server.url, partner_rep.email, password)

    toggler = phone.locator(".navbar-toggler")
    team_link = phone.locator("#cabinetNav").get_by_role("link", name="Team", exact=True)
    assert toggler.is_visible()
    assert not team_link.is_visible()
    # Bootstrap's JavaScript opens the collapsed menu.
    toggler.click()
    team_link.wait_for(state="visible")
    # Nothing overflows sideways on a phone.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert phone.get_by_test_id("company-name").is_visible()
