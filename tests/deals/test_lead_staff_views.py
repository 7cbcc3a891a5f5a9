"""Staff lead pages: the board, a lead with "why this partner", route now, manual
re-assignment, routing rules, fairness report, the partner page's lead figures and the CSV
import with its progress. Every URL: happy path, anonymous → login, partner users → 404."""

import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deals import lead_import, services
from deals.models import Lead, LeadImport, LeadImportStatus, LeadOffer, LeadOfferStatus, LeadStatus, RoutingRule
from prm.models import AuditLog
from tests.deals.factories import ProductLineFactory, make_lead
from tests.factories import PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def offered_lead(manager, partner_a):
    lead = make_lead(actor=manager, customer_name="Romashka Holding")
    services.lead_reassign(actor=manager, lead=lead, partner=partner_a, reason="Known account of Alpha")
    lead.refresh_from_db()
    return lead


@pytest.fixture
def routed_lead(manager, partner_a, partner_b):
    """Routed by the engine between A and B (both active in RU): a real decision to explain."""
    return make_lead(actor=manager, route=True, rng=random.Random(7), customer_name="Vostok Mining")


def _urls(lead, partner):
    return [
        reverse("staff:lead_list"),
        reverse("staff:lead_export"),
        reverse("staff:routing_rule_list"),
        reverse("staff:lead_fairness"),
        reverse("staff:lead_import"),
        reverse("staff:lead_import_template"),
        reverse("staff:lead_detail", args=[lead.public_id]),
        reverse("staff:partner_leads", args=[partner.public_id]),
    ]


def test_staff_lead_pages_answer_staff_redirect_anonymous_and_hide_from_partners(
    client, manager_client, partner_admin_client, other_partner_client, offered_lead, partner_a
):
    for url in _urls(offered_lead, partner_a):
        assert manager_client.get(url).status_code == 200, url
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and reverse("login") in anonymous.url, url
        # Partner users (even the one the lead is offered to) never reach staff pages.
        assert partner_admin_client.get(url).status_code == 404, url
        assert other_partner_client.get(url).status_code == 404, url
    for name in ("staff:lead_route", "staff:lead_reassign"):
        url = reverse(name, args=[offered_lead.public_id])
        assert client.post(url).status_code == 302
        assert partner_admin_client.post(url, {"reason": "x"}).status_code == 404
        assert other_partner_client.post(url, {"reason": "x"}).status_code == 404


def test_lead_board_filters_by_status_country_and_search(manager_client, manager, offered_lead):
    make_lead(actor=manager, customer_name="Berlin Bank", country="DE", region="europe", city="Berlin")
    url = reverse("staff:lead_list")
    html = manager_client.get(url, {"status": "offered"}).content.decode()
    assert offered_lead.reference in html and "Berlin Bank" not in html
    html = manager_client.get(url, {"country": "de"}).content.decode()
    assert "Berlin Bank" in html and offered_lead.reference not in html
    html = manager_client.get(url, {"q": "romashka"}).content.decode()
    assert offered_lead.reference in html and "Berlin Bank" not in html
    html = manager_client.get(url, {"status": "new"}).content.decode()
    assert "Berlin Bank" in html and offered_lead.reference not in html


def test_lead_board_filters_by_product_line_and_sorts(manager_client, manager):
    line = ProductLineFactory(name="Firewalls", code="firewalls")
    make_lead(actor=manager, customer_name="Small Co", estimated_value="10")
    make_lead(actor=manager, customer_name="Unknown Size Co", estimated_value=None)
    make_lead(actor=manager, customer_name="Big Co", estimated_value="999999", product_line=line)
    url = reverse("staff:lead_list")
    html = manager_client.get(url, {"product_line": line.pk}).content.decode()
    assert "Big Co" in html and "Small Co" not in html
    html = manager_client.get(url, {"sort": "value"}).content.decode()
    assert html.index("Big Co") < html.index("Small Co") < html.index("Unknown Size Co")
    html = manager_client.get(url, {"sort": "oldest"}).content.decode()
    assert html.index("Small Co") < html.index("Big Co")


def test_lead_board_queries_do_not_grow_with_rows(manager_client, manager, partner_a, django_assert_max_num_queries):
    def make(n):
        for i in range(n):
            lead = make_lead(actor=manager, customer_name=f"Customer {i}", product_line=ProductLineFactory())
            services.lead_reassign(actor=manager, lead=lead, partner=partner_a, reason="test")

    make(2)
    url = reverse("staff:lead_list")
    with django_assert_max_num_queries(12) as few:
        assert manager_client.get(url).status_code == 200
    make(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = manager_client.get(url)
    assert response.content.decode().count('data-testid="lead-row"') == 10


def test_lead_export_streams_the_filtered_board(manager_client, manager, offered_lead, partner_a):
    make_lead(actor=manager, customer_name="=HYPERLINK(evil)", country="DE", region="europe")
    response = manager_client.get(reverse("staff:lead_export"), {"status": "offered"})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert offered_lead.reference in body and partner_a.name in body
    assert "HYPERLINK" not in body
    response = manager_client.get(reverse("staff:lead_export"), {"country": "DE"})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK(evil)" in body  # neutralised formula


def test_lead_page_explains_the_routing_decision(manager_client, routed_lead, partner_a, partner_b):
    routed_lead.refresh_from_db()
    assert routed_lead.status == LeadStatus.OFFERED
    html = manager_client.get(reverse("staff:lead_detail", args=[routed_lead.public_id])).content.decode()
    assert 'data-testid="routing-explanation"' in html
    assert html.count('data-testid="routing-candidate"') == 2
    assert 'data-chosen="1"' in html
    assert "50.0 %" in html  # equal weights, equal odds
    assert routed_lead.offered_to.name in html


def test_lead_page_lists_the_most_likely_candidates_and_what_the_rest_of_the_band_had(manager_client, manager):
    # Eight partners in RU, two of them heavier: the page lists five and says how many were left.
    heavy = PartnerFactory.create_batch(2, country="RU", region="russia", owner=manager, lead_weight=3)
    light = PartnerFactory.create_batch(6, country="RU", region="russia", owner=manager, lead_weight=1)
    lead = make_lead(actor=manager, route=True, rng=random.Random(1), customer_name="Big band")
    decision = lead.decisions.get()
    assert decision.candidate_count == 8
    listed = {c["partner_id"] for c in decision.candidates}
    assert {p.pk for p in heavy} <= listed and len(listed) in (5, 6)
    html = manager_client.get(reverse("staff:lead_detail", args=[lead.public_id])).content.decode()
    assert html.count('data-testid="routing-candidate"') == len(listed)
    assert "25.0 %" in html  # a heavy partner's odds: 3 of a total weight of 12
    unlisted = 8 - len(listed)
    odds_left = round(sum(1 / 12 for p in light if p.pk not in listed) * 100, 1)
    assert f'data-testid="routing-unlisted" data-count="{unlisted}"' in html
    assert f"The draw was among 8 partners; the {len(listed)} most likely are listed." in html
    assert f"{odds_left} % of the odds" in html


def test_lead_page_of_a_manual_offer_has_no_band_size(manager_client, offered_lead):
    html = manager_client.get(reverse("staff:lead_detail", args=[offered_lead.public_id])).content.decode()
    assert offered_lead.decisions.get().candidate_count is None
    assert 'data-testid="routing-unlisted"' not in html


def test_lead_page_shows_exclusions_and_offer_history(manager_client, offered_lead, partner_a, partner_b):
    # A declines: the lead moves on to B, and A is excluded ("offered before") from now on.
    alpha_user = PartnerUserFactory(partner=partner_a)
    services.lead_decline(user=alpha_user, lead=offered_lead, reason="Not our region", spam=False)
    offered_lead.refresh_from_db()
    assert offered_lead.offered_to == partner_b
    html = manager_client.get(reverse("staff:lead_detail", args=[offered_lead.public_id])).content.decode()
    assert 'data-reason="already_offered"' in html
    assert 'data-status="declined" data-partner="Alpha Systems"' in html
    assert "Not our region" in html
    assert 'data-testid="routing-history-item"' in html


def test_route_now_routes_a_new_lead(manager_client, manager, partner_a):
    lead = make_lead(actor=manager)
    response = manager_client.post(reverse("staff:lead_route", args=[lead.public_id]))
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFERED and lead.offered_to == partner_a


def test_route_now_with_nobody_available_leaves_the_lead_unassigned(manager_client, manager):
    lead = make_lead(actor=manager, country="JP", region="asia", city="Tokyo")
    response = manager_client.post(reverse("staff:lead_route", args=[lead.public_id]), follow=True)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNASSIGNED
    assert "No partner is available" in response.content.decode()


def test_reassign_moves_the_lead_and_is_audited(manager_client, manager, offered_lead, partner_b):
    url = reverse("staff:lead_reassign", args=[offered_lead.public_id])
    response = manager_client.post(url, {"partner": partner_b.pk, "reason": "Beta has the contact"})
    assert response.status_code == 302
    offered_lead.refresh_from_db()
    assert offered_lead.offered_to == partner_b
    assert LeadOffer.objects.get(lead=offered_lead, partner__name="Alpha Systems").status == LeadOfferStatus.WITHDRAWN
    assert AuditLog.objects.filter(action="lead.reassign", reason__contains="Beta has the contact").exists()


def test_reassign_needs_a_reason_and_an_active_partner(manager_client, offered_lead, partner_b, manager):
    url = reverse("staff:lead_reassign", args=[offered_lead.public_id])
    response = manager_client.post(url, {"partner": partner_b.pk, "reason": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    suspended = PartnerFactory(name="Sleepy Ltd", status="suspended", owner=manager)
    response = manager_client.post(url, {"partner": suspended.pk, "reason": "try"})
    assert response.status_code == 400
    offered_lead.refresh_from_db()
    assert offered_lead.offered_to.name == "Alpha Systems"


def test_reassign_refuses_a_partner_that_had_the_lead(manager_client, offered_lead, partner_a, partner_b, manager):
    services.lead_reassign(actor=manager, lead=offered_lead, partner=partner_b, reason="to B")
    response = manager_client.post(
        reverse("staff:lead_reassign", args=[offered_lead.public_id]), {"partner": partner_a.pk, "reason": "back"}
    )
    assert response.status_code == 400
    assert "already offered" in response.content.decode().lower()


def test_staff_lead_page_404_for_unknown_lead(manager_client):
    import uuid

    assert manager_client.get(reverse("staff:lead_detail", args=[uuid.uuid4()])).status_code == 404


def test_routing_rules_listed_in_order_with_admin_links(client_for, admin_user):
    RoutingRule.objects.create(name="Second", position=20, countries=["DE"])
    RoutingRule.objects.create(name="First", position=10, allow_abroad=False)
    html = client_for(admin_user).get(reverse("staff:routing_rule_list")).content.decode()
    assert html.index("First") < html.index("Second")
    assert html.count('data-testid="rule-row"') == 2
    # Editing happens in admin (when the RoutingRule admin is registered).
    if admin_url := _admin_url("admin:deals_routingrule_changelist"):
        assert 'data-testid="rule-admin-link"' in html and admin_url in html


def _admin_url(name):
    from django.urls import NoReverseMatch

    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def test_fairness_report_counts_offers_per_partner_and_exports(
    manager_client, manager, offered_lead, partner_a, partner_b
):
    services.lead_decline(user=PartnerUserFactory(partner=partner_a), lead=offered_lead, reason="no")
    offered_lead.refresh_from_db()
    services.lead_accept(user=PartnerUserFactory(partner=partner_b), lead=offered_lead)
    html = manager_client.get(reverse("staff:lead_fairness"), {"period": "30"}).content.decode()
    assert html.count('data-testid="fairness-row"') == 2
    assert '<td class="text-end" data-col="declined">1</td>' in html
    assert '<td class="text-end" data-col="accepted">1</td>' in html
    response = manager_client.get(reverse("staff:lead_fairness"), {"period": "all", "format": "csv"})
    body = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert body[0].startswith("Partner,Offered,Accepted,Declined,Timed out,Won")
    assert body[1].startswith("Alpha Systems,1,0,1,0,0")
    assert body[2].startswith("Beta Trade,1,1,0,0,0,100")


def test_partner_page_fragment_shows_that_partners_lead_figures(manager_client, offered_lead, partner_a, partner_b):
    html = manager_client.get(reverse("staff:partner_leads", args=[partner_a.public_id])).content.decode()
    assert '<div class="fs-5" data-testid="partner-leads-offered">1</div>' in html
    html = manager_client.get(reverse("staff:partner_leads", args=[partner_b.public_id])).content.decode()
    assert 'data-testid="partner-leads-empty"' in html


def test_partner_page_has_the_leads_slot(manager_client, partner_a):
    html = manager_client.get(reverse("staff:partner_detail", args=[partner_a.public_id])).content.decode()
    assert reverse("staff:partner_leads", args=[partner_a.public_id]) in html


# --- import: confirm → task → result -------------------------------------------------------


CSV = "customer_name;country;city;estimated_value;currency\nRomashka;RU;Moscow;1 000;RUB\nVostok;RU;Kazan;;\n"


def _preview(client, content: bytes):
    response = client.post(reverse("staff:lead_import"), {"file": SimpleUploadedFile("leads.csv", content, "text/csv")})
    assert response.status_code == 200, response.content.decode()[:2000]
    return response.context["token"]


def test_import_confirm_runs_the_task_and_shows_the_result(
    manager_client, partner_a, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from prm.celery import app

    app.conf.task_always_eager = True
    try:
        token = _preview(manager_client, CSV.encode("utf-8-sig"))
        with django_capture_on_commit_callbacks(execute=True):
            response = manager_client.post(reverse("staff:lead_import"), {"action": "confirm", "token": token})
    finally:
        app.conf.task_always_eager = False
    job = LeadImport.objects.get()
    assert response.status_code == 302 and response.url == reverse("staff:lead_import_detail", args=[job.public_id])
    assert job.status == LeadImportStatus.DONE and job.created_count == 2
    assert set(Lead.objects.values_list("customer_name", flat=True)) == {"Romashka", "Vostok"}
    assert Lead.objects.filter(status=LeadStatus.OFFERED, offered_to=partner_a).count() == 2
    html = manager_client.get(response.url).content.decode()
    assert 'data-testid="lead-import-done"' in html
    # The same preview cannot be confirmed twice.
    manager_client.post(reverse("staff:lead_import"), {"action": "confirm", "token": token})
    assert LeadImport.objects.count() == 1


def test_import_task_is_all_or_nothing_and_safe_to_run_twice(manager, partner_a):
    text = "customer_name,country\nGood One,RU\nGood Two,RU\n"
    parsed = lead_import.parse(text)
    job = LeadImport.objects.create(created_by=manager, file_name="x.csv", total=2)
    # The catalogue changes after the preview: the task re-validates and imports nothing.
    bad = LeadImport.objects.create(created_by=manager, file_name="bad.csv", total=2)
    assert lead_import.lead_import_run(bad.pk, "customer_name,country\nGood,RU\nBad,Russia\n") == "failed"
    bad.refresh_from_db()
    assert bad.status == LeadImportStatus.FAILED and "Line 3" in " ".join(bad.errors)
    assert Lead.objects.count() == 0
    assert parsed.is_valid
    assert lead_import.lead_import_run(job.pk, text) == "done"
    assert lead_import.lead_import_run(job.pk, text) == "skipped"
    job.refresh_from_db()
    assert job.status == LeadImportStatus.DONE and job.created_count == 2
    assert Lead.objects.count() == 2


def test_import_task_rolls_back_every_lead_when_one_fails_in_the_service(manager, partner_a, monkeypatch):
    """A failure while creating (after validation passed) leaves no lead behind."""
    from deals.services import leads as lead_services

    real_build = lead_services._build
    calls = {"n": 0}

    def failing_build(data, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            from prm.exceptions import ApplicationError

            raise ApplicationError("boom", fields={"row 3": ["broken"]})
        return real_build(data, **kwargs)

    monkeypatch.setattr(lead_services, "_build", failing_build)
    text = "customer_name,country\nA,RU\nB,RU\nC,RU\n"
    job = LeadImport.objects.create(created_by=manager, file_name="x.csv", total=3)
    assert lead_import.lead_import_run(job.pk, text) == "failed"
    job.refresh_from_db()
    assert job.status == LeadImportStatus.FAILED
    assert any("Line 4" in e for e in job.errors)
    assert Lead.objects.count() == 0


def test_import_progress_fragment_polls_until_finished(manager_client, manager):
    job = LeadImport.objects.create(created_by=manager, file_name="x.csv", total=200, status=LeadImportStatus.RUNNING)
    from django.core.cache import cache

    cache.set(lead_import.progress_key(job.pk), 50, 60)
    url = reverse("staff:lead_import_detail", args=[job.public_id])
    html = manager_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="load delay:1s"' in html and "50 / 200" in html and "<html" not in html
    LeadImport.objects.filter(pk=job.pk).update(status=LeadImportStatus.DONE, processed=200, created_count=200)
    html = manager_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-get" not in html and 'data-testid="lead-import-done"' in html


def test_close_needs_a_reason_then_withdraws_the_offer(
    client, manager_client, partner_admin_client, offered_lead, partner_a
):
    url = reverse("staff:lead_close", args=[offered_lead.public_id])
    assert client.post(url).status_code == 302
    assert partner_admin_client.post(url, {"close-reason": "mine now"}).status_code == 404
    response = manager_client.post(url, {"close-reason": " "})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    offered_lead.refresh_from_db()
    assert offered_lead.status == LeadStatus.OFFERED
    response = manager_client.post(url, {"close-reason": "Duplicate of an older lead"})
    assert response.status_code == 302
    offered_lead.refresh_from_db()
    assert offered_lead.status == LeadStatus.CLOSED and offered_lead.closed_reason == "Duplicate of an older lead"
    assert LeadOffer.objects.get(lead=offered_lead, partner=partner_a).status == LeadOfferStatus.WITHDRAWN
    html = manager_client.get(reverse("staff:lead_detail", args=[offered_lead.public_id])).content.decode()
    assert 'data-testid="lead-close"' not in html and 'data-testid="lead-reassign"' not in html
