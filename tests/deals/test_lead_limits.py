"""Length limits on leads hold in the services (and the database), not only in the forms: a
reason of a decline / re-assignment / closure is at most 2,000 characters, a description
4,000 and a contact phone 40 — the same caps the CSV import shows — whichever door the text
comes through (API, pages, admin, import)."""

import random

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from deals import services
from deals.models import (
    LEAD_DESCRIPTION_MAX_LENGTH,
    LEAD_PHONE_MAX_LENGTH,
    LEAD_REASON_MAX_LENGTH,
    Lead,
    LeadOffer,
    LeadOfferStatus,
    LeadStatus,
    RoutingDecision,
)
from partners.models import Region
from prm.exceptions import ApplicationError
from tests.deals.factories import lead_fields, make_lead
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

TOO_LONG_REASON = "r" * (LEAD_REASON_MAX_LENGTH + 1)


@pytest.fixture
def offered(manager, partner_a, partner_admin):
    partner_a.country, partner_a.region = "DE", Region.EUROPE
    partner_a.save(update_fields=["country", "region"])
    lead = make_lead(country="DE", region="europe", customer_name="Kunde GmbH")
    services.lead_route(actor=manager, lead=lead, rng=random.Random(0))
    lead.refresh_from_db()
    assert lead.offered_to_id == partner_a.pk
    return lead


def test_limits_are_the_ones_the_forms_and_the_import_show():
    from deals import lead_import
    from deals.forms.leads import LeadCloseForm, LeadDeclineForm, LeadReassignForm

    assert (LEAD_REASON_MAX_LENGTH, LEAD_DESCRIPTION_MAX_LENGTH, LEAD_PHONE_MAX_LENGTH) == (2000, 4000, 40)
    assert lead_import.MAX_LENGTHS["description"] == LEAD_DESCRIPTION_MAX_LENGTH
    assert lead_import.MAX_LENGTHS["contact_phone"] == LEAD_PHONE_MAX_LENGTH
    for form in (LeadCloseForm, LeadDeclineForm, LeadReassignForm):
        assert form.base_fields["reason"].max_length == LEAD_REASON_MAX_LENGTH


def test_lead_decline_refuses_a_reason_over_the_limit_and_changes_nothing(offered, partner_admin):
    with pytest.raises(ApplicationError) as exc:
        services.lead_decline(user=partner_admin, lead=offered, reason=TOO_LONG_REASON)
    assert "2000" in exc.value.message and "reason" in exc.value.fields
    offered.refresh_from_db()
    assert offered.status == LeadStatus.OFFERED
    assert LeadOffer.objects.get(lead=offered).status == LeadOfferStatus.OFFERED
    # Exactly at the limit is fine.
    services.lead_decline(user=partner_admin, lead=offered, reason="r" * LEAD_REASON_MAX_LENGTH)


def test_lead_reassign_and_close_refuse_a_reason_over_the_limit(offered, manager, partner_a):
    other = PartnerFactory(country="FR", region=Region.EUROPE)
    decisions = RoutingDecision.objects.count()
    with pytest.raises(ApplicationError) as exc:
        services.lead_reassign(actor=manager, lead=offered, partner=other, reason=TOO_LONG_REASON)
    assert "reason" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        services.lead_close(actor=manager, lead=offered, reason=TOO_LONG_REASON)
    assert "reason" in exc.value.fields
    offered.refresh_from_db()
    assert offered.status == LeadStatus.OFFERED and offered.offered_to_id == partner_a.pk
    assert RoutingDecision.objects.count() == decisions


@pytest.mark.parametrize(
    ("field", "limit"),
    [("description", LEAD_DESCRIPTION_MAX_LENGTH), ("contact_phone", LEAD_PHONE_MAX_LENGTH)],
)
def test_lead_create_refuses_text_over_the_import_caps(manager, field, limit):
    with pytest.raises(ApplicationError) as exc:
        make_lead(actor=manager, **{field: "7" * (limit + 1)})
    assert set(exc.value.fields) == {field}
    assert str(limit) in exc.value.fields[field][0]
    assert not Lead.objects.exists()
    lead = make_lead(actor=manager, **{field: "7" * limit})
    assert len(getattr(lead, field)) == limit


def test_lead_create_never_truncates_silently(manager):
    """Text over a column's size is refused with the field named, not cut short."""
    with pytest.raises(ApplicationError) as exc:
        make_lead(actor=manager, city="C" * 121)
    assert set(exc.value.fields) == {"city"}


def test_leads_create_bulk_names_the_row_with_a_too_long_description(manager):
    rows = [lead_fields(), lead_fields(description="d" * (LEAD_DESCRIPTION_MAX_LENGTH + 1))]
    with pytest.raises(ApplicationError) as exc:
        services.leads_create_bulk(actor=manager, rows=rows, route=False)
    assert list(exc.value.fields) == ["row 2"]
    assert "description" in exc.value.fields["row 2"][0]
    assert not Lead.objects.exists()


def test_api_lead_create_gives_the_services_error_for_a_long_description(manager):
    response = (
        _api(manager)
        .post(
            "/api/v1/leads/",
            {**lead_fields(), "description": "d" * (LEAD_DESCRIPTION_MAX_LENGTH + 1), "route": False},
            format="json",
        )
        .json()
    )
    assert "description" in response["error"]["fields"]
    assert not Lead.objects.exists()


def test_api_lead_decline_long_reason_is_400_with_fields(offered, partner_admin):
    response = _api(partner_admin).post(
        f"/api/v1/leads/{offered.public_id}/decline/", {"reason": TOO_LONG_REASON}, format="json"
    )
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("model", "field", "size"),
    [
        (Lead, "description", LEAD_DESCRIPTION_MAX_LENGTH),
        (Lead, "closed_reason", LEAD_REASON_MAX_LENGTH),
        (LeadOffer, "decline_reason", LEAD_REASON_MAX_LENGTH),
    ],
)
def test_database_refuses_text_over_the_limits(offered, model, field, size):
    row = model.objects.filter(lead=offered).first() if model is not Lead else offered
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=row.pk).update(**{field: "x" * (size + 1)})


def test_database_refuses_a_long_phone(offered):
    from django.db import DataError

    with pytest.raises(DataError), transaction.atomic():
        Lead.objects.filter(pk=offered.pk).update(contact_phone="7" * (LEAD_PHONE_MAX_LENGTH + 1))


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client
