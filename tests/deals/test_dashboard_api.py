"""API: /dashboard/, /forecasts/, /partners/<id>/health/, /kpis/, /commits/ — per persona."""

from decimal import Decimal

import pytest
from django.utils import timezone

from deals import dashboard
from deals.models import ForecastRun, ForecastSnapshot, PartnerCommit, PartnerHealth, Target
from prm.models import AuditLog, Role
from tests.deals.dashboard_factories import deal_row
from tests.factories import PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db


def error(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


@pytest.fixture
def snapshots(partner_a, partner_b):
    today = timezone.localdate()
    run = ForecastRun.objects.create(as_of=today, status="done", started_at=timezone.now(), finished_at=timezone.now())
    year, quarter = dashboard.quarter_of(today)
    for partner in (partner_a, partner_b, None):
        ForecastSnapshot.objects.create(
            run=run, as_of=today, partner=partner, year=year, quarter=quarter, forecast="100.00",
            method="holt_winters", error_metric="mape", naive_error="0.2000", model_error="0.1000",
        )  # fmt: skip
    return run


# --- dashboard ------------------------------------------------------------------------------


def test_dashboard_for_manager_is_scoped(api_client, manager, partner_a):
    deal_row(partner_a, value="1000.00", probability=50, stage="proposal")
    deal_row(PartnerFactory(), value="999999.00")  # another manager's partner
    api_client.force_authenticate(manager)
    response = api_client.get("/api/v1/dashboard/")
    assert response.status_code == 200, response.content
    body = response.json()
    proposal = next(s for s in body["pipeline_by_stage"] if s["stage"] == "proposal")
    assert Decimal(proposal["value"]) == Decimal("1000.00") and Decimal(proposal["weighted"]) == Decimal("500.00")
    assert body["scope_partners"] == 1
    assert {c["key"] for c in body["cards"]} >= {"registrations_to_review", "open_conflicts", "next_steps_due"}
    assert len(body["pipeline_by_quarter"]) == 4
    assert len(body["revenue_by_tier_by_month"]["labels"]) == 12


def test_dashboard_filters_and_bad_input(api_client, admin_user, partner_a, lead):
    api_client.force_authenticate(admin_user)
    response = api_client.get("/api/v1/dashboard/", {"region": "europe"})
    assert response.json()["scope_partners"] == 0
    response = api_client.get("/api/v1/dashboard/", {"manager": str(partner_a.owner.public_id)})
    assert response.json()["scope_partners"] == 1
    months = api_client.get("/api/v1/dashboard/", {"period_start": "2026-01-01", "period_end": "2026-06-30"})
    assert len(months.json()["revenue_by_tier_by_month"]["labels"]) == 6
    err = error(api_client.get("/api/v1/dashboard/", {"period_start": "2026-06-01", "period_end": "2026-01-01"}), 400)
    assert "period_end" in err["fields"]
    assert "region" in error(api_client.get("/api/v1/dashboard/", {"region": "mars"}), 400)["fields"]


def test_dashboard_anonymous_and_partner_users_refused(api_client, partner_admin):
    assert api_client.get("/api/v1/dashboard/").status_code in (401, 403)
    api_client.force_authenticate(partner_admin)
    assert error(api_client.get("/api/v1/dashboard/"), 403)["code"] == "permission_denied"


# --- forecasts ------------------------------------------------------------------------------


def test_forecasts_staff_see_all_partner_users_own(api_client, manager, partner_admin, partner_a, snapshots):
    api_client.force_authenticate(manager)
    rows = api_client.get("/api/v1/forecasts/").json()["results"]
    assert len(rows) == 3 and rows[0]["partner"] is None  # the total first
    assert Decimal(rows[1]["error"]) == Decimal("0.1000")  # the chosen method's back-test error
    only_a = api_client.get("/api/v1/forecasts/", {"partner": str(partner_a.public_id)}).json()["results"]
    assert [r["partner"] for r in only_a] == [str(partner_a.public_id)]
    api_client.force_authenticate(partner_admin)
    rows = api_client.get("/api/v1/forecasts/").json()["results"]
    assert [r["partner"] for r in rows] == [str(partner_a.public_id)]


def test_forecasts_partner_b_never_sees_a(api_client, other_partner_user, partner_a, partner_b, snapshots):
    api_client.force_authenticate(other_partner_user)
    rows = api_client.get("/api/v1/forecasts/", {"partner": str(partner_a.public_id)}).json()["results"]
    assert {r["partner"] for r in rows} == {str(partner_b.public_id)}


def test_forecasts_anonymous_refused_and_bad_date(api_client, manager):
    assert api_client.get("/api/v1/forecasts/").status_code in (401, 403)
    api_client.force_authenticate(manager)
    assert api_client.get("/api/v1/forecasts/").json()["results"] == []  # no run yet
    error(api_client.get("/api/v1/forecasts/", {"as_of": "yesterday"}), 400)


# --- health ---------------------------------------------------------------------------------


@pytest.fixture
def health_a(partner_a):
    return PartnerHealth.objects.create(
        partner=partner_a,
        score=64,
        band="yellow",
        breakdown={"relationship": {"value": 3, "score": 97, "weight": 0.15}},
        computed_at=timezone.now(),
    )


def test_health_staff_and_own_partner(api_client, manager, partner_admin, partner_a, health_a):
    url = f"/api/v1/partners/{partner_a.public_id}/health/"
    for user in (manager, partner_admin):
        api_client.force_authenticate(user)
        body = api_client.get(url).json()
        assert (body["score"], body["band"]) == (64, "yellow")
        assert body["breakdown"]["relationship"] == {"value": 3, "score": 97, "weight": 0.15}


def test_health_partner_b_gets_404_and_anonymous_refused(api_client, other_partner_user, partner_a, health_a):
    url = f"/api/v1/partners/{partner_a.public_id}/health/"
    assert api_client.get(url).status_code in (401, 403)
    api_client.force_authenticate(other_partner_user)
    assert error(api_client.get(url), 404)["code"] == "not_found"


def test_health_not_computed_yet_is_404(api_client, manager, partner_b):
    api_client.force_authenticate(manager)
    error(api_client.get(f"/api/v1/partners/{partner_b.public_id}/health/"), 404)


# --- KPIs -----------------------------------------------------------------------------------


def test_kpis_for_lead_and_default_quarter(api_client, lead, manager, partner_a):
    year, quarter = dashboard.quarter_of(timezone.localdate())
    Target.objects.create(manager=manager, year=year, quarter=quarter, amount="1000.00")
    deal_row(partner_a, status="won", value="250.00", closed_on=timezone.localdate())
    api_client.force_authenticate(lead)
    body = api_client.get("/api/v1/kpis/").json()
    assert (body["year"], body["quarter"]) == (year, quarter)
    row = next(r for r in body["managers"] if r["manager"] == str(manager.public_id))
    assert Decimal(row["revenue"]) == Decimal("250.00") and row["fulfilment_pct"] == 25.0
    assert error(api_client.get("/api/v1/kpis/", {"quarter": 5}), 400)["fields"].keys() == {"quarter"}


def test_kpis_refused_to_partner_users_and_anonymous(api_client, partner_admin):
    assert api_client.get("/api/v1/kpis/").status_code in (401, 403)
    api_client.force_authenticate(partner_admin)
    error(api_client.get("/api/v1/kpis/"), 403)


# --- commits --------------------------------------------------------------------------------


def coming():
    return dashboard.coming_quarters(timezone.localdate())[1]


def test_partner_admin_sets_and_replaces_own_commit(api_client, partner_admin, partner_a):
    year, quarter = coming()
    api_client.force_authenticate(partner_admin)
    payload = {"year": year, "quarter": quarter, "amount": "50000.00", "currency": "RUB"}
    created = api_client.post("/api/v1/commits/", payload, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["partner"] == str(partner_a.public_id)
    replaced = api_client.post("/api/v1/commits/", {**payload, "amount": "60000.00"}, format="json")
    assert replaced.status_code == 200
    commit = PartnerCommit.objects.get()
    assert commit.amount == Decimal("60000.00") and commit.entered_by == partner_admin
    assert AuditLog.objects.filter(action="commit.set", partner_id=partner_a.pk).count() == 2
    assert len(api_client.get("/api/v1/commits/").json()["results"]) == 1


def test_commit_past_quarter_and_bad_amount_refused(api_client, partner_admin):
    api_client.force_authenticate(partner_admin)
    year, quarter = dashboard.shift_quarter(*dashboard.quarter_of(timezone.localdate()), -1)
    err = error(
        api_client.post(
            "/api/v1/commits/", {"year": year, "quarter": quarter, "amount": "1", "currency": "RUB"}, format="json"
        ),
        400,
    )
    assert "quarter" in err["fields"]
    year, quarter = coming()
    err = error(
        api_client.post(
            "/api/v1/commits/", {"year": year, "quarter": quarter, "amount": "-5", "currency": "RUB"}, format="json"
        ),
        400,
    )
    assert "amount" in err["fields"]
    assert not PartnerCommit.objects.exists()


def test_commit_partner_rep_refused_and_partner_b_cannot_see_a(api_client, partner_rep, partner_a, other_partner_user):
    year, quarter = coming()
    PartnerCommit.objects.create(partner=partner_a, year=year, quarter=quarter, amount="1.00", currency="RUB")
    api_client.force_authenticate(partner_rep)
    payload = {"year": year, "quarter": quarter, "amount": "5.00", "currency": "RUB"}
    assert error(api_client.post("/api/v1/commits/", payload, format="json"), 403)["code"] == "permission_denied"
    api_client.force_authenticate(other_partner_user)
    assert api_client.get("/api/v1/commits/").json()["results"] == []
    # A partner user cannot aim at another partner: the partner field is ignored, its own is used.
    response = api_client.post("/api/v1/commits/", {**payload, "partner": str(partner_a.public_id)}, format="json")
    assert response.status_code == 201
    assert PartnerCommit.objects.get(partner=partner_a).amount == Decimal("1.00")


def test_commit_staff_sets_for_a_partner_and_lists_all(api_client, manager, partner_a, partner_b):
    from prm.models import ExchangeRate

    ExchangeRate.objects.create(currency="USD", valid_from="2020-01-01", rate="90")  # a commit needs a rate
    year, quarter = coming()
    api_client.force_authenticate(manager)
    payload = {"year": year, "quarter": quarter, "amount": "7.00", "currency": "USD"}
    assert "partner" in error(api_client.post("/api/v1/commits/", payload, format="json"), 400)["fields"]
    for partner in (partner_a, partner_b):
        r = api_client.post("/api/v1/commits/", {**payload, "partner": str(partner.public_id)}, format="json")
        assert r.status_code == 201
    assert len(api_client.get("/api/v1/commits/").json()["results"]) == 2


def test_commits_anonymous_refused(api_client):
    assert api_client.get("/api/v1/commits/").status_code in (401, 403)


def test_commit_service_refuses_other_partners_admin(partner_a, other_partner_user):
    from deals import services
    from prm.exceptions import PermissionDenied

    year, quarter = coming()
    with pytest.raises(PermissionDenied):
        services.partner_commit_set(
            actor=other_partner_user, partner=partner_a, year=year, quarter=quarter, amount="1", currency="RUB"
        )


def test_commit_list_queries_do_not_grow(api_client, manager, django_assert_max_num_queries):
    year, quarter = coming()
    api_client.force_authenticate(manager)
    for _ in range(3):
        PartnerCommit.objects.create(partner=PartnerFactory(), year=year, quarter=quarter, amount=1, currency="RUB")
    with django_assert_max_num_queries(6):
        assert len(api_client.get("/api/v1/commits/").json()["results"]) == 3
    for _ in range(20):
        PartnerCommit.objects.create(
            partner=PartnerFactory(), year=year, quarter=quarter, amount=1, currency="RUB",
            entered_by=PartnerUserFactory(role=Role.PARTNER_ADMIN),
        )  # fmt: skip
    with django_assert_max_num_queries(6):
        assert len(api_client.get("/api/v1/commits/").json()["results"]) == 23


def test_commit_in_a_currency_without_a_rate_refused_and_home_still_renders(api_client, partner_admin, client):
    year, quarter = coming()
    api_client.force_authenticate(partner_admin)
    payload = {"year": year, "quarter": quarter, "amount": "1000.00", "currency": "KZT"}
    err = error(api_client.post("/api/v1/commits/", payload, format="json"), 400)
    assert "currency" in err["fields"]
    assert not PartnerCommit.objects.exists()
    client.force_login(partner_admin)
    assert client.get("/cabinet/").status_code == 200
