"""The partner cabinet: every page for admin, rep, anonymous, staff and partner B's user."""

import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from partners import services
from partners.models import Invitation
from prm.models import AuditLog, Role, User
from prm.tasks import email_send
from tests.factories import AgreementFactory, PartnerUserFactory, TierFactory

pytestmark = pytest.mark.django_db

PAGES = ["cabinet:home", "cabinet:profile", "cabinet:team", "cabinet:agreements"]


def _invite(actor, partner, email="new@alpha.test", role=Role.PARTNER_REP, full_name="Nina New"):
    return services.invitation_create(actor=actor, partner=partner, email=email, full_name=full_name, role=role)


def _login_redirect(response, url):
    return response.status_code == 302 and response.url == f"{reverse('login')}?next={url}"


# --- access rules common to every page ----------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_cabinet_page_anonymous_redirects_to_login(client, name):
    url = reverse(name)
    assert _login_redirect(client.get(url), url)


@pytest.mark.parametrize("name", PAGES)
def test_cabinet_page_staff_gets_404(manager_client, name):
    assert manager_client.get(reverse(name)).status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_cabinet_page_rep_can_open(partner_rep_client, name):
    assert partner_rep_client.get(reverse(name)).status_code == 200


# --- home ---------------------------------------------------------------------------------


def test_cabinet_home_shows_company_and_channel_manager(partner_admin_client, partner_a, manager):
    manager.phone = "+7 495 000-00-00"
    manager.save(update_fields=["phone"])
    partner_a.tier = TierFactory(code="gold", name="Gold", rank=30)
    partner_a.save(update_fields=["tier"])

    response = partner_admin_client.get(reverse("cabinet:home"))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Welcome, Anna" in content
    assert "Alpha Systems" in content
    assert "Gold" in content
    assert "Max Manager" in content
    assert "manager@example.test" in content
    assert "+7 495 000-00-00" in content


def test_cabinet_home_without_manager_says_so(partner_admin_client, partner_a):
    partner_a.owner = None
    partner_a.save(update_fields=["owner"])

    response = partner_admin_client.get(reverse("cabinet:home"))

    assert 'data-testid="manager-none"' in response.content.decode()


def test_cabinet_home_other_partner_sees_only_own_company(other_partner_client, partner_a):
    content = other_partner_client.get(reverse("cabinet:home")).content.decode()
    assert "Beta Trade" in content
    assert "Alpha Systems" not in content


def test_cabinet_home_query_count_is_constant(partner_admin_client, django_assert_max_num_queries):
    # session, user, partner (mixin), partner+tier+owner, unread bell, session save (3 with the savepoint)
    # + since issue 6 the partner's statistics and commit vs pipeline (deals.dashboard selectors,
    # about 10 aggregate queries); that they do not grow with rows: tests/deals/test_cabinet_home.py.
    # + the nav's count of leads waiting for an answer
    with django_assert_max_num_queries(21):
        assert partner_admin_client.get(reverse("cabinet:home")).status_code == 200


# --- profile ------------------------------------------------------------------------------


def test_cabinet_profile_shows_all_company_fields(partner_rep_client, partner_a):
    partner_a.tax_id = "7701234567"
    partner_a.website_domain = "alpha.example"
    partner_a.industries = ["Retail", "Banking"]
    partner_a.save(update_fields=["tax_id", "website_domain", "industries"])

    response = partner_rep_client.get(reverse("cabinet:profile"))

    content = response.content.decode()
    for text in ("Alpha Systems LLC", "7701234567", "alpha.example", "Retail, Banking", "Moscow", "Max Manager"):
        assert text in content
    # A rep sees the profile read-only.
    assert reverse("cabinet:profile_edit") not in content
    assert 'data-testid="profile-readonly"' in content


def test_cabinet_profile_admin_sees_edit_link(partner_admin_client):
    content = partner_admin_client.get(reverse("cabinet:profile")).content.decode()
    assert reverse("cabinet:profile_edit") in content


def test_cabinet_profile_other_partner_does_not_see_partner_a(other_partner_client):
    content = other_partner_client.get(reverse("cabinet:profile")).content.decode()
    assert "Beta Trade Ltd" in content
    assert "Alpha Systems" not in content


def test_cabinet_profile_edit_admin_saves_allowed_fields(partner_admin_client, partner_a, partner_admin):
    url = reverse("cabinet:profile_edit")
    assert partner_admin_client.get(url).status_code == 200

    response = partner_admin_client.post(
        url,
        {
            "name": "Alpha Systems Group",
            "description": "We integrate.",
            "website_domain": "HTTPS://WWW.Alpha-Group.example/about",
            "email": "Info@Alpha.test",
            "phone": "+7 812 111-11-11",
            "address": "Nevsky 1",
            "city": "Saint Petersburg",
            "size": "medium",
            "industries": "Retail, Banking, Retail",
            # Not editable by partners: must be ignored, not applied.
            "legal_name": "Hacked LLC",
            "tax_id": "0000000000",
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("cabinet:profile")
    partner_a.refresh_from_db()
    assert partner_a.name == "Alpha Systems Group"
    assert partner_a.website_domain == "alpha-group.example"
    assert partner_a.email == "info@alpha.test"
    assert partner_a.industries == ["Retail", "Banking"]
    assert partner_a.size == "medium"
    assert partner_a.legal_name == "Alpha Systems LLC"
    assert partner_a.tax_id == ""
    assert AuditLog.objects.filter(action="partner.update_own_profile", actor=partner_admin).exists()


def test_cabinet_profile_edit_invalid_input_shows_errors(partner_admin_client, partner_a):
    response = partner_admin_client.post(reverse("cabinet:profile_edit"), {"name": "", "email": "not-an-email"})

    assert response.status_code == 200
    assert response.context["form"].errors.keys() >= {"name", "email"}
    partner_a.refresh_from_db()
    assert partner_a.name == "Alpha Systems"


def test_cabinet_profile_edit_rep_gets_404(partner_rep_client, partner_a):
    url = reverse("cabinet:profile_edit")
    assert partner_rep_client.get(url).status_code == 404
    assert partner_rep_client.post(url, {"name": "Rep was here"}).status_code == 404
    partner_a.refresh_from_db()
    assert partner_a.name == "Alpha Systems"


def test_cabinet_profile_edit_anonymous_redirects_to_login(client):
    url = reverse("cabinet:profile_edit")
    assert _login_redirect(client.get(url), url)


def test_cabinet_profile_edit_other_partner_edits_only_own_company(other_partner_client, partner_a, partner_b):
    response = other_partner_client.post(
        reverse("cabinet:profile_edit"), {"name": "Beta Renamed", "industries": "", "size": ""}
    )

    assert response.status_code == 302
    partner_a.refresh_from_db()
    partner_b.refresh_from_db()
    assert partner_a.name == "Alpha Systems"
    assert partner_b.name == "Beta Renamed"


def test_cabinet_profile_edit_staff_gets_404(manager_client):
    assert manager_client.get(reverse("cabinet:profile_edit")).status_code == 404


# --- team ---------------------------------------------------------------------------------


def test_cabinet_team_lists_colleagues_and_open_invitations(partner_admin_client, partner_admin, partner_rep):
    inactive = PartnerUserFactory(partner=partner_admin.partner, role=Role.PARTNER_REP, is_active=False)
    _invite(partner_admin, partner_admin.partner, email="pending@alpha.test")

    response = partner_admin_client.get(reverse("cabinet:team"))

    content = response.content.decode()
    assert response.status_code == 200
    for email in ("admin@alpha.test", "rep@alpha.test", inactive.email, "pending@alpha.test"):
        assert email in content
    assert 'data-testid="invite-form"' in content
    assert 'data-testid="member-deactivate"' in content
    assert 'data-testid="member-reactivate"' in content


def test_cabinet_team_rep_sees_team_without_admin_buttons(partner_rep_client, partner_admin):
    _invite(partner_admin, partner_admin.partner, email="pending@alpha.test")

    content = partner_rep_client.get(reverse("cabinet:team")).content.decode()

    assert "admin@alpha.test" in content
    assert "pending@alpha.test" in content
    assert 'data-testid="invite-form"' not in content
    assert 'data-testid="member-deactivate"' not in content
    assert 'data-testid="invitation-revoke"' not in content


def test_cabinet_team_other_partner_sees_only_own_people(other_partner_client, partner_admin, partner_rep):
    _invite(partner_admin, partner_admin.partner, email="pending@alpha.test")

    content = other_partner_client.get(reverse("cabinet:team")).content.decode()

    assert "admin@beta.test" in content
    assert "alpha.test" not in content


def test_cabinet_team_query_count_does_not_grow_with_rows(
    partner_admin_client, partner_admin, django_assert_max_num_queries
):
    partner = partner_admin.partner

    def page_queries():
        with CaptureQueriesContext(connection) as ctx:
            assert partner_admin_client.get(reverse("cabinet:team")).status_code == 200
        return len(ctx.captured_queries)

    _invite(partner_admin, partner, email="one@alpha.test")
    few = page_queries()
    for i in range(8):
        PartnerUserFactory(partner=partner, role=Role.PARTNER_REP)
        _invite(partner_admin, partner, email=f"more{i}@alpha.test")
    with django_assert_max_num_queries(few):
        assert partner_admin_client.get(reverse("cabinet:team")).status_code == 200


def test_cabinet_team_invite_creates_invitation_and_queues_email(
    partner_admin_client, partner_a, partner_admin, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    # The view hands the e-mail to Celery after commit; run the task body here instead of a broker.
    monkeypatch.setattr(email_send, "delay", lambda **kwargs: queued.append(kwargs))

    with django_capture_on_commit_callbacks(execute=True):
        response = partner_admin_client.post(
            reverse("cabinet:team_invite"),
            {"full_name": "Nina New", "email": " Nina@Alpha.TEST ", "role": "partner_rep"},
        )

    assert response.status_code == 302
    assert response.url == reverse("cabinet:team")
    invitation = Invitation.objects.get(partner=partner_a, email="nina@alpha.test")
    assert invitation.role == "partner_rep"
    assert invitation.invited_by == partner_admin
    assert len(queued) == 1
    email_send.run(**queued[0])
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["nina@alpha.test"]
    token = re.search(r"/cabinet/invite/([^/\s]+)/", mail.outbox[0].body).group(1)
    assert services.invitation_get_by_token(token) == invitation


def test_cabinet_team_invite_existing_account_shows_field_error(partner_admin_client, partner_rep):
    response = partner_admin_client.post(
        reverse("cabinet:team_invite"), {"email": "rep@alpha.test", "role": "partner_rep"}
    )

    assert response.status_code == 200
    assert "This address already has an account." in response.context["invite_form"].errors["email"]
    assert not Invitation.objects.exists()


def test_cabinet_team_invite_twice_shows_message(partner_admin_client, partner_admin):
    _invite(partner_admin, partner_admin.partner, email="twice@alpha.test")

    response = partner_admin_client.post(
        reverse("cabinet:team_invite"), {"email": "twice@alpha.test", "role": "partner_rep"}
    )

    assert response.status_code == 200
    assert response.context["invite_form"].errors["email"] == ["Already invited."]


def test_cabinet_team_invite_bad_input_shows_errors(partner_admin_client):
    response = partner_admin_client.post(reverse("cabinet:team_invite"), {"email": "nope", "role": "administrator"})

    assert response.status_code == 200
    assert response.context["invite_form"].errors.keys() == {"email", "role"}
    assert not Invitation.objects.exists()


def test_cabinet_team_invite_rep_gets_404(partner_rep_client):
    response = partner_rep_client.post(reverse("cabinet:team_invite"), {"email": "x@alpha.test", "role": "partner_rep"})
    assert response.status_code == 404
    assert not Invitation.objects.exists()


def test_cabinet_team_invite_anonymous_redirects_to_login(client):
    url = reverse("cabinet:team_invite")
    assert _login_redirect(client.post(url, {"email": "x@alpha.test"}), url)


def test_cabinet_team_invite_other_partner_invites_into_own_company(other_partner_client, partner_b):
    other_partner_client.post(reverse("cabinet:team_invite"), {"email": "x@beta.test", "role": "partner_rep"})
    assert Invitation.objects.get().partner == partner_b


def test_cabinet_invitation_revoke_admin_withdraws(partner_admin_client, partner_admin):
    invitation, token = _invite(partner_admin, partner_admin.partner)

    response = partner_admin_client.post(reverse("cabinet:invitation_revoke", args=[invitation.public_id]))

    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert services.invitation_get_by_token(token) is None


def test_cabinet_invitation_revoke_accepted_shows_error(partner_admin_client, partner_admin):
    invitation, token = _invite(partner_admin, partner_admin.partner)
    services.invitation_accept(token=token, full_name="Nina New", password="a-Long-passw0rd!")

    response = partner_admin_client.post(reverse("cabinet:invitation_revoke", args=[invitation.public_id]), follow=True)

    assert "already been accepted" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_cabinet_invitation_revoke_other_partner_gets_404(other_partner_client, partner_admin):
    invitation, _token = _invite(partner_admin, partner_admin.partner)

    response = other_partner_client.post(reverse("cabinet:invitation_revoke", args=[invitation.public_id]))

    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_cabinet_invitation_revoke_rep_gets_404(partner_rep_client, partner_admin):
    invitation, _token = _invite(partner_admin, partner_admin.partner)
    assert partner_rep_client.post(reverse("cabinet:invitation_revoke", args=[invitation.public_id])).status_code == 404


def test_cabinet_invitation_revoke_anonymous_redirects_to_login(client, partner_admin):
    invitation, _token = _invite(partner_admin, partner_admin.partner)
    url = reverse("cabinet:invitation_revoke", args=[invitation.public_id])
    assert _login_redirect(client.post(url), url)


def test_cabinet_invitation_revoke_unknown_id_gets_404(partner_admin_client):
    assert partner_admin_client.post(reverse("cabinet:invitation_revoke", args=[uuid.uuid4()])).status_code == 404


def test_cabinet_member_set_active_deactivates_and_reactivates(partner_admin_client, partner_rep):
    url = reverse("cabinet:member_set_active", args=[partner_rep.public_id])

    assert partner_admin_client.post(url, {}).status_code == 302
    partner_rep.refresh_from_db()
    assert partner_rep.is_active is False

    assert partner_admin_client.post(url, {"active": "on"}).status_code == 302
    partner_rep.refresh_from_db()
    assert partner_rep.is_active is True


def test_cabinet_member_set_active_deactivated_rep_loses_access(partner_admin_client, partner_rep, partner_rep_client):
    partner_admin_client.post(reverse("cabinet:member_set_active", args=[partner_rep.public_id]), {})

    url = reverse("cabinet:home")
    assert _login_redirect(partner_rep_client.get(url), url)


def test_cabinet_member_set_active_self_is_refused(partner_admin_client, partner_admin):
    response = partner_admin_client.post(
        reverse("cabinet:member_set_active", args=[partner_admin.public_id]), {}, follow=True
    )

    assert "You cannot deactivate yourself." in response.content.decode()
    partner_admin.refresh_from_db()
    assert partner_admin.is_active is True


def test_cabinet_member_set_active_other_partner_gets_404(other_partner_client, partner_rep):
    response = other_partner_client.post(reverse("cabinet:member_set_active", args=[partner_rep.public_id]), {})

    assert response.status_code == 404
    partner_rep.refresh_from_db()
    assert partner_rep.is_active is True


def test_cabinet_member_set_active_rep_gets_404(partner_rep_client, partner_admin):
    response = partner_rep_client.post(reverse("cabinet:member_set_active", args=[partner_admin.public_id]), {})
    assert response.status_code == 404


def test_cabinet_member_set_active_staff_user_id_gets_404(partner_admin_client, manager):
    response = partner_admin_client.post(reverse("cabinet:member_set_active", args=[manager.public_id]), {})
    assert response.status_code == 404
    manager.refresh_from_db()
    assert manager.is_active is True


def test_cabinet_member_set_active_anonymous_redirects_to_login(client, partner_rep):
    url = reverse("cabinet:member_set_active", args=[partner_rep.public_id])
    assert _login_redirect(client.post(url, {}), url)


# --- agreements ---------------------------------------------------------------------------


def test_cabinet_agreements_shows_terms_dates_and_renewal(partner_rep_client, partner_a, manager):
    AgreementFactory(
        partner=partner_a,
        number="AG-ALPHA-1",
        title="Reseller agreement",
        commission_pct=7.5,
        discount_pct=12,
        payment_terms_days=45,
        service_format="Remote support",
        response_time_hours=8,
        vendor_responsible=manager,
        auto_renew=True,
    )

    response = partner_rep_client.get(reverse("cabinet:agreements"))

    content = response.content.decode()
    for text in ("AG-ALPHA-1", "Reseller agreement", "7.50 %", "12 %", "45 days", "Remote support", "8 hours"):
        assert text in content
    assert "Renews automatically" in content
    assert "manager@example.test" in content


def test_cabinet_agreements_hides_drafts_and_other_partners(partner_rep_client, partner_a, partner_b):
    AgreementFactory(partner=partner_a, number="AG-DRAFT", status="draft", signed_on=None)
    AgreementFactory(partner=partner_b, number="AG-BETA")

    content = partner_rep_client.get(reverse("cabinet:agreements")).content.decode()

    assert "AG-DRAFT" not in content
    assert "AG-BETA" not in content
    assert 'data-testid="no-agreements"' in content


def test_cabinet_agreements_other_partner_does_not_see_partner_a(other_partner_client, partner_a):
    AgreementFactory(partner=partner_a, number="AG-ALPHA-SECRET")
    assert "AG-ALPHA-SECRET" not in other_partner_client.get(reverse("cabinet:agreements")).content.decode()


def test_cabinet_agreements_query_count_does_not_grow_with_rows(
    partner_rep_client, partner_a, manager, django_assert_max_num_queries
):
    AgreementFactory(partner=partner_a, vendor_responsible=manager)
    with CaptureQueriesContext(connection) as ctx:
        partner_rep_client.get(reverse("cabinet:agreements"))
    few = len(ctx.captured_queries)
    AgreementFactory.create_batch(10, partner=partner_a, vendor_responsible=manager)

    with django_assert_max_num_queries(few):
        response = partner_rep_client.get(reverse("cabinet:agreements"))
    assert len(response.context["agreements"]) == 11


# --- accepting an invitation --------------------------------------------------------------


def test_cabinet_invitation_accept_shows_company_and_email(client, partner_admin):
    _invitation, token = _invite(partner_admin, partner_admin.partner)

    response = client.get(reverse("cabinet:invitation_accept", args=[token]))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Alpha Systems" in content
    assert "new@alpha.test" in content


def test_cabinet_invitation_accept_creates_user_and_logs_in(client, partner_admin, partner_a):
    invitation, token = _invite(partner_admin, partner_a, role=Role.PARTNER_ADMIN)
    url = reverse("cabinet:invitation_accept", args=[token])

    response = client.post(
        url, {"full_name": "Nina New", "password1": "a-Long-passw0rd!", "password2": "a-Long-passw0rd!"}
    )

    assert response.status_code == 302
    assert response.url == reverse("cabinet:home")
    user = User.objects.get(email="new@alpha.test")
    assert (user.partner, user.role, user.full_name) == (partner_a, Role.PARTNER_ADMIN, "Nina New")
    assert client.get(reverse("cabinet:home")).context["request"].user == user
    invitation.refresh_from_db()
    assert invitation.accepted_user == user
    # Single use: the same link now explains itself instead of working again.
    again = client.get(url)
    assert again.status_code == 410
    assert 'data-testid="invitation-invalid"' in again.content.decode()


def test_cabinet_invitation_accept_mismatched_passwords_shows_error(client, partner_admin):
    _invitation, token = _invite(partner_admin, partner_admin.partner)

    response = client.post(
        reverse("cabinet:invitation_accept", args=[token]),
        {"full_name": "Nina", "password1": "a-Long-passw0rd!", "password2": "another-passw0rd!"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["password2"] == ["The two passwords do not match."]
    assert not User.objects.filter(email="new@alpha.test").exists()


def test_cabinet_invitation_accept_weak_password_shows_validator_message(client, partner_admin):
    _invitation, token = _invite(partner_admin, partner_admin.partner)

    response = client.post(
        reverse("cabinet:invitation_accept", args=[token]),
        {"full_name": "Nina", "password1": "1234567890", "password2": "1234567890"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not User.objects.filter(email="new@alpha.test").exists()


@pytest.mark.parametrize("state", ["expired", "revoked", "unknown"])
def test_cabinet_invitation_accept_dead_link_shows_clear_message(client, partner_admin, state):
    invitation, token = _invite(partner_admin, partner_admin.partner)
    if state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    elif state == "revoked":
        services.invitation_revoke(actor=partner_admin, invitation=invitation)
    else:
        token = "no-such-token"
    url = reverse("cabinet:invitation_accept", args=[token])

    for response in (
        client.get(url),
        client.post(url, {"full_name": "X", "password1": "a-Long-passw0rd!", "password2": "a-Long-passw0rd!"}),
    ):
        assert response.status_code == 410
        assert "Ask your company's admin for a new invitation." in response.content.decode()
    assert not User.objects.filter(email="new@alpha.test").exists()


def test_cabinet_invitation_accept_logged_in_other_partner_user_joins_only_invited_company(
    other_partner_client, partner_admin, partner_a
):
    _invitation, token = _invite(partner_admin, partner_a)

    other_partner_client.post(
        reverse("cabinet:invitation_accept", args=[token]),
        {"full_name": "Nina", "password1": "a-Long-passw0rd!", "password2": "a-Long-passw0rd!"},
    )

    assert User.objects.get(email="new@alpha.test").partner == partner_a
    content = other_partner_client.get(reverse("cabinet:home")).content.decode()
    assert "Alpha Systems" in content  # the session now belongs to the new Alpha user
    assert "Beta Trade" not in content


def test_cabinet_invitation_accept_csrf_enforced(partner_admin):
    _invitation, token = _invite(partner_admin, partner_admin.partner)
    csrf_client = Client(enforce_csrf_checks=True)

    response = csrf_client.post(
        reverse("cabinet:invitation_accept", args=[token]),
        {"full_name": "Nina", "password1": "a-Long-passw0rd!", "password2": "a-Long-passw0rd!"},
    )

    assert response.status_code == 403
    assert not User.objects.filter(email="new@alpha.test").exists()
