"""Django admin for deals: every model is there, every page loads for a superuser, the
changelists do not do N+1, and the lifecycle models are read-only (the services own them)."""

import datetime
import itertools
import uuid

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from deals import services
from deals.admin import DealProductInline, DealRegistrationAdmin
from deals.models import (
    Conflict,
    DealProduct,
    DealReferenceCounter,
    DealRegistration,
    DirectAccount,
    EndCustomer,
    Holiday,
    Lead,
    LeadImport,
    LeadOffer,
    LeadReferenceCounter,
    PartnerSpecialisation,
    Product,
    ProductLine,
    ProtectionExtension,
    RoutingDecision,
    RoutingRule,
    SalesRecord,
)
from tests.deals.factories import (
    DirectAccountFactory,
    HolidayFactory,
    ProductFactory,
    ProductLineFactory,
    customer_data,
    make_deal,
)
from tests.deals.test_dashboard_admin import FORECAST_ADMIN_MODELS

# Models the admin shows on their own pages.
ADMIN_MODELS = [
    ProductLine,
    Product,
    Holiday,
    EndCustomer,
    DirectAccount,
    DealRegistration,
    Conflict,
    ProtectionExtension,
    SalesRecord,
    RoutingRule,
    PartnerSpecialisation,
    Lead,
    LeadOffer,
    RoutingDecision,
    LeadImport,
]
# Deals models without a page of their own, and why. A new model must be added to the admin
# or here, with the reason, or test_every_deals_model_is_in_the_admin fails.
NOT_ON_THEIR_OWN_PAGE = {
    DealProduct: "shown as an inline on the registration page",
    DealReferenceCounter: "internal counter behind DR-<year>-<n> references, bumped by an upsert",
    LeadReferenceCounter: "internal counter behind L-<year>-<n> references, bumped by an upsert",
}
# The lifecycle belongs to the services: the admin only looks.
READ_ONLY = {DealRegistration, Conflict, ProtectionExtension, SalesRecord, Lead, LeadOffer, RoutingDecision, LeadImport}
# Created by registrations (end_customer_get_or_create), never by hand.
NO_ADD_PAGE = READ_ONLY | {EndCustomer}
_seq = itertools.count()


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


def _customer(i: int) -> dict:
    # Unrelated names and keys, so only the pairs made on purpose conflict.
    token = uuid.uuid4().hex[:10]
    return customer_data(
        name=f"{token} {i}", website=f"https://{token}.example", tax_id=f"{7_000_000_000 + i * 7919}", city="Kazan"
    )


def make_rows(n: int, *, manager, partner_admin, other_partner_user) -> None:
    """`n` rows of every model the admin shows: catalogue, calendar, direct accounts, and
    through the services registrations, a conflict per pair and an extension request."""
    for _ in range(n):
        i = next(_seq)
        ProductFactory()  # and its own product line
        HolidayFactory(date=datetime.date(2030, 1, 1) + datetime.timedelta(days=i))
        DirectAccountFactory(tax_id=f"{5_000_000_000 + i}")
        customer = _customer(i)
        make_deal(user=partner_admin, customer=customer, submit=True)
        make_deal(user=other_partner_user, customer=customer, submit=True)  # → a conflict
        protected = make_deal(user=partner_admin, customer=_customer(i + 100_000), submit=True)
        protected = services.deal_approve(user=manager, deal=protected)
        services.deal_request_extension(user=partner_admin, deal=protected, reason="Customer board moved a month")
        services.sales_record_create(
            actor=manager,
            partner=protected.partner,
            kind="sell_in",
            occurred_on=datetime.date(2026, 1, 1),
            amount=100 + i,
            currency="RUB",
            reference=f"ADM-{i}",
        )
        # Leads: a rule, a specialisation, a routed lead (offer + decision) and an import.
        RoutingRule.objects.create(name=f"Rule {i}", position=i + 1, countries=["RU"])
        PartnerSpecialisation.objects.create(partner=partner_admin.partner, product_line=ProductLineFactory())
        services.lead_create(actor=manager, customer_name=f"Lead customer {i}", country="RU")
        LeadImport.objects.create(created_by=manager, file_name=f"leads-{i}.csv")


@pytest.fixture
def rows(manager, partner_admin, other_partner_user):
    def _make(n: int) -> None:
        make_rows(n, manager=manager, partner_admin=partner_admin, other_partner_user=other_partner_user)

    return _make


def test_every_deals_model_is_in_the_admin():
    for model in apps.get_app_config("deals").get_models():
        if model in NOT_ON_THEIR_OWN_PAGE:
            assert model not in admin.site._registry, f"{model._meta.label}: drop it from NOT_ON_THEIR_OWN_PAGE"
            continue
        assert model in admin.site._registry, f"{model._meta.label} has no admin"
    assert sorted(m._meta.label for m in [*ADMIN_MODELS, *FORECAST_ADMIN_MODELS]) == sorted(
        m._meta.label for m in admin.site._registry if m._meta.app_label == "deals"
    )
    assert DealProductInline in DealRegistrationAdmin.inlines


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_admin_changelist_loads_and_queries_do_not_grow_with_rows(admin_client, rows, model):
    url = _url(model, "changelist")
    rows(3)
    admin_client.get(url)  # warm per-process caches (content types, …)
    with CaptureQueriesContext(connection) as few:
        response = admin_client.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 3
    rows(12)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 15
    assert len(many) == len(few), "\n".join(q["sql"] for q in many.captured_queries)


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_admin_change_page_loads(admin_client, rows, model):
    rows(2)
    obj = model._default_manager.order_by("-pk").first()
    response = admin_client.get(_url(model, "change", obj.pk))
    assert response.status_code == 200
    if model in READ_ONLY:
        # View-only for everyone: no save button, and a POST changes nothing.
        assert b'name="_save"' not in response.content
        assert admin_client.post(_url(model, "change", obj.pk), {}).status_code == 403


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_admin_add_page_exists_only_where_rows_are_made_by_hand(admin_client, model):
    response = admin_client.get(_url(model, "add"))
    assert response.status_code == (403 if model in NO_ADD_PAGE else 200)


def test_admin_changelists_search_and_filter_without_errors(admin_client, rows):
    rows(2)
    for model in ADMIN_MODELS:
        url = _url(model, "changelist")
        assert admin_client.get(url, {"q": "DR-2026 Ромашка 北京"}).status_code == 200
    assert admin_client.get(_url(DealRegistration, "changelist"), {"status__exact": "submitted"}).status_code == 200
    assert admin_client.get(_url(Conflict, "changelist"), {"status__exact": "open"}).status_code == 200


def test_admin_registration_page_lists_its_products(admin_client, partner_admin, products):
    deal = make_deal(user=partner_admin, customer=_customer(next(_seq)), products=products[:2])
    response = admin_client.get(_url(DealRegistration, "change", deal.pk))
    assert response.status_code == 200
    for product in products[:2]:
        assert str(product).encode() in response.content
    assert str(products[2]).encode() not in response.content


def test_admin_is_closed_to_channel_managers(client_for, manager):
    response = client_for(manager).get(_url(DealRegistration, "changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_admin_is_closed_to_anonymous_users(client):
    response = client.get(_url(Conflict, "changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.fixture
def products(db):
    line = ProductLineFactory(name="Firewalls", code="firewalls")
    return [ProductFactory(line=line, name=f"FW-{i}") for i in range(3)]
