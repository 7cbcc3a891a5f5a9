"""Partner cabinet pages for deal registration: list + CSV, register with the live check,
the registration page (timeline, conflict notice, actions), the home card — and that a partner
never learns anything about another partner's registration."""

import csv
import datetime as dt
import io
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from deals import services
from deals.models import Conflict, DealRegistration, DealStatus, ExtensionStatus
from tests.deals import factories as deal_factories
from tests.deals.factories import customer_data, make_deal
from tests.factories import PartnerUserFactory

pytestmark = pytest.mark.django_db

products = deal_factories.products

OTHER_SECRETS = ("Beta Trade", "Beta secret deal", "987654")


def _random_name() -> str:
    # Random letters: different customers must not look alike to the trigram rule.
    return "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:14]).capitalize()


def _customer(**overrides):
    tax = f"{uuid.uuid4().int % 10**10:010d}"
    data = {"name": _random_name(), "website": f"https://{uuid.uuid4().hex[:10]}.example", "tax_id": tax}
    data.update(overrides)
    return customer_data(**data)


@pytest.fixture
def draft(partner_admin):
    return make_deal(user=partner_admin, customer=_customer(), title="Alpha draft")


@pytest.fixture
def submitted(partner_admin):
    return make_deal(user=partner_admin, customer=_customer(), title="Alpha submitted", submit=True)


@pytest.fixture
def approved(partner_admin, manager):
    deal = make_deal(user=partner_admin, customer=_customer(), title="Alpha approved", submit=True)
    return services.deal_approve(user=manager, deal=deal)


ROMASHKA = {"name": "Romashka Holding", "tax_id": "7707083893", "website": "https://romashka.ru"}


@pytest.fixture
def in_conflict(partner_admin, other_partner_user, manager):
    """B's registration is approved; then A registers the same customer: A's is in conflict.
    Returns (A's registration, B's registration)."""
    theirs = make_deal(
        user=other_partner_user,
        customer=customer_data(**ROMASHKA),
        submit=True,
        title="Beta secret deal",
        value="987654.00",
    )
    services.deal_approve(user=manager, deal=theirs, note="Staff note about Beta")
    mine = make_deal(user=partner_admin, customer=customer_data(**ROMASHKA), submit=True, title="Alpha bid")
    assert Conflict.objects.count() == 1
    return mine, DealRegistration.objects.get(pk=theirs.pk)


def _assert_no_secrets(text: str, theirs: DealRegistration):
    for secret in (*OTHER_SECRETS, theirs.reference, str(theirs.public_id), "Staff note about Beta", "Boris Beta"):
        assert secret not in text


def _form_data(products_=(), **overrides):
    data = {
        "customer_name": _random_name(),
        "customer_website": f"https://{uuid.uuid4().hex[:8]}.example",
        "customer_tax_id": f"{uuid.uuid4().int % 10**10:010d}",
        "customer_country": "ru",
        "customer_city": "Moscow",
        "title": "New firewall",
        "products": [p.pk for p in products_],
        "value": "150000.00",
        "currency": "RUB",
        "expected_close_date": (timezone.localdate() + dt.timedelta(days=45)).isoformat(),
        "stage": "proposal",
        "action": "draft",
    }
    data.update(overrides)
    return data


# --- access: anonymous, other partner, staff ------------------------------------------------


def _deal_urls(deal):
    return [
        reverse("cabinet:deal_detail", args=[deal.public_id]),
        reverse("cabinet:deal_edit", args=[deal.public_id]),
    ]


def _deal_post_urls(deal):
    return [
        reverse(f"cabinet:{name}", args=[deal.public_id])
        for name in ("deal_edit", "deal_submit", "deal_extend", "deal_won", "deal_lost")
    ]


LIST_URLS = ["cabinet:deal_list", "cabinet:deal_create", "cabinet:deal_check", "cabinet:deal_home_card"]


@pytest.mark.parametrize("name", LIST_URLS)
def test_cabinet_deal_pages_redirect_anonymous_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_cabinet_deal_object_pages_redirect_anonymous_to_login(client, draft):
    for url in _deal_urls(draft) + _deal_post_urls(draft):
        response = client.post(url) if url in _deal_post_urls(draft) else client.get(url)
        assert response.status_code == 302 and reverse("login") in response["Location"], url


def test_cabinet_deal_pages_are_404_for_staff(manager_client):
    for name in LIST_URLS:
        assert manager_client.get(reverse(name)).status_code == 404


def test_cabinet_deal_object_pages_are_404_for_other_partner(other_partner_client, approved):
    for url in _deal_urls(approved):
        assert other_partner_client.get(url).status_code == 404, url
    for url in _deal_post_urls(approved):
        assert other_partner_client.post(url, {"reason": "x", "final_amount": "1"}).status_code == 404, url
    approved.refresh_from_db()
    assert approved.status == DealStatus.APPROVED


def test_cabinet_deal_detail_is_404_for_colleague_rep(partner_rep, client_for, draft):
    # A rep sees only the registrations it registered itself.
    response = client_for(partner_rep).get(reverse("cabinet:deal_detail", args=[draft.public_id]))
    assert response.status_code == 404


# --- list, filters, CSV --------------------------------------------------------------------


def test_cabinet_deal_list_shows_company_rows_with_badges_and_countdowns(
    partner_admin_client, draft, submitted, approved, other_partner_user
):
    theirs = make_deal(user=other_partner_user, customer=_customer(), title="Beta secret deal", value="987654.00")
    response = partner_admin_client.get(reverse("cabinet:deal_list"))
    assert response.status_code == 200
    body = response.content.decode()
    for deal in (draft, submitted, approved):
        assert deal.reference in body
    assert theirs.reference not in body and "Beta secret deal" not in body
    assert 'data-kind="review"' in body and 'data-kind="protection"' in body
    assert 'data-status="approved"' in body


def test_cabinet_deal_list_for_rep_shows_only_own(partner_rep, client_for, draft):
    mine = make_deal(user=partner_rep, customer=_customer(), title="Rep deal")
    body = client_for(partner_rep).get(reverse("cabinet:deal_list")).content.decode()
    assert mine.reference in body and draft.reference not in body


def test_cabinet_deal_list_filters_by_status_stage_and_search(partner_admin_client, draft, submitted):
    url = reverse("cabinet:deal_list")
    body = partner_admin_client.get(url, {"status": "submitted"}).content.decode()
    assert submitted.reference in body and draft.reference not in body
    body = partner_admin_client.get(url, {"q": draft.reference}).content.decode()
    assert draft.reference in body and submitted.reference not in body
    body = partner_admin_client.get(url, {"stage": "commit"}).content.decode()
    assert draft.reference not in body and submitted.reference not in body


def test_cabinet_deal_list_ignores_invalid_filter_values(partner_admin_client, draft):
    response = partner_admin_client.get(reverse("cabinet:deal_list"), {"status": "bogus", "page": "zzz"})
    assert response.status_code == 200


def test_cabinet_deal_list_query_count_does_not_grow(
    partner_admin, partner_admin_client, products, django_assert_max_num_queries
):
    def make(n):
        for _ in range(n):
            make_deal(user=partner_admin, customer=_customer(), products=products[:2], submit=True)

    make(3)
    with django_assert_max_num_queries(40) as small:
        assert partner_admin_client.get(reverse("cabinet:deal_list")).status_code == 200
    make(12)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = partner_admin_client.get(reverse("cabinet:deal_list"))
    assert len(response.context["deals"]) == 15


def _csv_rows(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_cabinet_deal_csv_exports_filtered_own_rows(partner_admin_client, draft, submitted):
    response = partner_admin_client.get(reverse("cabinet:deal_list"), {"format": "csv", "status": "draft"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = _csv_rows(response)
    assert rows[0][0] == "Reference"
    assert [r[0] for r in rows[1:]] == [draft.reference]


def test_cabinet_deal_csv_neutralises_formulas(partner_admin_client, partner_admin):
    make_deal(user=partner_admin, customer=_customer(), title="=HYPERLINK(1)")
    rows = _csv_rows(partner_admin_client.get(reverse("cabinet:deal_list"), {"format": "csv"}))
    assert rows[1][3] == "'=HYPERLINK(1)"


def test_cabinet_deal_csv_query_count_does_not_grow(
    partner_admin, partner_admin_client, products, django_assert_max_num_queries
):
    for _ in range(3):
        make_deal(user=partner_admin, customer=_customer(), products=products[:1])
    url = reverse("cabinet:deal_list")
    with django_assert_max_num_queries(40) as small:
        partner_admin_client.get(url, {"format": "csv"})
    for _ in range(12):
        make_deal(user=partner_admin, customer=_customer(), products=products[:1])
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = partner_admin_client.get(url, {"format": "csv"})
    assert len(_csv_rows(response)) == 16


# --- confidentiality -----------------------------------------------------------------------


def test_cabinet_conflict_notice_never_reveals_the_other_registration(partner_admin_client, in_conflict):
    mine, theirs = in_conflict
    response = partner_admin_client.get(reverse("cabinet:deal_detail", args=[mine.public_id]))
    body = response.content.decode()
    assert 'data-testid="conflict-notice"' in body and 'data-outcome="open"' in body
    _assert_no_secrets(body, theirs)


def test_cabinet_list_csv_and_home_card_never_reveal_the_other_registration(partner_admin_client, in_conflict):
    _mine, theirs = in_conflict
    for response in (
        partner_admin_client.get(reverse("cabinet:deal_list")),
        partner_admin_client.get(reverse("cabinet:deal_list"), {"format": "csv"}),
        partner_admin_client.get(reverse("cabinet:deal_home_card")),
    ):
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        _assert_no_secrets(body.decode("utf-8-sig"), theirs)
    # Searching for the other registration's reference finds nothing (the query is echoed back).
    searched = partner_admin_client.get(reverse("cabinet:deal_list"), {"q": theirs.reference}).content.decode()
    assert 'data-testid="deal-list-empty"' in searched and "Beta secret deal" not in searched


def test_cabinet_conflict_outcome_shown_after_resolution_without_details(partner_admin_client, in_conflict, manager):
    mine, theirs = in_conflict
    services.conflict_resolve(
        user=manager, conflict=Conflict.objects.get(), outcome="award", winner=theirs, reason="Beta was first, 987654"
    )
    body = partner_admin_client.get(reverse("cabinet:deal_detail", args=[mine.public_id])).content.decode()
    assert 'data-outcome="lost"' in body and 'data-status="rejected"' in body
    _assert_no_secrets(body, theirs)
    assert "Beta was first" not in body  # the staff-only resolution reason


def test_cabinet_timeline_shows_partner_reasons_only(partner_admin_client, submitted, manager):
    services.deal_return(user=manager, deal=submitted, reason="Add the customer's city")
    body = partner_admin_client.get(reverse("cabinet:deal_detail", args=[submitted.public_id])).content.decode()
    assert "Returned for more information" in body and "Add the customer&#x27;s city" in body
    assert body.count('data-testid="timeline-entry"') == 3  # create, submit, return


# --- live check ----------------------------------------------------------------------------


def test_cabinet_deal_check_clear_for_unknown_customer(partner_admin_client):
    response = partner_admin_client.post(reverse("cabinet:deal_check"), {"customer_name": "Nobody Known Ltd"})
    assert response.status_code == 200
    assert 'data-testid="precheck-verdict"' in response.content.decode()
    assert 'data-verdict="clear"' in response.content.decode()
    assert "No other registration found" in response.content.decode()


def test_cabinet_deal_check_held_for_protected_customer_without_saying_whose(
    partner_admin_client, other_partner_user, manager
):
    theirs = make_deal(
        user=other_partner_user, customer=customer_data(**ROMASHKA), submit=True, title="Beta secret deal"
    )
    services.deal_approve(user=manager, deal=theirs)
    response = partner_admin_client.post(
        reverse("cabinet:deal_check"), {"customer_name": "Totally different", "customer_tax_id": "7707 083 893"}
    )
    body = response.content.decode()
    assert 'data-verdict="held"' in body and "already protected by another registration" in body
    _assert_no_secrets(body, theirs)


def test_cabinet_deal_check_possible_overlap_for_submitted_customer(partner_admin_client, other_partner_user):
    make_deal(user=other_partner_user, customer=customer_data(**ROMASHKA), submit=True)
    response = partner_admin_client.get(
        reverse("cabinet:deal_check"), {"customer_website": "https://www.romashka.ru/about", "products": ["x"]}
    )
    assert 'data-verdict="possible_overlap"' in response.content.decode()


def test_cabinet_deal_check_ignores_own_registrations(partner_admin_client, partner_admin, manager):
    mine = make_deal(user=partner_admin, customer=customer_data(**ROMASHKA), submit=True)
    services.deal_approve(user=manager, deal=mine)
    response = partner_admin_client.post(reverse("cabinet:deal_check"), {"customer_tax_id": "7707083893"})
    assert 'data-verdict="clear"' in response.content.decode()


# --- register, edit, submit ----------------------------------------------------------------


def test_cabinet_deal_create_page_has_live_check_and_buttons(partner_admin_client):
    body = partner_admin_client.get(reverse("cabinet:deal_create")).content.decode()
    assert f'hx-post="{reverse("cabinet:deal_check")}"' in body and 'hx-trigger="change delay:400ms"' in body
    assert 'data-testid="deal-save-draft"' in body and 'data-testid="deal-submit"' in body
    for name in (
        "customer_name",
        "customer_website",
        "customer_tax_id",
        "customer_country",
        "customer_city",
        "products",
    ):
        assert f'name="{name}"' in body


def test_cabinet_deal_create_saves_draft(partner_rep, client_for, products):
    response = client_for(partner_rep).post(reverse("cabinet:deal_create"), _form_data(products[:2], title="Draft one"))
    deal = DealRegistration.objects.get(title="Draft one")
    assert response.status_code == 302 and response["Location"] == reverse("cabinet:deal_detail", args=[deal.public_id])
    assert deal.status == DealStatus.DRAFT and deal.submitted_by == partner_rep and deal.stage == "proposal"
    assert sorted(p.pk for p in deal.products.all()) == sorted(p.pk for p in products[:2])
    assert deal.end_customer.country == "RU"


def test_cabinet_deal_create_submits_and_shows_review_due(partner_admin_client, products):
    response = partner_admin_client.post(
        reverse("cabinet:deal_create"), _form_data(products[:1], title="Submit now", action="submit"), follow=True
    )
    deal = DealRegistration.objects.get(title="Submit now")
    assert deal.status == DealStatus.SUBMITTED and deal.review_due_at is not None
    body = response.content.decode()
    assert 'data-testid="deal-status"' in body and 'data-status="submitted"' in body
    assert 'data-testid="review-due"' in body


def test_cabinet_deal_create_invalid_input_rerenders_with_errors(partner_admin_client):
    data = _form_data(value="-5", customer_name="  ")
    response = partner_admin_client.post(reverse("cabinet:deal_create"), data)
    assert response.status_code == 200
    assert response.context["form"].errors.keys() >= {"value", "customer_name"}
    assert not DealRegistration.objects.exists()


def test_cabinet_deal_create_service_error_becomes_form_error(partner_admin_client):
    # A past close date passes the form but the submission rule refuses it: no 500.
    data = _form_data(action="submit", expected_close_date="2000-01-01", title="Old")
    response = partner_admin_client.post(reverse("cabinet:deal_create"), data)
    assert response.status_code == 200
    assert "expected_close_date" in response.context["form"].errors
    assert not DealRegistration.objects.exists()


def test_cabinet_deal_edit_updates_returned_and_resubmits(partner_admin_client, submitted, manager):
    services.deal_return(user=manager, deal=submitted, reason="Need city")
    url = reverse("cabinet:deal_edit", args=[submitted.public_id])
    page = partner_admin_client.get(url)
    assert page.status_code == 200 and "Need city" in page.content.decode()
    data = _form_data(
        customer_name=submitted.end_customer.name,
        customer_tax_id=submitted.end_customer.tax_id,
        customer_website=submitted.end_customer.website,
        title="Edited title",
        action="submit",
    )
    response = partner_admin_client.post(url, data)
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.title == "Edited title" and submitted.status == DealStatus.SUBMITTED
    assert submitted.submission_count == 2


def test_cabinet_deal_edit_refused_once_submitted(partner_admin_client, submitted):
    url = reverse("cabinet:deal_edit", args=[submitted.public_id])
    assert partner_admin_client.get(url).status_code == 302
    response = partner_admin_client.post(url, _form_data(title="Sneaky"))
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    submitted.refresh_from_db()
    assert submitted.title == "Alpha submitted"


def test_cabinet_deal_submit_button_submits_draft(partner_admin_client, draft):
    response = partner_admin_client.post(reverse("cabinet:deal_submit", args=[draft.public_id]))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == DealStatus.SUBMITTED


def test_cabinet_deal_submit_twice_shows_message_not_500(partner_admin_client, submitted):
    response = partner_admin_client.post(reverse("cabinet:deal_submit", args=[submitted.public_id]), follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]


# --- approved: protection, extension, won / lost -------------------------------------------


def test_cabinet_deal_detail_shows_protection_and_extensions_left(partner_admin_client, approved):
    body = partner_admin_client.get(reverse("cabinet:deal_detail", args=[approved.public_id])).content.decode()
    assert 'data-testid="protected-until"' in body and 'data-status="approved"' in body
    assert 'data-testid="extensions-left"' in body and "1 extension left" in body
    assert 'data-testid="deal-extend"' in body


def test_cabinet_deal_extend_requests_extension(partner_admin_client, approved):
    url = reverse("cabinet:deal_extend", args=[approved.public_id])
    response = partner_admin_client.post(url, {"reason": "Board meets in March"})
    assert response.status_code == 302
    ext = approved.extensions.get()
    assert ext.status == ExtensionStatus.PENDING and ext.reason == "Board meets in March"
    body = partner_admin_client.get(reverse("cabinet:deal_detail", args=[approved.public_id])).content.decode()
    assert "0 extensions left" in body and 'data-testid="deal-extend"' not in body


def test_cabinet_deal_extend_refused_shows_error(partner_admin_client, submitted):
    url = reverse("cabinet:deal_extend", args=[submitted.public_id])
    response = partner_admin_client.post(url, {"reason": "x"}, follow=True)
    assert response.status_code == 200
    assert "Only a registration under protection can be extended." in response.content.decode()
    assert not submitted.extensions.exists()


def test_cabinet_deal_extend_requires_reason(partner_admin_client, approved):
    response = partner_admin_client.post(reverse("cabinet:deal_extend", args=[approved.public_id]), {"reason": ""})
    assert response.status_code == 400 and not approved.extensions.exists()


def test_cabinet_deal_won_records_final_amount(partner_admin_client, approved):
    response = partner_admin_client.post(
        reverse("cabinet:deal_won", args=[approved.public_id]), {"final_amount": "5000"}
    )
    assert response.status_code == 302
    approved.refresh_from_db()
    assert approved.status == DealStatus.WON and str(approved.final_amount) == "5000.00"


def test_cabinet_deal_lost_records_reason(partner_admin_client, approved):
    response = partner_admin_client.post(
        reverse("cabinet:deal_lost", args=[approved.public_id]), {"reason": "Budget cut"}
    )
    assert response.status_code == 302
    approved.refresh_from_db()
    assert approved.status == DealStatus.LOST and approved.lost_reason == "Budget cut"


def test_cabinet_deal_won_on_draft_is_refused_without_500(partner_admin_client, draft):
    url = reverse("cabinet:deal_won", args=[draft.public_id])
    response = partner_admin_client.post(url, {"final_amount": "1"}, follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    draft.refresh_from_db()
    assert draft.status == DealStatus.DRAFT


def test_cabinet_deal_won_with_bad_amount_rerenders_form(partner_admin_client, approved):
    response = partner_admin_client.post(reverse("cabinet:deal_won", args=[approved.public_id]), {"final_amount": "-1"})
    assert response.status_code == 400 and response.context["won_form"].errors
    approved.refresh_from_db()
    assert approved.status == DealStatus.APPROVED


# --- home card and navigation --------------------------------------------------------------


def test_cabinet_home_loads_open_registrations_card(partner_admin_client, submitted, approved, partner_admin, manager):
    lost = make_deal(user=partner_admin, customer=_customer(), submit=True)
    home = partner_admin_client.get(reverse("cabinet:home")).content.decode()
    assert reverse("cabinet:deal_home_card") in home and reverse("cabinet:deal_list") in home
    body = partner_admin_client.get(reverse("cabinet:deal_home_card")).content.decode()
    assert submitted.reference in body and approved.reference in body
    assert 'data-kind="review"' in body and 'data-kind="protection"' in body
    services.deal_reject(user=manager, deal=lost, reason="Not eligible")
    assert lost.reference not in partner_admin_client.get(reverse("cabinet:deal_home_card")).content.decode()


def test_cabinet_home_card_empty_for_new_colleague(partner_a, client_for, submitted):
    colleague = PartnerUserFactory(partner=partner_a, role="partner_rep")
    body = client_for(colleague).get(reverse("cabinet:deal_home_card")).content.decode()
    assert 'data-testid="open-registrations-empty"' in body and submitted.reference not in body
