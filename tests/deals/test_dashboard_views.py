"""Staff dashboard pages: the channel manager dashboard (staff:home), the KPI scorecard, the
forecasts page, the reactivation queue and the partner health fragment. Access for every URL,
scoping (a manager sees only their partners' numbers), the charts' tables and CSV exports, and
a query count that does not grow with the number of partners."""

import csv
import datetime as dt
import io
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deals import dashboard
from deals.models import (
    ErrorMetric,
    ForecastMethod,
    ForecastRun,
    ForecastRunStatus,
    ForecastSnapshot,
    PartnerHealth,
    SalesKind,
    SalesRecord,
    Target,
)
from prm.dashboard import QueueCard, _providers, register_queue_cards
from prm.models import Role
from tests.deals.factories import customer_data, make_deal
from tests.factories import PartnerFactory, PartnerUserFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

PAGES = ["staff:home", "staff:kpi_scorecard", "staff:forecasts", "staff:reactivation_queue"]
MINE = Decimal("1000000.00")
THEIRS = Decimal("7000000.00")


def _customer():
    letters = "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:14]).capitalize()
    tax = f"{uuid.uuid4().int % 10**10:010d}"
    return customer_data(name=letters, website=f"https://{uuid.uuid4().hex[:10]}.example", tax_id=tax)


def _deal_for(partner, value):
    user = PartnerUserFactory(partner=partner, role=Role.PARTNER_ADMIN)
    return make_deal(user=user, customer=_customer(), submit=True, value=value)


def _url(name, *args):
    return reverse(name, args=args)


def _is_login_redirect(response):
    return response.status_code == 302 and response.url.startswith(reverse("login"))


def _chart(response, key):
    return next(c for c in response.context["charts"] if c.key == key)


def _csv(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def other_manager(db):
    """A manager outside the lead's team, with a partner of their own."""
    return StaffUserFactory(role=Role.CHANNEL_MANAGER, email="other.manager@example.test", full_name="Olga Other")


@pytest.fixture
def partner_c(other_manager):
    return PartnerFactory(name="Gamma Foreign", owner=other_manager)


@pytest.fixture
def pipeline(partner_a, partner_c):
    """One submitted registration each: 1,000,000 for the manager's partner, 7,000,000 for the other's."""
    return _deal_for(partner_a, MINE), _deal_for(partner_c, THEIRS)


@pytest.fixture
def lead_client(client_for, lead):
    return client_for(lead)


@pytest.fixture
def admin_client_(client_for, admin_user):
    return client_for(admin_user)


# --- access --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*PAGES, "staff:partner_health"])
def test_anonymous_is_sent_to_log_in(client, partner_a, name):
    url = _url(name, partner_a.public_id) if name == "staff:partner_health" else _url(name)
    assert _is_login_redirect(client.get(url))


@pytest.mark.parametrize("client_fixture", ["partner_admin_client", "other_partner_client"])
@pytest.mark.parametrize("name", [*PAGES, "staff:partner_health"])
def test_partner_users_get_404(request, partner_a, client_fixture, name):
    client = request.getfixturevalue(client_fixture)
    url = _url(name, partner_a.public_id) if name == "staff:partner_health" else _url(name)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("client_fixture", ["manager_client", "lead_client", "admin_client_"])
@pytest.mark.parametrize("name", PAGES)
def test_staff_pages_render_for_every_staff_role(request, pipeline, client_fixture, name):
    response = request.getfixturevalue(client_fixture).get(_url(name))
    assert response.status_code == 200


def test_partner_health_unknown_partner_is_404(manager_client):
    assert manager_client.get(_url("staff:partner_health", uuid.uuid4())).status_code == 404


# --- the channel manager dashboard ---------------------------------------------------------


def _pipeline_total(response):
    chart = _chart(response, "pipeline_by_stage")
    value = next(d for d in chart.datasets if d.label == "Value")
    return sum(value.data, Decimal(0))


def test_dashboard_is_scoped_to_my_partners_my_team_or_everyone(manager_client, lead_client, admin_client_, pipeline):
    assert _pipeline_total(manager_client.get(_url("staff:home"))) == MINE
    assert _pipeline_total(lead_client.get(_url("staff:home"))) == MINE  # the manager reports to the lead
    assert _pipeline_total(admin_client_.get(_url("staff:home"))) == MINE + THEIRS


def test_dashboard_shows_every_chart_with_its_table_and_csv_link(manager_client, pipeline):
    response = manager_client.get(_url("staff:home"))
    content = response.content.decode()
    keys = {c.key for c in response.context["charts"]}
    assert keys == {
        "pipeline_by_stage",
        "forecast_vs_target",
        "revenue_by_tier",
        "revenue_concentration",
        "active_dormant",
        "lead_funnel",
    }
    for key in keys:
        assert f'data-testid="chart-{key}"' in content
        assert f'id="chart-data-{key}"' in content  # the json_script block charts.js reads
        assert f'data-testid="chart-{key}-table"' in content
        assert f"export={key}" in content
    assert "vendor/chartjs/chart.umd.min.js" in content and "js/charts.js" in content
    # The table carries the same number as the chart.
    table = content.split('data-testid="chart-pipeline_by_stage-table"')[1].split("</table>")[0]
    assert '<td class="text-end">1,000,000</td>' in table


def test_admin_and_lead_may_narrow_to_one_manager_a_manager_may_not(
    manager_client, admin_client_, pipeline, manager, other_manager
):
    response = admin_client_.get(_url("staff:home"), {"manager": str(other_manager.public_id)})
    assert _pipeline_total(response) == THEIRS
    assert "manager" not in manager_client.get(_url("staff:home")).context["form"].fields
    # A manager passing someone else's id still sees only their own partners.
    response = manager_client.get(_url("staff:home"), {"manager": str(other_manager.public_id)})
    assert _pipeline_total(response) == MINE


def test_lead_cannot_narrow_to_a_manager_outside_the_team(lead_client, pipeline, other_manager):
    response = lead_client.get(_url("staff:home"), {"manager": str(other_manager.public_id)})
    # Not a choice for the lead: the filter is dropped, the lead's own scope stays.
    assert _pipeline_total(response) == MINE


def test_dashboard_filters_by_region_and_type(admin_client_, pipeline, partner_c):
    partner_c.region = "cis"
    partner_c.save(update_fields=["region"])
    assert _pipeline_total(admin_client_.get(_url("staff:home"), {"region": "cis"})) == THEIRS
    assert _pipeline_total(admin_client_.get(_url("staff:home"), {"partner_type": "distributor"})) == 0
    # Invalid values are dropped, never an error page.
    response = admin_client_.get(_url("staff:home"), {"region": "moon", "period": "forever", "tier": "x"})
    assert response.status_code == 200
    assert _pipeline_total(response) == MINE + THEIRS


def test_dashboard_period_filter_sets_the_concentration_window(manager_client, partner_a, partner_admin):
    today = timezone.localdate()
    last_year = dt.date(today.year - 1, 6, 15)
    SalesRecord.objects.create(
        partner=partner_a, kind=SalesKind.SELL_IN, occurred_on=last_year, amount="500.00", currency="RUB"
    )
    chart = _chart(manager_client.get(_url("staff:home"), {"period": "last_year"}), "revenue_concentration")
    assert chart.datasets[0].data[-1] == 100.0  # all revenue reached at 100 % of partners
    assert "(1 partners with revenue in the period)" in chart.note
    response = manager_client.get(_url("staff:home"), {"period": "this_quarter"})
    assert _chart(response, "revenue_concentration").is_empty
    # The monthly charts span as many months as the period: a quarter is three.
    assert len(_chart(response, "active_dormant").labels) == 3
    assert len(_chart(response, "revenue_by_tier").labels) == 3
    assert "last 3 months" in _chart(response, "revenue_by_tier").title
    assert len(_chart(manager_client.get(_url("staff:home")), "active_dormant").labels) == 12


def test_dashboard_queue_cards_show_counts_urgency_and_link_to_their_queue(manager_client, partner_a):
    def provider(user, partners):
        return [
            QueueCard(
                key="test_queue",
                title="Test queue",
                count=partners.count(),
                url=reverse("staff:deal_review_queue"),
                urgent=1,
                urgent_label="overdue",
            )
        ]

    register_queue_cards(provider)
    try:
        content = manager_client.get(_url("staff:home")).content.decode()
    finally:
        _providers.remove(provider)
    assert 'data-testid="queue-card-test_queue"' in content
    card = content.split('data-testid="queue-card-test_queue"')[0].rsplit("<a ", 1)[1]
    assert f'href="{reverse("staff:deal_review_queue")}"' in card
    section = content.split('data-testid="queue-card-test_queue"')[1].split("</a>")[0]
    assert '<span class="fs-3 fw-semibold text-body" data-testid="queue-card-count">1</span>' in section
    assert "1 overdue" in section


def test_lead_funnel_chart_counts_offered_accepted_won(manager, manager_client, partner_a, partner_rep):
    import random

    from deals import services
    from partners.models import Region
    from tests.deals.factories import make_lead

    partner_a.country, partner_a.region = "DE", Region.EUROPE
    partner_a.save(update_fields=["country", "region"])
    leads = [make_lead(country="DE", region="europe", customer_name=f"Kunde {i} GmbH") for i in range(3)]
    for lead in leads:
        assert services.lead_route(actor=manager, lead=lead, rng=random.Random(0)).partner_id == partner_a.pk
    for lead in leads[:2]:
        lead.refresh_from_db()
        services.lead_accept(user=partner_rep, lead=lead)
    chart = _chart(manager_client.get(_url("staff:home")), "lead_funnel")
    assert chart.datasets[0].data == [3, 2, 0]
    assert len(chart.labels) == 3


@pytest.mark.parametrize(
    "key", ["pipeline_by_stage", "forecast_vs_target", "revenue_by_tier", "revenue_concentration", "active_dormant"]
)
def test_each_chart_exports_its_table_as_csv(manager_client, pipeline, partner_a, key):
    SalesRecord.objects.create(
        partner=partner_a, kind=SalesKind.SELL_IN, occurred_on=timezone.localdate(), amount="500.00", currency="RUB"
    )
    response = manager_client.get(_url("staff:home"), {"export": key})
    assert response["Content-Type"].startswith("text/csv")
    assert f"dashboard-{key}.csv" in response["Content-Disposition"]
    rows = _csv(response)
    assert len(rows) >= 2  # a header and data rows
    assert len({len(r) for r in rows}) == 1  # every row as wide as the header


def test_pipeline_csv_holds_my_numbers_only(manager_client, pipeline):
    rows = _csv(manager_client.get(_url("staff:home"), {"export": "pipeline_by_stage"}))
    assert rows[0] == ["Stage", "Value", "Weighted", "Registrations"]
    assert sum(Decimal(r[1]) for r in rows[1:]) == MINE
    assert sum(int(r[3]) for r in rows[1:]) == 1


def test_unknown_export_renders_the_page(manager_client):
    response = manager_client.get(_url("staff:home"), {"export": "nope"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_dashboard_queries_do_not_grow_with_partners(admin_client_, manager):
    url = _url("staff:home")
    for _ in range(5):
        _deal_for(PartnerFactory(owner=manager), "1000.00")
    admin_client_.get(url)  # warm caches (content types, sessions)
    few = _count_queries(admin_client_, url)
    for _ in range(35):
        _deal_for(PartnerFactory(owner=manager), "1000.00")
    many = _count_queries(admin_client_, url)
    assert many == few


def test_nav_has_the_dashboard_and_keeps_the_partner_list(manager_client):
    content = manager_client.get(_url("staff:home")).content.decode()
    assert f'href="{reverse("staff:home")}" data-testid="nav-dashboard"' in content
    assert f'href="{reverse("staff:partner_list")}" data-testid="nav-partners"' in content


# --- KPI scorecard -------------------------------------------------------------------------


def _quarter():
    return dashboard.quarter_of(timezone.localdate())


def test_kpi_manager_sees_own_row_admin_sees_everyone(manager_client, admin_client_, pipeline, manager, other_manager):
    year, quarter = _quarter()
    Target.objects.create(manager=manager, year=year, quarter=quarter, amount="2000.00")
    response = manager_client.get(_url("staff:kpi_scorecard"))
    assert [r["manager"] for r in response.context["rows"]] == [manager]
    content = response.content.decode()
    assert 'data-testid="chart-fulfilment"' in content and 'data-testid="kpi-row"' in content
    rows = admin_client_.get(_url("staff:kpi_scorecard")).context["rows"]
    assert {manager, other_manager} <= {r["manager"] for r in rows}


def test_kpi_lead_sees_the_team(lead_client, lead, manager, other_manager):
    rows = lead_client.get(_url("staff:kpi_scorecard")).context["rows"]
    assert {r["manager"] for r in rows} == {lead, manager}


def test_kpi_fulfilment_against_target_is_charted(manager_client, partner_a, manager):
    year, quarter = _quarter()
    Target.objects.create(manager=manager, year=year, quarter=quarter, amount="2000.00")
    SalesRecord.objects.create(
        partner=partner_a, kind=SalesKind.SELL_IN, occurred_on=timezone.localdate(), amount="500.00", currency="RUB"
    )
    response = manager_client.get(_url("staff:kpi_scorecard"), {"year": year, "quarter": quarter})
    chart = response.context["chart"]
    assert chart.labels == ["Max Manager"]
    assert chart.datasets[0].data == [25.0]
    content = response.content.decode()
    assert "25.0 %" in content
    assert '<td class="text-end" data-testid="kpi-revenue">500</td>' in content


def test_kpi_csv_export(manager_client, manager):
    year, quarter = _quarter()
    Target.objects.create(manager=manager, year=year, quarter=quarter, amount="2000.00")
    response = manager_client.get(_url("staff:kpi_scorecard"), {"year": year, "quarter": quarter, "export": "csv"})
    rows = _csv(response)
    assert rows[0][:4] == ["Channel manager", "Active partners", "Partners", "Target"]
    assert rows[1][0] == "Max Manager" and rows[1][3] == "2000.00"
    assert len(rows) == 2


def test_kpi_invalid_period_falls_back_to_this_quarter(manager_client):
    response = manager_client.get(_url("staff:kpi_scorecard"), {"year": "abc", "quarter": "9"})
    assert response.status_code == 200
    assert response.context["period_label"] == dashboard.quarter_label(*_quarter())


# --- forecasts -----------------------------------------------------------------------------


@pytest.fixture
def forecast_run(partner_a, partner_c):
    today = timezone.localdate()
    run = ForecastRun.objects.create(
        as_of=today, status=ForecastRunStatus.DONE, started_at=timezone.now(), finished_at=timezone.now()
    )
    quarters = dashboard.coming_quarters(today)
    for partner, base in ((None, 900), (partner_a, 300), (partner_c, 600)):
        for i, (year, quarter) in enumerate(quarters):
            ForecastSnapshot.objects.create(
                run=run,
                as_of=today,
                partner=partner,
                year=year,
                quarter=quarter,
                weighted_pipeline=Decimal(base),
                forecast=Decimal(base + i),
                naive_forecast=Decimal(base),
                model_forecast=Decimal(base + i),
                method=ForecastMethod.HOLT_WINTERS,
                error_metric=ErrorMetric.MAPE,
                naive_error=Decimal("0.2500"),
                model_error=Decimal("0.1234"),
                commit=Decimal(250) if partner == partner_a else None,
            )
    return run


def test_forecasts_page_shows_method_error_and_commit_in_scope(manager_client, forecast_run, partner_a, partner_c):
    response = manager_client.get(_url("staff:forecasts"))
    content = response.content.decode()
    assert [row["partner"] for row in response.context["rows"]] == [partner_a]
    assert "Gamma Foreign" not in content
    assert "Holt-Winters" in content and "MAPE 12 %" in content
    assert response.context["chart"].datasets[0].data[:2] == [Decimal(900), Decimal(901)]
    assert 'data-testid="forecast-total-row"' in content
    assert "250" in content  # A's commit beside its forecast


def test_forecasts_page_queries_do_not_grow_with_partners(admin_client_, forecast_run, manager):
    url = _url("staff:forecasts")
    admin_client_.get(url)
    few = _count_queries(admin_client_, url)
    for _ in range(20):
        partner = PartnerFactory(owner=manager)
        for year, quarter in dashboard.coming_quarters():
            ForecastSnapshot.objects.create(
                run=forecast_run,
                as_of=forecast_run.as_of,
                partner=partner,
                year=year,
                quarter=quarter,
                forecast=Decimal(1),
                method=ForecastMethod.SEASONAL_NAIVE,
                error_metric=ErrorMetric.WAPE,
            )
    assert _count_queries(admin_client_, url) == few


def test_forecasts_page_before_the_first_run(manager_client):
    response = manager_client.get(_url("staff:forecasts"))
    assert response.status_code == 200
    assert 'data-testid="forecast-none"' in response.content.decode()


def test_forecasts_csv(admin_client_, forecast_run):
    rows = _csv(admin_client_.get(_url("staff:forecasts"), {"export": "csv"}))
    assert rows[0][:5] == ["Partner", "Quarter", "Forecast", "Method", "Back-test error, %"]
    assert {r[0] for r in rows[1:]} == {"Channel total", "Alpha Systems", "Gamma Foreign"}
    assert len(rows) == 1 + 3 * 4
    alpha = next(r for r in rows if r[0] == "Alpha Systems")
    assert alpha[4] == "12.3"


def test_forecasts_csv_manager_sees_own_partners_only(manager_client, forecast_run):
    rows = _csv(manager_client.get(_url("staff:forecasts"), {"export": "csv"}))
    assert {r[0] for r in rows[1:]} == {"Channel total", "Alpha Systems"}


# --- reactivation queue --------------------------------------------------------------------


def test_reactivation_queue_lists_my_dormant_partners_with_a_log_interaction_shortcut(
    manager_client, partner_a, partner_b, partner_c
):
    last = timezone.now() - dt.timedelta(days=200)
    for p in (partner_a, partner_c):
        p.is_dormant, p.last_activity_at = True, last
        p.save(update_fields=["is_dormant", "last_activity_at"])
    response = manager_client.get(_url("staff:reactivation_queue"))
    content = response.content.decode()
    assert [p.name for p in response.context["partners"]] == ["Alpha Systems"]
    assert "Beta Trade" not in content and "Gamma Foreign" not in content
    assert reverse("staff:interaction_create", args=[partner_a.public_id]) in content
    assert "Max Manager" in content


def test_reactivation_queue_csv(manager_client, partner_a):
    partner_a.is_dormant = True
    partner_a.save(update_fields=["is_dormant"])
    rows = _csv(manager_client.get(_url("staff:reactivation_queue"), {"export": "csv"}))
    assert rows[0] == ["Partner", "Tier", "Region", "Channel manager", "Last activity"]
    assert [r[0] for r in rows[1:]] == ["Alpha Systems"]


def test_reactivation_queue_queries_do_not_grow_with_partners(manager_client, manager):
    url = _url("staff:reactivation_queue")
    for _ in range(3):
        PartnerFactory(owner=manager, is_dormant=True)
    manager_client.get(url)
    few = _count_queries(manager_client, url)
    for _ in range(30):
        PartnerFactory(owner=manager, is_dormant=True)
    assert _count_queries(manager_client, url) == few


# --- partner health fragment ---------------------------------------------------------------


def test_partner_health_fragment_shows_score_band_and_breakdown(manager_client, partner_a):
    PartnerHealth.objects.create(
        partner=partner_a,
        score=64,
        band="yellow",
        computed_at=timezone.now(),
        breakdown={
            "revenue_trend": {"value": 0.1, "score": 70, "weight": 0.3},
            "relationship": {"value": 120, "score": 20, "weight": 0.1},
            "engagement": {"value": {"registrations_90d": 4, "logins_30d": 2}, "score": 90, "weight": 0.2},
        },
    )
    content = manager_client.get(_url("staff:partner_health", partner_a.public_id)).content.decode()
    assert 'data-band="yellow"' in content and ">64<" in content
    assert content.count('data-testid="health-component"') == 3
    assert "Revenue trend" in content and "30 %" in content and "Relationship" in content
    assert content.index("Revenue trend") < content.index("Engagement") < content.index("Relationship")  # by weight
    assert "last interaction 120 days ago" in content
    assert "registrations in 90 days: 4; people logged in within 30 days: 2" in content


def test_partner_health_fragment_without_a_score(manager_client, partner_a):
    content = manager_client.get(_url("staff:partner_health", partner_a.public_id)).content.decode()
    assert 'data-testid="health-none"' in content


def test_partner_page_has_the_health_slot(manager_client, partner_a):
    content = manager_client.get(_url("staff:partner_detail", partner_a.public_id)).content.decode()
    assert reverse("staff:partner_health", args=[partner_a.public_id]) in content
