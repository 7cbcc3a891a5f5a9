"""Certification services, selectors and the expiry reminder."""

import datetime as dt

import pytest
from django.utils import timezone

from partners import services
from partners.models import Certification
from partners.selectors_certifications import (
    certification_list_for_user,
    certified_people_count,
    valid_certification_count,
)
from partners.tasks import certification_expiry_reminders
from prm.exceptions import ApplicationError, PermissionDenied
from prm.models import AuditLog, Notification
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _today():
    return timezone.localdate()


def _cert(actor, contact, course="Network Pro", earned_days_ago=100, expires_in=265, **kw):
    return services.certification_create(
        actor=actor,
        contact=contact,
        course=course,
        earned_on=_today() - dt.timedelta(days=earned_days_ago),
        expires_on=None if expires_in is None else _today() + dt.timedelta(days=expires_in),
        **kw,
    )


def test_certification_create_audits_and_refuses_partners(manager, partner_a, partner_admin):
    contact = ContactFactory(partner=partner_a)
    cert = _cert(manager, contact, certificate_number="C-1")
    assert AuditLog.objects.filter(
        action="certification.create", object_id=str(cert.pk), partner_id=partner_a.pk
    ).exists()
    with pytest.raises(PermissionDenied):
        _cert(partner_admin, contact, course="Other")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"course": " "}, "course"),
        ({"earned_days_ago": -3}, "earned_on"),
        ({"earned_days_ago": 10, "expires_in": -10}, "expires_on"),
    ],
)
def test_certification_create_rejects_bad_input(manager, partner_a, kwargs, field):
    with pytest.raises(ApplicationError) as exc:
        _cert(manager, ContactFactory(partner=partner_a), **kwargs)
    assert field in exc.value.fields
    assert not Certification.objects.exists()


def test_certification_create_twice_same_day_is_a_clear_error(manager, partner_a):
    contact = ContactFactory(partner=partner_a)
    _cert(manager, contact)
    with pytest.raises(ApplicationError) as exc:
        _cert(manager, contact)
    assert "course" in exc.value.fields


def test_certification_update_and_revoke_are_audited(manager, partner_a):
    cert = _cert(manager, ContactFactory(partner=partner_a))
    services.certification_update(actor=manager, certification=cert, data={"expires_on": None})
    cert.refresh_from_db()
    assert cert.expires_on is None
    log = AuditLog.objects.get(action="certification.update")
    assert "expires_on" in log.after
    with pytest.raises(ApplicationError):
        services.certification_update(actor=manager, certification=cert, data={"contact_id": 1})
    services.certification_revoke(actor=manager, certification=cert, reason="issued in error")
    assert not Certification.objects.exists()
    assert AuditLog.objects.get(action="certification.revoke").reason == "issued in error"
    services.certification_revoke(actor=manager, certification=cert)  # twice: nothing happens


def test_certified_people_count_ignores_expired_and_inactive(manager, partner_a, partner_b):
    alice, bob, gone = (ContactFactory(partner=partner_a) for _ in range(3))
    _cert(manager, alice, course="A")
    _cert(manager, alice, course="B", expires_in=None)
    _cert(manager, bob, course="A", earned_days_ago=800, expires_in=-10)  # expired
    _cert(manager, gone, course="A")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    _cert(manager, ContactFactory(partner=partner_b), course="A")
    assert certified_people_count(partner=partner_a) == 1
    assert valid_certification_count(partner=partner_a) == 3
    # On a past day, bob's certificate was still valid.
    assert certified_people_count(partner=partner_a, on=_today() - dt.timedelta(days=50)) == 2


def test_certification_list_for_user_scopes_and_filters(manager, partner_a, partner_b, partner_rep):
    mine = _cert(manager, ContactFactory(partner=partner_a), expires_in=10)
    _cert(manager, ContactFactory(partner=partner_a), expires_in=200)
    theirs = _cert(manager, ContactFactory(partner=partner_b), expires_in=5)
    assert set(certification_list_for_user(user=partner_rep)) - {mine} and theirs not in set(
        certification_list_for_user(user=partner_rep)
    )
    expiring = list(certification_list_for_user(user=manager, filters={"expiring_within": 30}))
    assert expiring == [theirs, mine]


def test_certification_expiry_reminders_once_per_certificate(manager, partner_a, partner_admin, partner_rep):
    soon = _cert(manager, ContactFactory(partner=partner_a, full_name="Ivan Petrov"), expires_in=20)
    _cert(manager, ContactFactory(partner=partner_a), course="Later", expires_in=60)
    assert certification_expiry_reminders() == 1
    assert certification_expiry_reminders() == 0
    note = Notification.objects.get()
    assert note.user == partner_admin and "Ivan Petrov" in note.title and soon.course in note.title
