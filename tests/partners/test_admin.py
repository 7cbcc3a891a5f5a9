"""Django admin: every page loads, changelists don't do N+1, edits are audited, lifecycle
actions go through the service and never 500, the audit trail cannot be edited."""

import datetime
import hashlib
import itertools

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from partners.models import (
    Certification,
    Contact,
    Invitation,
    KeyAccountProfile,
    Partner,
    PartnerStatus,
    PartnerType,
    Region,
    Tier,
)
from prm.audit import audit_record
from prm.models import AuditLog, ExchangeRate, Notification, Role, User
from tests.factories import (
    AgreementFactory,
    ContactFactory,
    InteractionFactory,
    PartnerFactory,
    PartnerUserFactory,
    TierFactory,
)

ADMIN_APPS = ("prm", "partners")
ADMIN_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label in ADMIN_APPS),
    key=lambda m: m._meta.label,
)
# Written only by services and tasks: the admin looks, it does not add.
NO_ADD_PAGE = {AuditLog, Notification, Invitation}
_seq = itertools.count()


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


def make_rows(n: int, owner: User) -> None:
    """`n` rows of every model the admin shows, each with its foreign keys filled in."""
    for _ in range(n):
        i = next(_seq)
        tier = TierFactory(code=f"t{i}", name=f"Tier {i}", rank=100 + i)
        partner = PartnerFactory(owner=owner, tier=tier, is_key_account=True)
        KeyAccountProfile.objects.create(partner=partner, senior_sponsor=f"Sponsor {i}")
        user = PartnerUserFactory(partner=partner, email=f"cab{i}@example.test")
        contact = ContactFactory(partner=partner, user=user)
        Certification.objects.create(contact=contact, course=f"Course {i}", earned_on=datetime.date(2026, 1, 1))
        AgreementFactory(partner=partner, vendor_responsible=owner, partner_responsible=contact)
        InteractionFactory(
            partner=partner, author=owner, contact=contact, next_step="Call back", next_step_due=timezone.localdate()
        )
        Invitation.objects.create(
            partner=partner,
            email=f"invitee{i}@example.test",
            invited_by=user,
            token_hash=hashlib.sha256(f"t{i}".encode()).hexdigest(),
            expires_at=timezone.now() + datetime.timedelta(hours=24),
        )
        Notification.objects.create(user=owner, kind="test", title=f"Notification {i}")
        audit_record(actor=owner, action="test.action", instance=partner, after={"i": i})
        ExchangeRate.objects.create(
            currency="USD", valid_from=datetime.date(2020, 1, 1) + datetime.timedelta(days=i), rate=90 + i
        )


def test_every_model_of_prm_and_partners_is_registered():
    for label in ADMIN_APPS:
        for model in apps.get_app_config(label).get_models():
            assert model in admin.site._registry, f"{model._meta.label} has no admin"


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m._meta.label)
def test_admin_changelist_loads_and_queries_do_not_grow_with_rows(admin_client, manager, model):
    url = _url(model, "changelist")
    make_rows(2, manager)
    admin_client.get(url)  # warm per-process caches (content types, …)
    with CaptureQueriesContext(connection) as few:
        response = admin_client.get(url)
    assert response.status_code == 200
    make_rows(6, manager)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)
    assert response.status_code == 200
    assert len(many) == len(few), "\n".join(q["sql"] for q in many.captured_queries)


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m._meta.label)
def test_admin_change_and_add_pages_load(admin_client, manager, model):
    make_rows(2, manager)
    obj = model._default_manager.order_by("-pk").first()
    assert admin_client.get(_url(model, "change", obj.pk)).status_code == 200
    expected = 403 if model in NO_ADD_PAGE else 200
    assert admin_client.get(_url(model, "add")).status_code == expected


def test_admin_search_works_on_every_changelist(admin_client, manager):
    make_rows(2, manager)
    for model in ADMIN_MODELS:
        response = admin_client.get(_url(model, "changelist"), {"q": "Alpha Ω 北京"})
        assert response.status_code == 200, model


# --- Posting admin forms ------------------------------------------------------------------


def _value(bound):
    value = bound.value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else None
    return value


def form_data(response) -> dict:
    """POST data that re-submits the admin form (and its inlines) as shown."""
    data = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = _value(form[name])
        if value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for sub in formset.initial_forms:
            for name in sub.fields:
                value = _value(sub[name])
                if value is not None:
                    data[sub.add_prefix(name)] = value
    return data


def test_admin_partner_edit_goes_through_the_service_and_is_audited(admin_client, admin_user, partner_a):
    url = _url(Partner, "change", partner_a.pk)
    data = form_data(admin_client.get(url))
    data.update(city="Kazan", website_domain="https://WWW.Alpha.example/about")
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    partner_a.refresh_from_db()
    assert partner_a.city == "Kazan"
    assert partner_a.website_domain == "alpha.example"  # the service normalised it
    entry = AuditLog.objects.get(action="partner.update", object_id=str(partner_a.pk))
    assert entry.actor == admin_user
    assert entry.before == {"city": "Moscow", "website_domain": ""}
    assert entry.after == {"city": "Kazan", "website_domain": "alpha.example"}
    assert entry.partner_id == partner_a.pk


def test_admin_partner_status_is_read_only_on_the_change_form(admin_client, partner_a):
    url = _url(Partner, "change", partner_a.pk)
    data = form_data(admin_client.get(url))
    data["status"] = PartnerStatus.TERMINATED
    assert admin_client.post(url, data).status_code == 302
    partner_a.refresh_from_db()
    assert partner_a.status == PartnerStatus.ACTIVE


def test_admin_partner_add_creates_through_the_service_with_kam_inline(admin_client, admin_user, manager):
    url = _url(Partner, "add")
    data = form_data(admin_client.get(url))
    data.update(
        name="Gamma Soft",
        legal_name="ООО «Гамма Софт»",
        partner_type=PartnerType.RESELLER,
        status=PartnerStatus.PROSPECT,
        country="RU",
        region=Region.RUSSIA,
        owner=manager.pk,
        is_key_account="on",
    )
    # The KAM inline is filled in on the same page the service creates the profile for.
    data.update(
        {"kam_profile-TOTAL_FORMS": "1", "kam_profile-0-senior_sponsor": "CEO", "kam_profile-0-currency": "RUB"}
    )
    for field in ("opportunity_1y", "opportunity_3y", "opportunity_5y"):
        data[f"kam_profile-0-{field}"] = "100"
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    partner = Partner.objects.get(name="Gamma Soft")
    assert partner.owner == manager
    assert partner.kam_profile.senior_sponsor == "CEO"
    assert AuditLog.objects.filter(action="partner.create", object_id=str(partner.pk), actor=admin_user).exists()
    assert AuditLog.objects.filter(action="keyaccountprofile.admin_update", partner_id=partner.pk).exists()


def test_admin_contact_edit_writes_an_audit_row(admin_client, admin_user, partner_a):
    contact = ContactFactory(partner=partner_a, full_name="Ivan Old")
    url = _url(Contact, "change", contact.pk)
    data = form_data(admin_client.get(url))
    data["full_name"] = "Ivan New"
    assert admin_client.post(url, data).status_code == 302
    entry = AuditLog.objects.get(action="contact.admin_update")
    assert (entry.before, entry.after, entry.reason) == (
        {"full_name": "Ivan Old"},
        {"full_name": "Ivan New"},
        "admin edit",
    )
    assert entry.actor == admin_user and entry.partner_id == partner_a.pk


def test_admin_inline_contact_edit_on_partner_page_is_audited(admin_client, partner_a):
    contact = ContactFactory(partner=partner_a, job_title="Sales director")
    url = _url(Partner, "change", partner_a.pk)
    data = form_data(admin_client.get(url))
    data["contacts-0-job_title"] = "CEO"
    assert admin_client.post(url, data).status_code == 302
    entry = AuditLog.objects.get(action="contact.admin_update", object_id=str(contact.pk))
    assert entry.after == {"job_title": "CEO"}


def test_admin_tier_edit_and_delete_are_audited(admin_client):
    tier = TierFactory(code="silver", name="Silver", rank=1)
    url = _url(Tier, "change", tier.pk)
    data = form_data(admin_client.get(url))
    data["discount_pct"] = "12.50"
    assert admin_client.post(url, data).status_code == 302
    entry = AuditLog.objects.get(action="tier.admin_update")
    assert entry.before == {"discount_pct": "0.00"} and entry.after == {"discount_pct": "12.50"}
    assert admin_client.post(_url(Tier, "delete", tier.pk), {"post": "yes"}).status_code == 302
    assert not Tier.objects.filter(pk=tier.pk).exists()
    assert AuditLog.objects.get(action="tier.admin_delete").before["code"] == "silver"


def test_admin_unchanged_save_writes_no_audit_row(admin_client, partner_a):
    url = _url(Partner, "change", partner_a.pk)
    assert admin_client.post(url, form_data(admin_client.get(url))).status_code == 302
    assert not AuditLog.objects.exists()


# --- Lifecycle actions --------------------------------------------------------------------


def _run_action(client, action, partners):
    return client.post(
        _url(Partner, "changelist"),
        {"action": action, "_selected_action": [p.pk for p in partners]},
        follow=True,
    )


def test_admin_action_illegal_transition_reports_and_changes_nothing(admin_client, partner_a):
    response = _run_action(admin_client, "reactivate", [partner_a])  # active → active is not a move
    assert response.status_code == 200
    errors = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert len(errors) == 1 and errors[0].startswith("Alpha Systems:")
    partner_a.refresh_from_db()
    assert partner_a.status == PartnerStatus.ACTIVE
    assert not AuditLog.objects.filter(action="partner.change_status").exists()


def test_admin_action_applies_legal_moves_and_reports_the_rest(admin_client, admin_user, partner_a, partner_b):
    Partner.objects.filter(pk=partner_b.pk).update(status=PartnerStatus.TERMINATED)
    response = _run_action(admin_client, "suspend", [partner_a, partner_b])
    levels = sorted(m.level_tag for m in get_messages(response.wsgi_request))
    assert levels == ["error", "success"]
    partner_a.refresh_from_db()
    partner_b.refresh_from_db()
    assert (partner_a.status, partner_b.status) == (PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED)
    entry = AuditLog.objects.get(action="partner.change_status")
    assert (entry.actor, entry.reason, entry.after) == (admin_user, "Admin action", {"status": "suspended"})


def test_admin_terminate_action_deactivates_cabinet_users(admin_client, partner_a, partner_admin):
    _run_action(admin_client, "terminate", [partner_a])
    partner_admin.refresh_from_db()
    assert not partner_admin.is_active


def test_admin_verify_action_sets_the_date(admin_client, partner_a):
    _run_action(admin_client, "mark_verified", [partner_a])
    partner_a.refresh_from_db()
    assert partner_a.verified and partner_a.verified_at is not None


# --- Users --------------------------------------------------------------------------------


def _add_user(client, **fields):
    url = _url(User, "add")
    data = {"password1": "a-long-password-42", "password2": "a-long-password-42", "full_name": "New Person"}
    data.update(fields)
    return client.post(url, data)


def test_admin_user_add_partner_role_requires_partner(admin_client):
    response = _add_user(admin_client, email="rep@new.test", role=Role.PARTNER_REP)
    assert response.status_code == 200
    assert "must belong to a partner" in str(response.context["adminform"].form.errors["partner"])
    assert not User.objects.filter(email="rep@new.test").exists()


def test_admin_user_add_staff_role_rejects_partner(admin_client, partner_a):
    response = _add_user(admin_client, email="cm@new.test", role=Role.CHANNEL_MANAGER, partner=partner_a.pk)
    assert response.status_code == 200
    assert "do not belong to a partner" in str(response.context["adminform"].form.errors["partner"])


def test_admin_user_add_partner_user_cannot_get_admin_access(admin_client, partner_a):
    response = _add_user(admin_client, email="rep@new.test", role=Role.PARTNER_REP, partner=partner_a.pk, is_staff="on")
    assert response.status_code == 200
    assert "is_staff" in response.context["adminform"].form.errors


def test_admin_user_add_creates_user_with_hashed_password_and_audit(admin_client, partner_a):
    response = _add_user(admin_client, email="Rep@New.Test", role=Role.PARTNER_REP, partner=partner_a.pk)
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="rep@new.test")
    assert user.partner == partner_a and user.check_password("a-long-password-42")
    entry = AuditLog.objects.get(action="user.admin_create")
    assert "password" not in entry.after and entry.after["email"] == "rep@new.test"


def test_admin_user_change_role_validation(admin_client, manager, partner_a):
    url = _url(User, "change", manager.pk)
    data = form_data(admin_client.get(url))
    data["partner"] = partner_a.pk
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "partner" in response.context["adminform"].form.errors
    data["role"] = Role.PARTNER_ADMIN
    assert admin_client.post(url, data).status_code == 302
    manager.refresh_from_db()
    assert (manager.role, manager.partner) == (Role.PARTNER_ADMIN, partner_a)


# --- Audit trail and notifications --------------------------------------------------------


def test_audit_log_admin_is_read_only_even_for_superusers(admin_client, admin_user, manager, partner_a):
    entry = audit_record(actor=manager, action="partner.update", instance=partner_a, after={"city": "X"})
    model_admin = admin.site._registry[AuditLog]
    request = type("R", (), {"user": admin_user})()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert admin_client.get(_url(AuditLog, "add")).status_code == 403
    assert admin_client.post(_url(AuditLog, "delete", entry.pk), {"post": "yes"}).status_code == 403
    response = admin_client.post(_url(AuditLog, "change", entry.pk), {"action": "hacked"})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.action == "partner.update"
    changelist = admin_client.get(_url(AuditLog, "changelist"), {"q": "Alpha"})
    assert changelist.status_code == 200 and b"partner.update" in changelist.content
    assert b'name="action"' not in changelist.content  # no bulk actions at all


def test_audit_log_filters_by_action_and_object_type(admin_client, manager, partner_a):
    audit_record(actor=manager, action="partner.update", instance=partner_a)
    response = admin_client.get(
        _url(AuditLog, "changelist"), {"action": "partner.update", "object_type": "partners.partner"}
    )
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_notification_admin_marks_read(admin_client, manager):
    note = Notification.objects.create(user=manager, kind="test", title="Hello")
    admin_client.post(_url(Notification, "changelist"), {"action": "mark_read", "_selected_action": [note.pk]})
    note.refresh_from_db()
    assert note.read_at is not None
    assert admin_client.get(_url(Notification, "add")).status_code == 403


def test_partner_owner_autocomplete_offers_staff_only(admin_client, manager, partner_admin):
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "partners", "model_name": "partner", "field_name": "owner", "term": ""},
    )
    assert response.status_code == 200
    ids = {int(r["id"]) for r in response.json()["results"]}
    assert manager.pk in ids and partner_admin.pk not in ids
