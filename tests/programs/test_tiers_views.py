"""Tier pages and API: happy path, anonymous, partner B (404), and query counts."""

import datetime
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from programs import services
from programs.models import ChangeStatus, PartnerTierStatus, TierChange
from tests.factories import PartnerFactory
from tests.programs.tiers_factories import certify, make_silver, sale, tiers_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def _at_risk_partner(tiers, partner):
    partner.tier = tiers["silver"]
    partner.save(update_fields=["tier"])
    services.tiers_evaluate(partner_ids=[partner.pk])
    return PartnerTierStatus.objects.get(partner=partner)


# --- cabinet -------------------------------------------------------------------------------------


def test_cabinet_tier_progress_shows_bars_and_what_is_lacking(tiers, partner_a, partner_admin, partner_admin_client):
    make_silver(partner_a, partner_admin)
    services.tiers_evaluate(partner_ids=[partner_a.pk])
    response = partner_admin_client.get(reverse("cabinet:tier_progress"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="tier-name">Silver<' in html
    assert "Next tier: Gold" in html
    assert "3 more won deals" in html
    assert "2 more certified people" in html
    assert html.count('data-testid="tier-bar"') == 3
    assert 'data-testid="tier-benefits"' in html


def test_cabinet_tier_progress_shows_at_risk_and_demotion_date(tiers, partner_a, partner_rep_client):
    status = _at_risk_partner(tiers, partner_a)
    html = partner_rep_client.get(reverse("cabinet:tier_progress")).content.decode()
    assert 'data-testid="tier-at-risk"' in html
    from django.template.defaultfilters import date as date_filter

    alert = html.split('data-testid="tier-at-risk"')[1].split("</div>")[0]
    assert date_filter(status.demotion_due_on, "SHORT_DATE_FORMAT") in alert
    assert "2 more won deals" in html


def test_cabinet_tier_pages_show_only_the_users_own_partner(tiers, partner_a, partner_b, partner_admin, client_for):
    make_silver(partner_a, partner_admin)
    services.tiers_evaluate()
    from tests.factories import PartnerUserFactory

    b_user = PartnerUserFactory(partner=partner_b, role="partner_admin")
    html = client_for(b_user).get(reverse("cabinet:tier_progress")).content.decode()
    assert "Silver<" not in html.split('data-testid="tier-name">')[1][:20]
    assert "Not assigned yet" in html or "Registered" in html


def test_cabinet_tier_card_fragment(tiers, partner_a, partner_admin_client):
    response = partner_admin_client.get(reverse("cabinet:tier_progress_card"))
    assert response.status_code == 200
    assert 'data-testid="tier-card"' in response.content.decode()


def test_cabinet_home_has_tier_slot(partner_admin_client):
    html = partner_admin_client.get(reverse("cabinet:home")).content.decode()
    assert reverse("cabinet:tier_progress_card") in html


@pytest.mark.parametrize("name", ["cabinet:tier_progress", "cabinet:tier_progress_card"])
def test_cabinet_tier_pages_anonymous_go_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/accounts/login/" in response.url


@pytest.mark.parametrize("name", ["cabinet:tier_progress", "cabinet:tier_progress_card"])
def test_cabinet_tier_pages_staff_get_404(manager_client, name):
    assert manager_client.get(reverse(name)).status_code == 404


# --- staff: partner panel and actions ---------------------------------------------------------------


def test_staff_partner_tier_panel(tiers, partner_a, partner_admin, manager_client):
    make_silver(partner_a, partner_admin)
    services.tiers_evaluate(partner_ids=[partner_a.pk])
    response = manager_client.get(reverse("staff:partner_tier_progress", args=[partner_a.public_id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="panel-tier">Silver<' in html
    assert 'data-kind="promotion"' in html
    detail = manager_client.get(reverse("staff:partner_detail", args=[partner_a.public_id])).content.decode()
    assert reverse("staff:partner_tier_progress", args=[partner_a.public_id]) in detail


STAFF_PARTNER_URLS = ["staff:partner_tier_progress", "staff:partner_tier_lock", "staff:partner_tier_unlock"]


@pytest.mark.parametrize("name", STAFF_PARTNER_URLS + ["staff:partner_tier_set"])
def test_staff_tier_partner_urls_anonymous_and_partner_users(client, other_partner_client, partner_a, name):
    url = reverse(name, args=[partner_a.public_id])
    method = "get" if name == "staff:partner_tier_progress" else "post"
    response = getattr(client, method)(url, {"reason": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert getattr(other_partner_client, method)(url, {"reason": "x"}).status_code == 404
    assert not TierChange.objects.exists()


def test_staff_tier_panel_unknown_partner_404(manager_client):
    assert manager_client.get(reverse("staff:partner_tier_progress", args=[uuid.uuid4()])).status_code == 404


def test_staff_lock_and_unlock_from_the_partner_page(tiers, partner_a, manager_client):
    url = reverse("staff:partner_tier_lock", args=[partner_a.public_id])
    response = manager_client.post(url, {"reason": ""})
    assert response.status_code == 302
    assert not PartnerTierStatus.objects.filter(partner=partner_a, locked=True).exists()
    manager_client.post(url, {"reason": "Strategic account"})
    status = PartnerTierStatus.objects.get(partner=partner_a)
    assert status.locked and status.lock_reason == "Strategic account"
    html = manager_client.get(reverse("staff:partner_tier_progress", args=[partner_a.public_id])).content.decode()
    assert "Strategic account" in html
    manager_client.post(reverse("staff:partner_tier_unlock", args=[partner_a.public_id]), {"reason": "Review done"})
    status.refresh_from_db()
    assert not status.locked


def test_staff_set_tier_by_hand(tiers, partner_a, manager_client):
    url = reverse("staff:partner_tier_set", args=[partner_a.public_id])
    manager_client.post(url, {"tier": tiers["gold"].pk, "reason": "Signed contract"})
    partner_a.refresh_from_db()
    assert partner_a.tier == tiers["gold"]
    assert TierChange.objects.get(partner=partner_a).reason == "Signed contract"


def test_staff_approve_and_reject_pending_changes(tiers, partner_a, partner_b, partner_admin, manager_client, settings):
    settings.PRM = {**settings.PRM, "TIER_CHANGES_NEED_APPROVAL": True}
    make_silver(partner_a, partner_admin)
    certify(partner_b, 1)
    sale(partner_b, "5000000")
    services.tiers_evaluate()
    change_a = TierChange.objects.get(partner=partner_a, status=ChangeStatus.PENDING)
    change_b = TierChange.objects.get(partner=partner_b, status=ChangeStatus.PENDING)
    report = manager_client.get(reverse("staff:tier_report")).content.decode()
    assert report.count('data-testid="tier-pending-row"') == 2
    manager_client.post(reverse("staff:tier_change_approve", args=[change_a.pk]), {"reason": ""})
    manager_client.post(reverse("staff:tier_change_reject", args=[change_b.pk]), {"reason": "Too early"})
    change_a.refresh_from_db()
    change_b.refresh_from_db()
    assert change_a.status == ChangeStatus.APPLIED
    assert change_b.status == ChangeStatus.REJECTED


@pytest.mark.parametrize("name", ["staff:tier_change_approve", "staff:tier_change_reject"])
def test_staff_tier_decisions_anonymous_partner_and_out_of_scope(
    tiers, partner_a, partner_admin, client, other_partner_client, client_for, settings, name
):
    settings.PRM = {**settings.PRM, "TIER_CHANGES_NEED_APPROVAL": True}
    make_silver(partner_a, partner_admin)
    services.tiers_evaluate()
    change = TierChange.objects.get(partner=partner_a)
    url = reverse(name, args=[change.pk])
    assert client.post(url, {"reason": "x"}).status_code == 302
    assert other_partner_client.post(url, {"reason": "x"}).status_code == 404
    from tests.factories import StaffUserFactory

    stranger = StaffUserFactory(role="channel_manager")  # owns no partner: not in scope
    assert client_for(stranger).post(url, {"reason": "x"}).status_code == 404
    change.refresh_from_db()
    assert change.status == ChangeStatus.PENDING


# --- staff: what-if -------------------------------------------------------------------------------


def test_staff_whatif_page_and_htmx_fragment(tiers, manager_client):
    url = reverse("staff:tier_whatif")
    assert manager_client.get(url).status_code == 200
    response = manager_client.get(
        url, {"revenue": "1200000", "won_deals": "3", "certified_people": "1"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert 'data-testid="whatif-tier">Silver<' in html
    assert "<html" not in html
    assert "2 more won deals" in html


def test_staff_whatif_bad_input_is_shown_not_crashing(tiers, manager_client):
    response = manager_client.get(reverse("staff:tier_whatif"), {"revenue": "-5", "won_deals": "x"})
    assert response.status_code == 200
    assert "whatif-tier" not in response.content.decode()


@pytest.mark.parametrize("name", ["staff:tier_whatif", "staff:tier_report"])
def test_staff_tier_pages_anonymous_and_partner(client, partner_admin_client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert partner_admin_client.get(reverse(name)).status_code == 404


# --- staff: report ---------------------------------------------------------------------------------


def test_staff_tier_report_lists_and_csv(tiers, partner_a, partner_b, partner_admin, manager_client):
    _at_risk_partner(tiers, partner_a)
    certify(partner_b, 1)
    sale(partner_b, "1500000")
    services.tiers_evaluate()
    response = manager_client.get(reverse("staff:tier_report"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-testid="tier-at-risk-row"') == 1
    assert "Alpha Systems" in html
    assert 'data-testid="tier-chart"' in html
    csv = b"".join(manager_client.get(reverse("staff:tier_report"), {"export": "at_risk"}).streaming_content)
    assert b"Alpha Systems" in csv and b"2 more won deals" in csv
    promoted = b"".join(manager_client.get(reverse("staff:tier_report"), {"export": "promoted"}).streaming_content)
    assert b"Beta Trade" in promoted


def test_staff_tier_report_scoped_to_the_managers_partners(tiers, partner_a, client_for):
    from tests.factories import StaffUserFactory

    _at_risk_partner(tiers, partner_a)
    other = StaffUserFactory(role="channel_manager")
    html = client_for(other).get(reverse("staff:tier_report")).content.decode()
    assert 'data-testid="tier-at-risk-row"' not in html


def test_staff_tier_report_queries_do_not_grow_with_rows(tiers, manager, manager_client, django_assert_max_num_queries):
    for _ in range(12):
        p = PartnerFactory(owner=manager, tier=tiers["gold"])
        certify(p, 1)
    services.tiers_evaluate()
    assert PartnerTierStatus.objects.filter(at_risk_since__isnull=False).count() >= 12
    with django_assert_max_num_queries(16):
        response = manager_client.get(reverse("staff:tier_report"))
    assert response.content.decode().count('data-testid="tier-at-risk-row"') >= 12


def test_dashboard_cards_count_at_risk_and_pending(tiers, partner_a, manager):
    from partners.selectors import partners_in_scope
    from prm.dashboard import queue_cards

    _at_risk_partner(tiers, partner_a)
    cards = {c.key: c for c in queue_cards(manager, partners_in_scope(user=manager))}
    assert cards["tiers_at_risk"].count == 1
    assert cards["tier_changes_pending"].count == 0


# --- API ---------------------------------------------------------------------------------------------


def test_api_tiers_list_for_partner_users(tiers, api_client, partner_rep):
    api_client.force_authenticate(partner_rep)
    response = api_client.get("/api/v1/tiers/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["code"] for r in rows] == ["registered", "silver", "gold"]
    assert rows[1]["min_revenue"] == "1000000.00" and rows[1]["discount_pct"] == "10.00"
    assert api_client.post("/api/v1/tiers/", {}).status_code == 405


def test_api_tiers_anonymous(api_client):
    assert api_client.get("/api/v1/tiers/").status_code in (401, 403)


def test_api_tier_progress_own_partner_and_staff(tiers, api_client, partner_a, partner_admin, manager):
    make_silver(partner_a, partner_admin)
    services.tiers_evaluate()
    url = f"/api/v1/partners/{partner_a.public_id}/tier-progress/"
    api_client.force_authenticate(partner_admin)
    data = api_client.get(url).json()
    assert data["tier"]["code"] == "silver"
    assert data["metrics"] == {"revenue": "1000000.00", "won_deals": 2, "certified_people": 1}
    assert data["next_tier"]["code"] == "gold"
    gaps = {g["metric"]: g for g in data["next_tier_gaps"]}
    assert gaps["won_deals"]["missing"] == "3.00" and gaps["won_deals"]["text"] == "3 more won deals"
    assert data["at_risk"] is False and data["locked"] is False
    api_client.force_authenticate(manager)
    assert api_client.get(url).status_code == 200


def test_api_tier_progress_other_partner_404_and_anonymous(tiers, api_client, partner_a, other_partner_user):
    url = f"/api/v1/partners/{partner_a.public_id}/tier-progress/"
    assert api_client.get(url).status_code in (401, 403)
    api_client.force_authenticate(other_partner_user)
    response = api_client.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_api_tier_progress_at_risk(tiers, api_client, partner_a, manager):
    status = _at_risk_partner(tiers, partner_a)
    api_client.force_authenticate(manager)
    data = api_client.get(f"/api/v1/partners/{partner_a.public_id}/tier-progress/").json()
    assert data["at_risk"] is True
    assert data["demotion_due_on"] == status.demotion_due_on.isoformat()
    assert data["would_drop_to"]["code"] == "registered"
    assert {g["metric"] for g in data["at_risk_gaps"]} == {"revenue", "won_deals", "certified_people"}


def test_api_evaluate_staff_only_returns_summary(tiers, api_client, partner_a, partner_admin, manager):
    make_silver(partner_a, partner_admin)
    api_client.force_authenticate(partner_admin)
    assert api_client.post("/api/v1/tiers/evaluate/").status_code == 403
    assert not TierChange.objects.exists()
    api_client.force_authenticate(manager)
    response = api_client.post("/api/v1/tiers/evaluate/")
    assert response.status_code == 200
    assert response.json()["promoted"] >= 1
    assert api_client.post("/api/v1/tiers/evaluate/").json()["promoted"] == 0


def test_api_evaluate_anonymous(api_client):
    assert api_client.post("/api/v1/tiers/evaluate/").status_code in (401, 403)


# --- command, task, admin -------------------------------------------------------------------------


def test_evaluate_tiers_command(tiers, partner_a, partner_admin):
    from io import StringIO

    from django.core.management import call_command

    make_silver(partner_a, partner_admin)
    out = StringIO()
    call_command("evaluate_tiers", stdout=out)
    assert "promoted: 1" in out.getvalue()
    partner_a.refresh_from_db()
    assert partner_a.tier == tiers["silver"]


def test_nightly_task_runs_the_evaluation(tiers, partner_a, partner_admin):
    from programs.tasks_tiers import tiers_evaluate_nightly

    make_silver(partner_a, partner_admin)
    later = (timezone.now() + datetime.timedelta(minutes=1)).isoformat()
    assert tiers_evaluate_nightly.run(now=later)["promoted"] == 1
    assert tiers_evaluate_nightly.run(now=later)["promoted"] == 0


def test_beat_schedules_the_nightly_evaluation():
    from prm.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "programs.tasks_tiers.tiers_evaluate_nightly" in tasks


def test_admin_evaluate_and_lock_actions(tiers, partner_a, partner_admin, admin_user, client_for):
    make_silver(partner_a, partner_admin)
    status = PartnerTierStatus.objects.create(partner=partner_a)
    client = client_for(admin_user)
    url = reverse("admin:programs_partnertierstatus_changelist")
    client.post(url, {"action": "evaluate", "_selected_action": [status.pk]})
    partner_a.refresh_from_db()
    assert partner_a.tier == tiers["silver"]
    client.post(url, {"action": "lock", "_selected_action": [status.pk], "reason": ""})
    status.refresh_from_db()
    assert not status.locked
    client.post(url, {"action": "lock", "_selected_action": [status.pk], "reason": "Board decision"})
    status.refresh_from_db()
    assert status.locked and status.lock_reason == "Board decision"
    assert client.get(reverse("admin:programs_tierchange_changelist")).status_code == 200
