"""Admin for certifications and sales records goes through the services."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from deals.models import SalesRecord
from partners.models import Certification
from prm.models import AuditLog
from tests.deals.sales_helpers import make_sale
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_admin_certification_add_and_delete_are_audited(admin_user, client_for, partner_a):
    client = client_for(admin_user)
    contact = ContactFactory(partner=partner_a)
    today = timezone.localdate()
    response = client.post(
        reverse("admin:partners_certification_add"),
        {"contact": contact.pk, "course": "Admin Course", "certificate_number": "", "earned_on": today.isoformat()},
    )
    assert response.status_code == 302, response.content[:2000]
    cert = Certification.objects.get()
    assert AuditLog.objects.filter(action="certification.create", object_id=str(cert.pk)).exists()
    future = client.post(
        reverse("admin:partners_certification_add"),
        {"contact": contact.pk, "course": "X", "earned_on": (today + dt.timedelta(days=3)).isoformat()},
    )
    assert future.status_code == 200 and Certification.objects.count() == 1
    client.post(reverse("admin:partners_certification_delete", args=[cert.pk]), {"post": "yes"})
    assert not Certification.objects.exists()
    assert AuditLog.objects.filter(action="certification.revoke").exists()


def test_admin_sales_records_are_read_only_and_return_through_the_service(admin_user, client_for, manager, partner_a):
    client = client_for(admin_user)
    sale = make_sale(actor=manager, partner=partner_a, amount="80")
    assert client.get(reverse("admin:deals_salesrecord_changelist")).status_code == 200
    assert client.get(reverse("admin:deals_salesrecord_add")).status_code == 403
    client.post(
        reverse("admin:deals_salesrecord_changelist"),
        {"action": "return_in_full", "_selected_action": [sale.pk]},
    )
    assert SalesRecord.objects.get(amount__lt=0).amount == -80
    assert AuditLog.objects.filter(action="sales.return").exists()
