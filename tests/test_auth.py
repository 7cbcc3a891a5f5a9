"""Log-in with e-mail, lock-out, password reset and change, idle sessions, CSRF."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.db.models import F
from django.test import Client
from django.urls import reverse

from prm.tasks import email_send

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("login")


def _login(client, email, password, ip="10.0.0.1"):
    return client.post(LOGIN_URL, {"username": email, "password": password}, REMOTE_ADDR=ip)


def _fail(client, email, times, ip="10.0.0.1"):
    for _ in range(times):
        _login(client, email, "wrong-password", ip=ip)


# --- log-in -------------------------------------------------------------------------------


def test_login_page_renders_email_field(client):
    response = client.get(LOGIN_URL)
    content = response.content.decode()
    assert response.status_code == 200
    assert 'type="email"' in content
    assert "E-mail" in content


def test_login_with_email_lands_partner_in_cabinet(client, partner_admin, password):
    response = _login(client, "Admin@Alpha.TEST ", password)

    assert response.status_code == 302
    assert client.get(response.url, follow=True).redirect_chain[-1][0] == reverse("cabinet:home")
    assert client.session["_auth_user_id"] == str(partner_admin.pk)


def test_login_respects_safe_next(client, partner_admin, password):
    response = client.post(
        LOGIN_URL, {"username": partner_admin.email, "password": password, "next": reverse("cabinet:team")}
    )
    assert response.url == reverse("cabinet:team")


def test_login_wrong_password_shows_message(client, partner_admin):
    response = _login(client, partner_admin.email, "not-the-password")

    assert response.status_code == 200
    assert "Please enter a correct e-mail and password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_inactive_user_is_refused(client, partner_rep, password):
    partner_rep.is_active = False
    partner_rep.save(update_fields=["is_active"])

    response = _login(client, partner_rep.email, password)

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_login_authenticated_user_is_redirected_away(partner_admin_client):
    assert partner_admin_client.get(LOGIN_URL).status_code == 302


# --- lock-out -----------------------------------------------------------------------------


def test_login_locks_account_and_ip_after_failure_limit(client, partner_admin, password):
    _fail(client, partner_admin.email, settings.AXES_FAILURE_LIMIT)

    # Even the right password is refused now, with the lock-out page.
    response = _login(client, partner_admin.email, password)

    assert response.status_code == 429
    assert 'data-testid="locked-out"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_one_failure_below_limit_still_logs_in(client, partner_admin, password):
    _fail(client, partner_admin.email, settings.AXES_FAILURE_LIMIT - 1)

    response = _login(client, partner_admin.email, password)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(partner_admin.pk)


def test_login_lockout_does_not_block_same_account_from_other_ip(client, partner_admin, password):
    _fail(client, partner_admin.email, settings.AXES_FAILURE_LIMIT, ip="10.0.0.1")

    response = _login(Client(), partner_admin.email, password, ip="10.0.0.2")

    assert response.status_code == 302


def test_login_lockout_does_not_block_other_account_on_same_ip(client, partner_admin, partner_rep, password):
    # One office behind one NAT address: a colleague's typos must not lock everyone out.
    _fail(client, partner_admin.email, settings.AXES_FAILURE_LIMIT, ip="10.0.0.1")

    response = _login(Client(), partner_rep.email, password, ip="10.0.0.1")

    assert response.status_code == 302


def test_login_lockout_ends_after_cooloff(client, partner_admin, password):
    _fail(client, partner_admin.email, settings.AXES_FAILURE_LIMIT)
    assert _login(client, partner_admin.email, password).status_code == 429

    # The clock moves past the cool-off: the attempts now lie further back than it.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    response = _login(client, partner_admin.email, password)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(partner_admin.pk)


def test_login_lockout_is_still_on_just_before_cooloff_ends(client, partner_admin, password):
    _fail(client, partner_admin.email, settings.AXES_FAILURE_LIMIT)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME + timedelta(seconds=30))

    assert _login(client, partner_admin.email, password).status_code == 429


def test_login_lockout_is_temporary_by_setting():
    assert settings.AXES_FAILURE_LIMIT >= 3
    assert settings.AXES_COOLOFF_TIME is not None
    assert settings.AXES_COOLOFF_TIME.total_seconds() > 0
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


# --- CSRF ---------------------------------------------------------------------------------


def test_login_post_without_csrf_token_is_rejected(partner_admin, password):
    csrf_client = Client(enforce_csrf_checks=True)

    response = csrf_client.post(LOGIN_URL, {"username": partner_admin.email, "password": password})

    assert response.status_code == 403
    assert "_auth_user_id" not in csrf_client.session


def test_login_post_with_csrf_token_from_form_succeeds(partner_admin, password):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.get(LOGIN_URL)
    token = csrf_client.cookies[settings.CSRF_COOKIE_NAME].value

    response = csrf_client.post(
        LOGIN_URL, {"username": partner_admin.email, "password": password, "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302


# --- sessions -----------------------------------------------------------------------------


def test_session_idle_expiry_is_configured():
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert 0 < settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.SESSION_COOKIE_HTTPONLY is True


def test_session_expiry_is_pushed_forward_on_every_request(partner_admin_client):
    response = partner_admin_client.get(reverse("cabinet:home"))

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE
    assert partner_admin_client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_logout_requires_post_and_ends_session(partner_admin_client):
    assert partner_admin_client.get(reverse("logout")).status_code == 405

    response = partner_admin_client.post(reverse("logout"))

    assert response.status_code == 302
    url = reverse("cabinet:home")
    assert partner_admin_client.get(url).url == f"{LOGIN_URL}?next={url}"


# --- password reset -----------------------------------------------------------------------


def test_password_reset_pages_use_prm_look(client):
    content = client.get(reverse("password_reset")).content.decode()
    assert 'data-testid="password-reset-form"' in content
    assert "Django administration" not in content


def test_password_reset_sends_email_and_link_sets_new_password(
    client, partner_rep, django_capture_on_commit_callbacks, monkeypatch
):
    # The e-mail is queued for the Celery e-mail task on commit; run the task body here.
    monkeypatch.setattr(email_send, "delay", lambda **kw: email_send.run(**kw))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "REP@alpha.test"})

    assert response.status_code == 302
    assert response.url == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rep@alpha.test"]
    assert message.subject == "Reset your PRM password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)

    # Django swaps the token for a session marker and redirects to the set-password form.
    form_page = client.get(link, follow=True)
    assert 'data-testid="password-reset-confirm-form"' in form_page.content.decode()
    new_password = "brand-new-Passw0rd!"
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password})
    assert done.url == reverse("password_reset_complete")

    assert _login(Client(), partner_rep.email, new_password).status_code == 302
    # The link is single use.
    assert 'data-testid="password-reset-invalid"' in Client().get(link, follow=True).content.decode()


def test_password_reset_unknown_email_sends_nothing_but_looks_the_same(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("password_reset"), {"email": "nobody@nowhere.test"})
    assert callbacks == []

    assert response.url == reverse("password_reset_done")
    assert mail.outbox == []


def test_password_reset_done_and_complete_pages_render(client):
    assert 'data-testid="password-reset-done"' in client.get(reverse("password_reset_done")).content.decode()
    assert 'data-testid="password-reset-complete"' in client.get(reverse("password_reset_complete")).content.decode()


def test_password_reset_bad_link_says_so(client):
    url = reverse("password_reset_confirm", kwargs={"uidb64": "MQ", "token": "bad-token"})
    response = client.get(url)
    assert response.status_code == 200
    assert 'data-testid="password-reset-invalid"' in response.content.decode()


# --- password change ----------------------------------------------------------------------


def test_password_change_changes_password(partner_rep_client, partner_rep, password):
    url = reverse("password_change")
    assert 'data-testid="password-change-form"' in partner_rep_client.get(url).content.decode()

    response = partner_rep_client.post(
        url,
        {"old_password": password, "new_password1": "changed-Passw0rd!", "new_password2": "changed-Passw0rd!"},
        follow=True,
    )

    assert 'data-testid="password-change-done"' in response.content.decode()
    partner_rep.refresh_from_db()
    assert partner_rep.check_password("changed-Passw0rd!")


def test_password_change_wrong_old_password_shows_error(partner_rep_client, partner_rep, password):
    response = partner_rep_client.post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": "changed-Passw0rd!", "new_password2": "changed-Passw0rd!"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    partner_rep.refresh_from_db()
    assert partner_rep.check_password(password)


def test_password_change_anonymous_redirects_to_login(client):
    url = reverse("password_change")
    assert client.get(url).url == f"{LOGIN_URL}?next={url}"
