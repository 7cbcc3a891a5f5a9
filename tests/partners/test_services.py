import datetime
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from partners import services
from partners.models import Interaction, Invitation, Partner, PartnerStatus, PartnerType, Region
from partners.tasks import agreement_renewal_reminders, next_step_reminders
from prm.exceptions import ApplicationError, PermissionDenied, StateError
from prm.models import AuditLog, Notification, Role, User
from prm.tasks import email_send, notification_email
from tests.factories import AgreementFactory, ContactFactory, InteractionFactory, PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db


def _create_kwargs(**over):
    base = {
        "name": "Северный Ветер",
        "legal_name": "ООО «Северный Ветер»",
        "partner_type": PartnerType.RESELLER,
        "country": "RU",
        "region": Region.RUSSIA,
        "city": "Санкт-Петербург",
        "website_domain": "https://WWW.Sever-Veter.ru/about",
        "tax_id": "7812345678",
    }
    base.update(over)
    return base


def test_partner_create_normalises_domain_and_audits(manager):
    partner = services.partner_create(actor=manager, owner=manager, **_create_kwargs())
    assert partner.status == PartnerStatus.PROSPECT
    assert partner.website_domain == "sever-veter.ru"
    entry = AuditLog.objects.get(action="partner.create", object_id=str(partner.pk))
    assert entry.actor == manager
    assert entry.partner_id == partner.pk


def test_partner_create_by_partner_user_is_refused(partner_admin):
    with pytest.raises(PermissionDenied):
        services.partner_create(actor=partner_admin, **_create_kwargs())
    assert not Partner.objects.filter(name="Северный Ветер").exists()


def test_partner_create_duplicate_tax_id_in_country_is_refused_and_nothing_written(manager):
    services.partner_create(actor=manager, **_create_kwargs())
    before = AuditLog.objects.count()
    with pytest.raises(Exception):  # noqa: B017 - full_clean or the DB constraint, both refuse it
        services.partner_create(actor=manager, **_create_kwargs(name="Другой"))
    assert Partner.objects.filter(tax_id="7812345678").count() == 1
    assert AuditLog.objects.count() == before


def test_partner_create_key_account_gets_kam_profile(manager):
    partner = services.partner_create(
        actor=manager,
        is_key_account=True,
        kam={"senior_sponsor": "Иван Петров", "opportunity_1y": 1000},
        **_create_kwargs(),
    )
    assert partner.kam_profile.senior_sponsor == "Иван Петров"


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        (PartnerStatus.PROSPECT, PartnerStatus.APPLICANT, True),
        (PartnerStatus.APPLICANT, PartnerStatus.ONBOARDING, True),
        (PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE, True),
        (PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED, True),
        (PartnerStatus.SUSPENDED, PartnerStatus.ACTIVE, True),
        (PartnerStatus.ACTIVE, PartnerStatus.TERMINATED, True),
        (PartnerStatus.PROSPECT, PartnerStatus.ACTIVE, False),
        (PartnerStatus.ACTIVE, PartnerStatus.ONBOARDING, False),
        (PartnerStatus.TERMINATED, PartnerStatus.ACTIVE, False),
        (PartnerStatus.SUSPENDED, PartnerStatus.PROSPECT, False),
    ],
)
def test_partner_change_status_follows_lifecycle(manager, start, target, allowed):
    partner = PartnerFactory(status=start)
    if allowed:
        services.partner_change_status(actor=manager, partner=partner, status=target, reason="because")
        partner.refresh_from_db()
        assert partner.status == target
        assert AuditLog.objects.filter(action="partner.change_status", object_id=str(partner.pk)).exists()
    else:
        with pytest.raises(StateError):
            services.partner_change_status(actor=manager, partner=partner, status=target, reason="because")
        partner.refresh_from_db()
        assert partner.status == start
        assert not AuditLog.objects.filter(action="partner.change_status").exists()


def test_partner_suspend_requires_reason(manager, partner_a):
    with pytest.raises(ApplicationError) as exc:
        services.partner_change_status(actor=manager, partner=partner_a, status=PartnerStatus.SUSPENDED, reason=" ")
    assert "reason" in exc.value.fields
    partner_a.refresh_from_db()
    assert partner_a.status == PartnerStatus.ACTIVE


def test_partner_terminate_deactivates_its_users(manager, partner_a, partner_admin, partner_rep, other_partner_user):
    services.partner_change_status(
        actor=manager, partner=partner_a, status=PartnerStatus.TERMINATED, reason="Contract ended"
    )
    assert not User.objects.get(pk=partner_admin.pk).is_active
    assert not User.objects.get(pk=partner_rep.pk).is_active
    assert User.objects.get(pk=other_partner_user.pk).is_active


def test_partner_update_own_profile_allows_only_editable_fields(partner_admin, partner_a):
    services.partner_update_own_profile(actor=partner_admin, partner=partner_a, data={"phone": "+7 812 000-00-00"})
    partner_a.refresh_from_db()
    assert partner_a.phone == "+7 812 000-00-00"
    with pytest.raises(ApplicationError) as exc:
        services.partner_update_own_profile(actor=partner_admin, partner=partner_a, data={"tax_id": "1", "phone": "x"})
    assert "tax_id" in exc.value.fields
    partner_a.refresh_from_db()
    assert partner_a.tax_id == ""
    assert partner_a.phone == "+7 812 000-00-00"


def test_partner_update_own_profile_refuses_rep_and_other_partner(partner_rep, other_partner_user, partner_a):
    for actor in (partner_rep, other_partner_user):
        with pytest.raises(PermissionDenied):
            services.partner_update_own_profile(actor=actor, partner=partner_a, data={"phone": "1"})


def test_partner_update_records_diff(manager, partner_a):
    services.partner_update(actor=manager, partner=partner_a, data={"city": "Kazan"}, reason="moved")
    entry = AuditLog.objects.get(action="partner.update")
    assert entry.before == {"city": "Moscow"}
    assert entry.after == {"city": "Kazan"}
    assert entry.reason == "moved"


def test_interaction_log_rejects_contact_of_other_partner(manager, partner_a, partner_b):
    stranger = ContactFactory(partner=partner_b)
    with pytest.raises(ApplicationError):
        services.interaction_log(actor=manager, partner=partner_a, kind="call", subject="Hi", contact=stranger)
    assert not Interaction.objects.exists()


def test_interaction_log_due_date_needs_step(manager, partner_a):
    with pytest.raises(ApplicationError) as exc:
        services.interaction_log(
            actor=manager, partner=partner_a, kind="call", subject="Hi", next_step_due=timezone.localdate()
        )
    assert "next_step" in exc.value.fields


def test_interaction_complete_step_is_idempotent(manager, partner_a):
    interaction = services.interaction_log(
        actor=manager,
        partner=partner_a,
        kind="meeting",
        subject="QBR",
        next_step="Send proposal",
        next_step_due=timezone.localdate(),
    )
    services.interaction_complete_step(actor=manager, interaction=interaction)
    first = Interaction.objects.get(pk=interaction.pk).next_step_done_at
    services.interaction_complete_step(actor=manager, interaction=interaction)
    assert Interaction.objects.get(pk=interaction.pk).next_step_done_at == first
    assert AuditLog.objects.filter(action="interaction.complete_step").count() == 1


def _sent_emails(callbacks):
    """Run the e-mail tasks queued on commit synchronously (the task body, not the broker)."""
    for callback in callbacks:
        callback()


def test_invitation_create_and_accept_creates_partner_user(
    partner_admin, partner_a, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(email_send, "delay", lambda **kw: sent.append(kw) or email_send.run(**kw))
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = services.invitation_create(
            actor=partner_admin, partner=partner_a, email="New.Rep@Alpha.test", full_name="Nina New"
        )
    assert invitation.email == "new.rep@alpha.test"
    assert token not in invitation.token_hash
    assert len(mail.outbox) == 1 and token in mail.outbox[0].body
    user = services.invitation_accept(token=token, full_name="Nina New", password="a-Long-passw0rd!")
    assert user.partner == partner_a and user.role == Role.PARTNER_REP and user.check_password("a-Long-passw0rd!")
    assert user.contact.partner == partner_a
    with pytest.raises(StateError):
        services.invitation_accept(token=token, full_name="Again", password="a-Long-passw0rd!")
    assert User.objects.filter(email="new.rep@alpha.test").count() == 1


def test_invitation_accept_expired_fails_and_creates_nothing(partner_admin, partner_a):
    invitation, token = services.invitation_create(actor=partner_admin, partner=partner_a, email="late@alpha.test")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(StateError):
        services.invitation_accept(token=token, full_name="Late", password="a-Long-passw0rd!")
    assert not User.objects.filter(email="late@alpha.test").exists()


def test_invitation_accept_weak_password_is_refused(partner_admin, partner_a):
    _inv, token = services.invitation_create(actor=partner_admin, partner=partner_a, email="weak@alpha.test")
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(token=token, full_name="Weak", password="12345")
    assert "password" in exc.value.fields
    assert not User.objects.filter(email="weak@alpha.test").exists()
    assert Invitation.objects.get(email="weak@alpha.test").accepted_at is None


def test_invitation_accept_with_unknown_token_fails():
    with pytest.raises(ApplicationError):
        services.invitation_accept(token="nope", full_name="X", password="a-Long-passw0rd!")


def test_invitation_create_refused_for_rep_and_other_partner(partner_rep, other_partner_user, partner_a):
    for actor in (partner_rep, other_partner_user):
        with pytest.raises(PermissionDenied):
            services.invitation_create(actor=actor, partner=partner_a, email="x@alpha.test")
    assert not Invitation.objects.exists()


def test_invitation_create_twice_while_open_is_refused_but_allowed_after_expiry(partner_admin, partner_a):
    first, _ = services.invitation_create(actor=partner_admin, partner=partner_a, email="twice@alpha.test")
    with pytest.raises(ApplicationError):
        services.invitation_create(actor=partner_admin, partner=partner_a, email="twice@alpha.test")
    Invitation.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    second, _ = services.invitation_create(actor=partner_admin, partner=partner_a, email="twice@alpha.test")
    first.refresh_from_db()
    assert first.revoked_at is not None and second.pk != first.pk


def test_invitation_for_existing_account_is_refused(partner_admin, partner_a, other_partner_user):
    with pytest.raises(ApplicationError):
        services.invitation_create(actor=partner_admin, partner=partner_a, email=other_partner_user.email)


def test_partner_user_set_active_rules(partner_admin, partner_rep, other_partner_user):
    services.partner_user_set_active(actor=partner_admin, user=partner_rep, active=False)
    assert not User.objects.get(pk=partner_rep.pk).is_active
    with pytest.raises(ApplicationError):
        services.partner_user_set_active(actor=partner_admin, user=partner_admin, active=False)
    with pytest.raises(PermissionDenied):
        services.partner_user_set_active(actor=other_partner_user, user=partner_rep, active=True)
    services.partner_user_set_active(actor=partner_admin, user=partner_rep, active=True)
    assert User.objects.get(pk=partner_rep.pk).is_active


def test_partner_user_last_admin_cannot_be_deactivated_by_staff(manager, partner_admin):
    with pytest.raises(ApplicationError):
        services.partner_user_set_active(actor=manager, user=partner_admin, active=False)
    second_admin = PartnerUserFactory(partner=partner_admin.partner, role=Role.PARTNER_ADMIN)
    services.partner_user_set_active(actor=manager, user=partner_admin, active=False)
    assert not User.objects.get(pk=partner_admin.pk).is_active
    assert User.objects.get(pk=second_admin.pk).is_active


def test_user_constraint_partner_role_needs_partner(db):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="orphan@x.test", full_name="Orphan", role=Role.PARTNER_REP, partner=None)
    partner = PartnerFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="staff@x.test", full_name="Staff", role=Role.CHANNEL_MANAGER, partner=partner)


def test_next_step_reminders_sends_once_per_step(manager, partner_a):
    today = timezone.localdate()
    InteractionFactory(partner=partner_a, author=manager, next_step="Call back", next_step_due=today)
    InteractionFactory(partner=partner_a, author=manager, next_step="Later", next_step_due=today + timedelta(days=5))
    InteractionFactory(
        partner=partner_a, author=manager, next_step="Done", next_step_due=today, next_step_done_at=timezone.now()
    )
    assert next_step_reminders.run(today.isoformat()) == 1
    assert next_step_reminders.run(today.isoformat()) == 0
    assert Notification.objects.filter(user=manager, kind="next_step_due").count() == 1


def test_agreement_renewal_reminders_at_30_and_7_days(manager, partner_a):
    today = datetime.date(2026, 3, 1)
    AgreementFactory(partner=partner_a, ends_on=today + timedelta(days=20), starts_on=today - timedelta(days=300))
    assert agreement_renewal_reminders.run(today.isoformat()) == 1
    assert agreement_renewal_reminders.run(today.isoformat()) == 0
    # 14 days later it is inside the 7-day window: one more reminder, once.
    later = today + timedelta(days=14)
    assert agreement_renewal_reminders.run(later.isoformat()) == 1
    assert agreement_renewal_reminders.run(later.isoformat()) == 0


def test_notification_email_task_sends_once(manager):
    from prm.notifications import notification_send

    notification = notification_send(user=manager, kind="t", title="Hello", body="World", email=False)
    assert notification_email.run(notification.pk) is True
    assert notification_email.run(notification.pk) is False
    assert len(mail.outbox) == 1 and "World" in mail.outbox[0].body


def test_notification_send_dedupes_by_key(manager):
    from prm.notifications import notification_send

    assert notification_send(user=manager, kind="t", title="A", dedupe_key="k1", email=False) is not None
    assert notification_send(user=manager, kind="t", title="A", dedupe_key="k1", email=False) is None
    assert Notification.objects.filter(user=manager).count() == 1


def test_partner_country_is_upper_cased_and_must_be_iso2(manager):
    partner = services.partner_create(actor=manager, **_create_kwargs(country=" ru "))
    assert partner.country == "RU"
    with pytest.raises(ApplicationError) as exc:
        services.partner_update(actor=manager, partner=partner, data={"country": "Russia"})
    assert "country" in exc.value.fields
    partner.refresh_from_db()
    assert partner.country == "RU"
