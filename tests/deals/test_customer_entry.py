"""The EndCustomer record is shared by every registration of the same company; a partner must
see its own entry, never the spelling, website or city another partner typed."""

import pytest
from django.urls import reverse

from deals import services
from tests.deals.factories import customer_data, make_deal

pytestmark = pytest.mark.django_db

ALPHA_ENTRY = customer_data(
    name="ООО «Ромашка Секретный Проект»", website="https://alpha-only.romashka.ru", city="Тверь"
)
BETA_ENTRY = customer_data(name="Ромашка", website="", city="Москва")
ALPHA_ONLY = ("Секретный Проект", "alpha-only", "Тверь")


@pytest.fixture
def beta_deal(partner_admin, other_partner_user):
    make_deal(user=partner_admin, customer=ALPHA_ENTRY, submit=True)
    return make_deal(user=other_partner_user, customer=BETA_ENTRY)


def _assert_alpha_entry_absent(text: str) -> None:
    for secret in ALPHA_ONLY:
        assert secret not in text, secret


def test_registration_shares_customer_record_but_keeps_own_entry(beta_deal, partner_admin):
    assert beta_deal.end_customer.name == ALPHA_ENTRY["name"]  # the shared record (same tax id)
    assert beta_deal.customer_as_entered.name == "Ромашка"
    assert beta_deal.customer_as_entered.city == "Москва"
    assert beta_deal.customer_as_entered.tax_id == "7707083893"


def test_cabinet_pages_and_csv_show_own_entry_only(beta_deal, other_partner_client):
    detail = other_partner_client.get(reverse("cabinet:deal_detail", args=[beta_deal.public_id])).content.decode()
    assert "Ромашка" in detail and "Москва" in detail
    _assert_alpha_entry_absent(detail)
    _assert_alpha_entry_absent(other_partner_client.get(reverse("cabinet:deal_list")).content.decode())
    _assert_alpha_entry_absent(
        other_partner_client.get(reverse("cabinet:deal_edit", args=[beta_deal.public_id])).content.decode()
    )
    response = other_partner_client.get(reverse("cabinet:deal_list"), {"format": "csv"})
    _assert_alpha_entry_absent(b"".join(response.streaming_content).decode("utf-8-sig"))


def test_api_shows_partner_its_own_entry_and_staff_the_shared_record(
    beta_deal, other_partner_user, manager, api_client
):
    api_client.force_authenticate(other_partner_user)
    body = api_client.get(f"/api/v1/deals/{beta_deal.public_id}/").json()
    assert body["end_customer"]["name"] == "Ромашка"
    _assert_alpha_entry_absent(str(body))
    _assert_alpha_entry_absent(str(api_client.get("/api/v1/deals/").json()))
    api_client.force_authenticate(manager)
    assert api_client.get(f"/api/v1/deals/{beta_deal.public_id}/").json()["end_customer"]["name"] == ALPHA_ENTRY["name"]


def test_deal_update_replaces_own_entry(beta_deal, other_partner_user):
    services.deal_update(
        user=other_partner_user, deal=beta_deal, customer=customer_data(name="Ромашка АО", city="Казань")
    )
    beta_deal.refresh_from_db()
    assert beta_deal.customer_as_entered.name == "Ромашка АО"
    assert beta_deal.customer_as_entered.city == "Казань"
