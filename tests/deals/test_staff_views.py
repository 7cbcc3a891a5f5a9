"""Staff pages for deal registration: review queue, deal page, conflicts, protection,
extensions, the partner page fragment and the CSV exports."""

import csv
import datetime as dt
import io
import uuid
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from deals import services
from deals.models import (
    Conflict,
    ConflictOutcome,
    ConflictStatus,
    DealRegistration,
    DealStatus,
    ExtensionStatus,
    ProtectionExtension,
)
from tests.deals import factories as deal_factories
from tests.deals.factories import customer_data, make_deal
from tests.factories import PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db

products = deal_factories.products


def _random_name() -> str:
    # Random letters: names of different customers must not look alike, or the trigram rule
    # would pair them up as conflicts.
    return "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:14]).capitalize()


def _customer(**overrides):
    tax = f"{uuid.uuid4().int % 10**10:010d}"
    return customer_data(
        name=_random_name(), website=f"https://{uuid.uuid4().hex[:10]}.example", tax_id=tax, **overrides
    )


def submitted_deal(user, **kwargs):
    kwargs.setdefault("customer", _customer())
    return make_deal(user=user, submit=True, **kwargs)


@pytest.fixture
def deal(partner_admin):
    return submitted_deal(partner_admin, title="Alpha firewall refresh", value="1234567.00")


@pytest.fixture
def conflict(partner_admin, other_partner_user, manager):
    """A's registration approved, then B registers the same customer: one open conflict."""
    customer = customer_data(name="Romashka Holding", tax_id="7707083893", website="https://romashka.ru")
    a = make_deal(user=partner_admin, customer=customer, submit=True, title="Alpha secret deal", value="777777.00")
    services.deal_approve(user=manager, deal=a)
    b = make_deal(user=other_partner_user, customer=customer, submit=True, title="Beta deal", value="55555.00")
    c = Conflict.objects.get()
    c.a, c.b = a, b
    return c


@pytest.fixture
def approved_deal(partner_admin, manager):
    d = submitted_deal(partner_admin)
    return services.deal_approve(user=manager, deal=d)


@pytest.fixture
def extension(approved_deal, partner_admin):
    return services.deal_request_extension(user=partner_admin, deal=approved_deal, reason="Customer board meets late")


def _get_urls(deal, conflict, partner):
    return [
        reverse("staff:deal_review_queue"),
        reverse("staff:deal_review_queue_export"),
        reverse("staff:deal_detail", args=[deal.public_id]),
        reverse("staff:conflict_list"),
        reverse("staff:conflict_export"),
        reverse("staff:conflict_detail", args=[conflict.public_id]),
        reverse("staff:protection_expiring"),
        reverse("staff:extension_queue"),
        reverse("staff:partner_deals", args=[partner.public_id]),
    ]


# --- access --------------------------------------------------------------------------------


def test_staff_pages_render_for_manager(manager_client, deal, conflict, partner_a, extension):
    for url in _get_urls(deal, conflict, partner_a):
        response = manager_client.get(url)
        assert response.status_code == 200, url


def test_staff_pages_redirect_anonymous_to_login(client, deal, conflict, partner_a):
    for url in _get_urls(deal, conflict, partner_a):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_staff_pages_are_404_for_partner_users(partner_admin_client, other_partner_client, deal, conflict, partner_a):
    for client in (partner_admin_client, other_partner_client):
        for url in _get_urls(deal, conflict, partner_a):
            assert client.get(url).status_code == 404, url


def test_staff_post_urls_refuse_anonymous_and_partner_users(
    client, partner_admin_client, other_partner_client, deal, conflict, extension
):
    urls = [
        reverse("staff:deal_approve", args=[deal.public_id]),
        reverse("staff:deal_reject", args=[deal.public_id]),
        reverse("staff:deal_return", args=[deal.public_id]),
        reverse("staff:conflict_detail", args=[conflict.public_id]),
        reverse("staff:extension_approve", args=[extension.public_id]),
        reverse("staff:extension_reject", args=[extension.public_id]),
    ]
    data = {"reason": "x", "resolution": "co_sell"}
    for url in urls:
        response = client.post(url, data)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
        assert partner_admin_client.post(url, data).status_code == 404, url
        assert other_partner_client.post(url, data).status_code == 404, url
    deal.refresh_from_db()
    conflict.refresh_from_db()
    extension.refresh_from_db()
    assert deal.status == DealStatus.SUBMITTED
    assert conflict.status == ConflictStatus.OPEN
    assert extension.status == ExtensionStatus.PENDING


def test_deal_detail_unknown_id_is_404(manager_client):
    assert manager_client.get(reverse("staff:deal_detail", args=[uuid.uuid4()])).status_code == 404
    assert manager_client.get(reverse("staff:conflict_detail", args=[uuid.uuid4()])).status_code == 404


# --- review queue --------------------------------------------------------------------------


def test_review_queue_lists_submitted_with_decision_buttons(manager_client, deal, partner_admin):
    draft = make_deal(user=partner_admin, customer=_customer())
    response = manager_client.get(reverse("staff:deal_review_queue"))
    html = response.content.decode()
    assert deal.reference in html
    assert draft.reference not in html
    for testid in ("deal-approve", "deal-reject", "deal-return", "sla-badge"):
        assert f'data-testid="{testid}"' in html


def test_review_queue_orders_breached_first_then_due_soonest(manager_client, partner_admin):
    start = timezone.now() - dt.timedelta(days=30)
    with mock.patch("django.utils.timezone.now", return_value=start + dt.timedelta(days=10)):
        middle = submitted_deal(partner_admin)
    with mock.patch("django.utils.timezone.now", return_value=start):
        oldest = submitted_deal(partner_admin)
    newest = submitted_deal(partner_admin)
    response = manager_client.get(reverse("staff:deal_review_queue"))
    rows = [d.reference for d in response.context["deals"]]
    assert rows == [oldest.reference, middle.reference, newest.reference]
    badges = {d.reference: d.sla_badge for d in response.context["deals"]}
    assert badges[oldest.reference] == "red"
    assert badges[middle.reference] == "red"
    assert badges[newest.reference] == "green"
    html = response.content.decode()
    assert html.index(oldest.reference) < html.index(middle.reference) < html.index(newest.reference)
    assert 'data-sla="red"' in html and 'data-sla="green"' in html


def test_review_queue_amber_after_reminder_mark(manager_client, deal):
    after_reminder = deal.review_reminder_at + (deal.review_due_at - deal.review_reminder_at) / 2
    with mock.patch("deals.views.staff._now", return_value=after_reminder):
        response = manager_client.get(reverse("staff:deal_review_queue"))
    assert response.context["deals"][0].sla_badge == "amber"


def test_review_queue_mine_filter_shows_only_my_partners(manager_client, deal, lead):
    foreign_partner = PartnerFactory(name="Omega Foreign", owner=lead)
    foreign = submitted_deal(PartnerUserFactory(partner=foreign_partner))
    everything = manager_client.get(reverse("staff:deal_review_queue")).content.decode()
    mine = manager_client.get(reverse("staff:deal_review_queue") + "?mine=on").content.decode()
    assert deal.reference in everything and foreign.reference in everything
    assert deal.reference in mine and foreign.reference not in mine


def test_review_queue_approve_approves_and_returns_to_queue(manager_client, deal):
    queue = reverse("staff:deal_review_queue")
    response = manager_client.post(reverse("staff:deal_approve", args=[deal.public_id]), {"next": queue})
    assert response.status_code == 302 and response["Location"] == queue
    deal.refresh_from_db()
    assert deal.status == DealStatus.APPROVED
    assert deal.protected_until is not None
    page = manager_client.get(queue).content.decode()
    assert f"Registration {deal.reference} approved." in page
    assert f'data-reference="{deal.reference}"' not in page


def test_review_queue_reject_with_reason_rejects(manager_client, deal):
    manager_client.post(reverse("staff:deal_reject", args=[deal.public_id]), {"reason": "Customer is ours"})
    deal.refresh_from_db()
    assert deal.status == DealStatus.REJECTED
    assert deal.decision_reason == "Customer is ours"


def test_review_queue_reject_without_reason_shows_error_and_changes_nothing(manager_client, deal):
    queue = reverse("staff:deal_review_queue")
    response = manager_client.post(
        reverse("staff:deal_reject", args=[deal.public_id]), {"reason": "   ", "next": queue}, follow=True
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    deal.refresh_from_db()
    assert deal.status == DealStatus.SUBMITTED
    assert deal.decision_reason == ""


def test_review_queue_return_with_reason_returns(manager_client, deal):
    manager_client.post(reverse("staff:deal_return", args=[deal.public_id]), {"reason": "Add the products"})
    deal.refresh_from_db()
    assert deal.status == DealStatus.RETURNED
    assert deal.decision_reason == "Add the products"


def test_deal_page_prefixed_return_form_returns(manager_client, deal):
    manager_client.post(reverse("staff:deal_return", args=[deal.public_id]), {"return-reason": "Which city?"})
    deal.refresh_from_db()
    assert deal.status == DealStatus.RETURNED
    assert deal.decision_reason == "Which city?"


def test_deal_approve_refused_by_service_shows_message_not_500(manager_client, conflict):
    # B's registration has an open conflict: the service refuses to approve it.
    response = manager_client.post(reverse("staff:deal_approve", args=[conflict.b.public_id]), follow=True)
    assert response.status_code == 200
    assert "Resolve the open conflict" in response.content.decode()
    conflict.b.refresh_from_db()
    assert conflict.b.status == DealStatus.SUBMITTED


def test_deal_approve_twice_shows_state_error(manager_client, deal):
    url = reverse("staff:deal_approve", args=[deal.public_id])
    manager_client.post(url)
    response = manager_client.post(url, follow=True)
    assert response.status_code == 200
    assert response.context["messages"] and any(m.level_tag == "error" for m in response.context["messages"])


def test_review_queue_query_count_does_not_grow(manager_client, partner_admin, products, django_assert_max_num_queries):
    url = reverse("staff:deal_review_queue")
    for _ in range(3):
        submitted_deal(partner_admin, products=products[:2])
    with django_assert_max_num_queries(50) as small:
        assert manager_client.get(url).status_code == 200
    for _ in range(12):
        submitted_deal(partner_admin, products=products[:2])
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = manager_client.get(url)
    assert len(response.context["deals"]) == 15


def test_review_queue_csv_lists_rows(manager_client, deal, partner_a):
    response = manager_client.get(reverse("staff:deal_review_queue_export"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Reference", "Partner", "Customer"]
    assert len(rows) == 2
    assert rows[1][0] == deal.reference
    assert rows[1][1] == partner_a.name
    assert rows[1][2] == deal.end_customer.name
    assert rows[1][7] == "1234567.00"
    assert rows[1][12] == "on time"


def test_review_queue_csv_neutralises_formulas(manager_client, partner_admin):
    submitted_deal(partner_admin, title="=HYPERLINK(1)")
    response = manager_client.get(reverse("staff:deal_review_queue_export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][5] == "'=HYPERLINK(1)"


# --- deal page -----------------------------------------------------------------------------


def test_deal_detail_shows_fields_sla_products_and_history(manager_client, partner_admin, products):
    d = submitted_deal(partner_admin, products=products[:1], title="Core switch")
    response = manager_client.get(reverse("staff:deal_detail", args=[d.public_id]))
    html = response.content.decode()
    assert d.reference in html and "Core switch" in html and products[0].name in html
    assert f'data-status="{DealStatus.SUBMITTED}"' in html
    assert 'data-testid="review-due"' in html
    assert 'data-testid="sla-badge"' in html
    assert 'data-action="deal.submit"' in html or 'data-action="deal.create"' in html


def test_deal_detail_shows_flags_with_evidence(manager_client, manager, partner_a):
    deal_factories.DirectAccountFactory(name="Megacorp Direct", tax_id="5001234567")
    user = PartnerUserFactory(partner=partner_a)
    d = submitted_deal(user, customer=customer_data(name="Megacorp Direct", tax_id="5001234567", website=""))
    assert "direct_account" in d.flags
    html = manager_client.get(reverse("staff:deal_detail", args=[d.public_id])).content.decode()
    assert 'data-flag="direct_account"' in html
    assert "Megacorp Direct" in html and "matched on tax id" in html


def test_deal_detail_approved_shows_protection_and_extensions(manager_client, extension, approved_deal):
    html = manager_client.get(reverse("staff:deal_detail", args=[approved_deal.public_id])).content.decode()
    assert 'data-testid="protected-until"' in html
    assert "Customer board meets late" in html
    assert 'data-testid="deal-approve"' not in html


def test_deal_detail_lists_conflicts_with_links(manager_client, conflict):
    html = manager_client.get(reverse("staff:deal_detail", args=[conflict.b.public_id])).content.decode()
    assert reverse("staff:conflict_detail", args=[conflict.public_id]) in html
    assert conflict.a.reference in html
    assert 'data-testid="open-conflict-badge"' in html


# --- conflicts -----------------------------------------------------------------------------


def test_conflict_list_shows_open_first_with_partner_names(manager_client, conflict, partner_a, partner_b):
    html = manager_client.get(reverse("staff:conflict_list")).content.decode()
    assert partner_a.name in html and partner_b.name in html
    assert f'data-conflict="{conflict.public_id}"' in html


def test_conflict_list_all_puts_open_before_resolved(
    manager_client, conflict, manager, partner_admin, other_partner_user
):
    services.conflict_resolve(user=manager, conflict=conflict, outcome=ConflictOutcome.CO_SELL, reason="Both")
    customer = _customer()
    make_deal(user=partner_admin, customer=customer, submit=True)
    make_deal(user=other_partner_user, customer=customer, submit=True)
    newer_open = Conflict.objects.get(status=ConflictStatus.OPEN)
    response = manager_client.get(reverse("staff:conflict_list") + "?status=all")
    assert [c.pk for c in response.context["conflicts"]] == [newer_open.pk, conflict.pk]
    default = manager_client.get(reverse("staff:conflict_list"))
    assert [c.pk for c in default.context["conflicts"]] == [newer_open.pk]


def test_conflict_detail_shows_both_sides_and_proposal(manager_client, conflict, partner_a, partner_b):
    response = manager_client.get(reverse("staff:conflict_detail", args=[conflict.public_id]))
    html = response.content.decode()
    assert 'data-testid="conflict-side"' in html and html.count('data-testid="conflict-side"') == 2
    for text in (partner_a.name, partner_b.name, conflict.a.reference, conflict.b.reference, "7707083893"):
        assert text in html
    assert 'data-testid="matched-fields"' in html and "Tax id" in html
    # A was approved first: the default rule proposes A, pre-selected.
    proposed = "award_low" if conflict.registration_low_id == conflict.a.pk else "award_high"
    assert response.context["proposed_key"] == proposed
    assert response.context["form"]["resolution"].value() == proposed
    assert "earliest approved registration wins" in html


def test_conflict_resolve_award_rejects_the_other(manager_client, conflict):
    winner_key = "award_low" if conflict.registration_low_id == conflict.a.pk else "award_high"
    url = reverse("staff:conflict_detail", args=[conflict.public_id])
    response = manager_client.post(url, {"resolution": winner_key, "reason": "A came first"})
    assert response.status_code == 302
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.RESOLVED
    assert conflict.outcome == ConflictOutcome.AWARD
    assert conflict.winner_id == conflict.a.pk
    conflict.b.refresh_from_db()
    assert conflict.b.status == DealStatus.REJECTED
    html = manager_client.get(url).content.decode()
    assert 'data-outcome="award"' in html and "A came first" in html


def test_conflict_resolve_without_reason_shows_error_and_changes_nothing(manager_client, conflict):
    url = reverse("staff:conflict_detail", args=[conflict.public_id])
    response = manager_client.post(url, {"resolution": "co_sell", "reason": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.OPEN


def test_conflict_resolve_twice_shows_state_error(manager_client, conflict, manager):
    services.conflict_resolve(user=manager, conflict=conflict, outcome=ConflictOutcome.CO_SELL, reason="Both")
    url = reverse("staff:conflict_detail", args=[conflict.public_id])
    response = manager_client.post(url, {"resolution": "reject_both", "reason": "Again"}, follow=True)
    assert response.status_code == 200
    assert "already been resolved" in response.content.decode()
    conflict.refresh_from_db()
    assert conflict.outcome == ConflictOutcome.CO_SELL


def _make_conflicts(partner_admin, other_partner_user, n):
    for _ in range(n):
        customer = _customer()
        make_deal(user=partner_admin, customer=customer, submit=True)
        make_deal(user=other_partner_user, customer=customer, submit=True)


def test_conflict_list_query_count_does_not_grow(
    manager_client, partner_admin, other_partner_user, django_assert_max_num_queries
):
    url = reverse("staff:conflict_list")
    _make_conflicts(partner_admin, other_partner_user, 3)
    with django_assert_max_num_queries(50) as small:
        assert manager_client.get(url).status_code == 200
    _make_conflicts(partner_admin, other_partner_user, 12)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = manager_client.get(url)
    assert len(response.context["conflicts"]) == 15


def test_conflict_csv_contents(manager_client, conflict, partner_a, partner_b):
    response = manager_client.get(reverse("staff:conflict_export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:5] == ["Detected", "Status", "Outcome", "Matched on", "Name similarity"]
    assert len(rows) == 2
    row = rows[1]
    assert row[1] == "Open" and "tax_id" in row[3]
    assert {row[5], row[9]} == {conflict.a.reference, conflict.b.reference}
    assert {row[6], row[10]} == {partner_a.name, partner_b.name}


# --- protection and extensions -------------------------------------------------------------


def test_protection_expiring_lists_days_left_and_extensions(manager_client, approved_deal):
    later = approved_deal.protected_until - dt.timedelta(days=10, hours=1)
    with mock.patch("deals.views.staff._now", return_value=later):
        response = manager_client.get(reverse("staff:protection_expiring"))
    row = response.context["deals"][0]
    assert row.reference == approved_deal.reference
    assert row.days_left == 10
    assert row.extensions_used == 0
    assert 'data-testid="days-left"' in response.content.decode()


def test_protection_expiring_excludes_far_away_protection(manager_client, approved_deal):
    early = approved_deal.protected_until - dt.timedelta(days=31)
    with mock.patch("deals.views.staff._now", return_value=early):
        response = manager_client.get(reverse("staff:protection_expiring"))
    assert list(response.context["deals"]) == []


def test_protection_expiring_query_count_does_not_grow(
    manager_client, partner_admin, manager, django_assert_max_num_queries
):
    def approve(n):
        for _ in range(n):
            services.deal_approve(user=manager, deal=submitted_deal(partner_admin))

    approve(3)
    url = reverse("staff:protection_expiring")
    # Look from a moment when every protection ends within the 30-day window.
    first_end = DealRegistration.objects.filter(status=DealStatus.APPROVED).order_by("protected_until").first()
    now = first_end.protected_until - dt.timedelta(days=5)
    with mock.patch("deals.views.staff._now", return_value=now), django_assert_max_num_queries(50) as small:
        assert len(manager_client.get(url).context["deals"]) == 3
    approve(12)
    with (
        mock.patch("deals.views.staff._now", return_value=now),
        django_assert_max_num_queries(len(small.captured_queries)),
    ):
        assert len(manager_client.get(url).context["deals"]) == 15


def test_extension_queue_approve_extends_protection(manager_client, extension, approved_deal):
    before = approved_deal.protected_until
    html = manager_client.get(reverse("staff:extension_queue")).content.decode()
    assert approved_deal.reference in html and 'data-testid="extension-approve"' in html
    manager_client.post(reverse("staff:extension_approve", args=[extension.public_id]))
    extension.refresh_from_db()
    approved_deal.refresh_from_db()
    assert extension.status == ExtensionStatus.APPROVED
    assert approved_deal.protected_until > before


def test_extension_reject_needs_reason(manager_client, extension):
    url = reverse("staff:extension_reject", args=[extension.public_id])
    response = manager_client.post(url, {"reason": ""}, follow=True)
    assert "This field is required." in response.content.decode()
    extension.refresh_from_db()
    assert extension.status == ExtensionStatus.PENDING
    manager_client.post(url, {"reason": "Not this time"})
    extension.refresh_from_db()
    assert extension.status == ExtensionStatus.REJECTED
    assert extension.decision_note == "Not this time"


def test_extension_approve_twice_shows_message_not_500(manager_client, extension):
    url = reverse("staff:extension_approve", args=[extension.public_id])
    manager_client.post(url)
    response = manager_client.post(url, follow=True)
    assert response.status_code == 200
    assert ProtectionExtension.objects.get().status == ExtensionStatus.APPROVED


# --- partner page fragment -----------------------------------------------------------------


def test_partner_deals_fragment_lists_only_that_partner(manager_client, deal, conflict, partner_a, partner_b):
    html = manager_client.get(reverse("staff:partner_deals", args=[partner_b.public_id])).content.decode()
    assert conflict.b.reference in html
    assert deal.reference not in html and conflict.a.reference not in html
    assert "<html" not in html


def test_partner_page_loads_registrations_fragment(manager_client, partner_a):
    html = manager_client.get(reverse("staff:partner_detail", args=[partner_a.public_id])).content.decode()
    assert f'hx-get="{reverse("staff:partner_deals", args=[partner_a.public_id])}"' in html
    assert 'hx-trigger="load"' in html


def test_partner_deals_fragment_unknown_partner_is_404(manager_client):
    assert manager_client.get(reverse("staff:partner_deals", args=[uuid.uuid4()])).status_code == 404


def test_partner_deals_fragment_query_count_does_not_grow(
    manager_client, partner_admin, partner_a, products, django_assert_max_num_queries
):
    url = reverse("staff:partner_deals", args=[partner_a.public_id])
    for _ in range(3):
        submitted_deal(partner_admin, products=products[:2])
    with django_assert_max_num_queries(50) as small:
        assert manager_client.get(url).status_code == 200
    for _ in range(12):
        submitted_deal(partner_admin, products=products[:2])
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = manager_client.get(url)
    assert len(response.context["deals"]) == 15
