"""A lead without a currency is in the base currency (PRM["BASE_CURRENCY"]), whether it is
created by hand, through the API or from a CSV file; the import's preview says so for each
row with a value but no currency, so nobody is surprised after confirming."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from deals import lead_import, services
from tests.deals.factories import lead_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def base_eur(settings):
    settings.PRM = {**settings.PRM, "BASE_CURRENCY": "EUR"}
    return "EUR"


def test_lead_create_without_currency_is_in_the_base_currency(manager, base_eur):
    fields = lead_fields(estimated_value="1000")
    fields.pop("currency")
    lead = services.lead_create(actor=manager, route=False, **fields)
    assert lead.currency == base_eur


def test_api_lead_create_without_currency_is_in_the_base_currency(manager, base_eur):
    client = APIClient()
    client.force_authenticate(manager)
    response = client.post(
        "/api/v1/leads/",
        {"customer_name": "Globex", "country": "RU", "estimated_value": "1000.00", "route": False},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["currency"] == base_eur


def test_import_row_with_a_value_and_no_currency_takes_the_base_currency_and_says_so(base_eur):
    parsed = lead_import.parse(b"customer_name,country,estimated_value,currency\nAcme,DE,100,\nBeta,DE,,\n")
    assert parsed.is_valid, [r.errors for r in parsed.rows]
    with_value, without_value = parsed.rows
    assert with_value.values["currency"] == base_eur
    assert any(base_eur in note for note in with_value.note_list())
    # No value: the currency means nothing yet, nothing to point out.
    assert without_value.values["currency"] == base_eur and without_value.note_list() == []


def test_import_file_without_a_currency_column_takes_the_base_currency(base_eur):
    parsed = lead_import.parse(b"customer_name,country,estimated_value\nAcme,DE,100\n")
    assert parsed.is_valid
    assert parsed.rows[0].values["currency"] == base_eur


def test_import_and_lead_create_agree_on_the_currency(manager, base_eur):
    parsed = lead_import.parse(b"customer_name,country,estimated_value\nAcme,DE,100\n")
    [lead] = services.leads_create_bulk(actor=manager, rows=parsed.service_rows(), route=False)
    fields = lead_fields(country="DE", estimated_value="100")
    fields.pop("currency")
    assert lead.currency == services.lead_create(actor=manager, route=False, **fields).currency == base_eur


def test_import_preview_page_shows_the_assumed_currency(manager_client, base_eur):
    content = b"customer_name,country,estimated_value\nAcme,DE,100\n"
    response = manager_client.post(
        reverse("staff:lead_import"), {"file": SimpleUploadedFile("leads.csv", content, "text/csv")}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="lead-import-row-notes"' in html
    assert "EUR" in html and "base currency" in html
