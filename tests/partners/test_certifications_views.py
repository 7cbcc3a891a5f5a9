"""Certification pages and API: happy path, anonymous, partner B (404), query counts."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partners import services
from partners.models import Certification
from prm.models import AuditLog
from tests.factories import ContactFactory, PartnerFactory

pytestmark = pytest.mark.django_db
API = "/api/v1/certifications/"


def _cert(manager, contact, course="Network Pro", expires_in=200):
    today = timezone.localdate()
    return services.certification_create(
        actor=manager,
        contact=contact,
        course=course,
        earned_on=today - dt.timedelta(days=30),
        expires_on=None if expires_in is None else today + dt.timedelta(days=expires_in),
    )


def test_staff_certification_list_filters_expiring(manager, manager_client, partner_a, other_partner_client):
    soon = _cert(manager, ContactFactory(partner=partner_a), expires_in=20)
    _cert(manager, ContactFactory(partner=partner_a), course="Later", expires_in=200)
    url = reverse("staff:certification_list")
    assert Client().get(url).status_code == 302
    assert other_partner_client.get(url).status_code == 404
    assert len(manager_client.get(url).context["certs"]) == 2
    response = manager_client.get(url, {"expiring_within": "30"})
    assert [c.pk for c in response.context["certs"]] == [soon.pk]
    assert response.context["certs"][0].state == "expiring"


def test_staff_certification_list_query_count(manager, manager_client, django_assert_max_num_queries):
    _cert(manager, ContactFactory(partner=PartnerFactory()))
    url = reverse("staff:certification_list")
    with django_assert_max_num_queries(14) as small:
        manager_client.get(url)
    for i in range(20):
        _cert(manager, ContactFactory(partner=PartnerFactory()), course=f"C{i}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        manager_client.get(url)


def test_partner_certifications_slot_add_and_revoke(manager, manager_client, partner_a, other_partner_client):
    contact = ContactFactory(partner=partner_a, full_name="Olga Ivanova")
    url = reverse("staff:partner_certifications", args=[partner_a.public_id])
    assert Client().get(url).status_code == 302
    assert other_partner_client.get(url).status_code == 404
    assert manager_client.get(url).status_code == 200
    today = timezone.localdate()
    data = {
        "contact": contact.public_id,
        "course": "Security Expert",
        "earned_on": (today - dt.timedelta(days=1)).isoformat(),
        "expires_on": (today + dt.timedelta(days=365)).isoformat(),
    }
    response = manager_client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Olga Ivanova" in response.content.decode()
    cert = Certification.objects.get()
    bad = manager_client.post(url, {**data, "expires_on": data["earned_on"]})
    assert bad.status_code == 400 and Certification.objects.count() == 1
    revoke = reverse("staff:certification_revoke", args=[cert.public_id])
    assert other_partner_client.post(revoke).status_code == 404
    assert manager_client.post(revoke).status_code == 302
    assert not Certification.objects.exists() and AuditLog.objects.filter(action="certification.revoke").exists()


def test_partner_certifications_slot_refuses_other_partners_contact(manager, manager_client, partner_a, partner_b):
    stranger = ContactFactory(partner=partner_b)
    url = reverse("staff:partner_certifications", args=[partner_a.public_id])
    today = timezone.localdate().isoformat()
    response = manager_client.post(url, {"contact": stranger.public_id, "course": "X", "earned_on": today})
    assert response.status_code == 400 and not Certification.objects.exists()


def test_cabinet_certification_list_own_people_only(manager, partner_a, partner_b, partner_rep_client):
    _cert(manager, ContactFactory(partner=partner_a, full_name="Own Person"))
    _cert(manager, ContactFactory(partner=partner_b, full_name="Other Person"))
    url = reverse("cabinet:certification_list")
    assert Client().get(url).status_code == 302
    content = partner_rep_client.get(url).content.decode()
    assert "Own Person" in content and "Other Person" not in content


def test_certifications_api(api_client, manager, partner_a, partner_b, partner_admin, other_partner_user):
    contact = ContactFactory(partner=partner_a)
    assert api_client.get(API).status_code == 401
    api_client.force_authenticate(manager)
    today = timezone.localdate()
    data = {"contact": str(contact.public_id), "course": "Cloud", "earned_on": today.isoformat()}
    created = api_client.post(API, data, format="json")
    assert created.status_code == 201 and created.json()["is_valid"] is True
    dup = api_client.post(API, data, format="json")
    assert dup.status_code == 400 and set(dup.json()["error"]) == {"code", "message", "fields"}
    cert_id = created.json()["id"]
    api_client.force_authenticate(partner_admin)
    assert [c["id"] for c in api_client.get(API).json()["results"]] == [cert_id]
    assert api_client.post(API, data, format="json").status_code == 403
    assert api_client.delete(f"{API}{cert_id}/").status_code == 403
    api_client.force_authenticate(other_partner_user)
    assert api_client.get(API).json()["results"] == []
    assert api_client.get(f"{API}{cert_id}/").status_code == 404
    api_client.force_authenticate(manager)
    assert api_client.get(API, {"partner": str(partner_b.public_id)}).json()["results"] == []
    assert api_client.delete(f"{API}{cert_id}/").status_code == 204
    assert not Certification.objects.exists()


def test_certifications_api_list_query_count(api_client, manager, django_assert_max_num_queries):
    _cert(manager, ContactFactory(partner=PartnerFactory()))
    api_client.force_authenticate(manager)
    with django_assert_max_num_queries(8) as small:
        api_client.get(API)
    for i in range(15):
        _cert(manager, ContactFactory(partner=PartnerFactory()), course=f"K{i}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        api_client.get(API)


def test_certification_revoke_anonymous_and_partner_users_change_nothing(manager, partner_a, partner_admin_client):
    cert = _cert(manager, ContactFactory(partner=partner_a))
    url = reverse("staff:certification_revoke", args=[cert.public_id])
    assert Client().post(url).status_code == 302
    assert partner_admin_client.post(url).status_code == 404  # even its own partner's: staff only
    assert Certification.objects.filter(pk=cert.pk).exists()
    assert Client().get(reverse("cabinet:certification_list")).status_code == 302
