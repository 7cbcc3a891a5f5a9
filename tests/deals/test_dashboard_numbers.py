"""The dashboard's numbers against independent SQL over the same seeded rows, scoping, and
query counts that do not grow with the number of partners."""

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from deals import dashboard
from deals.models import DealStatus, ForecastRun, ForecastSnapshot, PartnerCommit, Target
from partners.models import PartnerStatus, Region
from prm.models import ExchangeRate, Role
from tests.deals.dashboard_factories import aware, deal_row, sale
from tests.factories import InteractionFactory, PartnerFactory, StaffUserFactory, TierFactory

pytestmark = pytest.mark.django_db

USD_RATE = Decimal("90.00000000")


def sql(query, params=()):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def d(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


@pytest.fixture
def world(manager, lead):
    """Two tiers, three partners of `manager`, two of another manager; won deals, open
    pipeline, sell-in (one tied to a deal), sell-out, a USD deal, interactions."""
    today = timezone.localdate()
    ExchangeRate.objects.create(currency="USD", valid_from=today - dt.timedelta(days=3000), rate=USD_RATE)
    gold, silver = TierFactory(name="Gold", code="gold", rank=2), TierFactory(name="Silver", code="silver", rank=1)
    other = StaffUserFactory(role=Role.CHANNEL_MANAGER, full_name="Olga Other", reports_to=lead)
    mine = [
        PartnerFactory(name="M1", owner=manager, tier=gold, region=Region.RUSSIA),
        PartnerFactory(name="M2", owner=manager, tier=silver, region=Region.EUROPE),
        PartnerFactory(name="M3", owner=manager, tier=None, region=Region.RUSSIA, is_dormant=True),
    ]
    theirs = [
        PartnerFactory(name="O1", owner=other, tier=gold),
        PartnerFactory(name="O2", owner=other, tier=silver, status=PartnerStatus.ONBOARDING),
    ]
    amounts = [Decimal("1000.00"), Decimal("250000.00"), Decimal("3100.50"), Decimal("77.70"), Decimal("12000.00")]
    for i, partner in enumerate(mine + theirs):
        for k in range(4):
            closed = today - dt.timedelta(days=20 + 45 * k + i)
            deal_row(
                partner,
                status=DealStatus.WON,
                value=amounts[(i + k) % 5],
                closed_on=closed,
                submitted_on=closed - dt.timedelta(days=10),
                decided_by=manager if i < 3 else other,
            )
        deal_row(partner, status=DealStatus.LOST, closed_on=today - dt.timedelta(days=15 + i))
        for stage, prob, days in (("qualification", 10, 10), ("proposal", 50, 100), ("commit", 90, 200)):
            deal_row(
                partner,
                status=DealStatus.APPROVED if prob > 10 else DealStatus.SUBMITTED,
                value=Decimal("10000.00") * (i + 1),
                stage=stage,
                probability=prob,
                expected_close_date=today + dt.timedelta(days=days),
            )
        sale(partner, on=today - dt.timedelta(days=5 + 31 * i), amount=Decimal("500.25") * (i + 1))
        sale(partner, on=today - dt.timedelta(days=70), amount="-100.00")  # a return
        sale(partner, on=today - dt.timedelta(days=8), amount="999999.00", kind="sell_out")  # not vendor revenue
        InteractionFactory(partner=partner, occurred_at=aware(today - dt.timedelta(days=40 * (i + 1))))
    tied = deal_row(mine[0], status=DealStatus.WON, value="5000.00", closed_on=today - dt.timedelta(days=3))
    sale(mine[0], on=today - dt.timedelta(days=3), amount="5000.00", registration=tied)  # counted via the deal
    deal_row(mine[1], status=DealStatus.WON, value="100.00", currency="USD", closed_on=today - dt.timedelta(days=33))
    deal_row(mine[1], status=DealStatus.APPROVED, value="200.00", currency="USD", stage="negotiation", probability=75)
    return {"mine": mine, "theirs": theirs, "other": other, "gold": gold, "silver": silver, "today": today}


# Independent revenue: every won deal and untied sell-in, in base currency, with the one rate.
REVENUE_SQL = """
    SELECT partner_id, month, SUM(amount) FROM (
        SELECT r.partner_id, date_trunc('month', r.closed_at AT TIME ZONE %(tz)s)::date AS month,
               r.final_amount * CASE r.currency WHEN 'USD' THEN %(usd)s ELSE 1 END AS amount
          FROM deals_dealregistration r
         WHERE r.status = 'won' AND r.closed_at >= %(since)s AND r.closed_at < %(until)s
        UNION ALL
        SELECT s.partner_id, date_trunc('month', s.occurred_on)::date,
               s.amount * CASE s.currency WHEN 'USD' THEN %(usd)s ELSE 1 END
          FROM deals_salesrecord s
         WHERE s.kind = 'sell_in' AND s.registration_id IS NULL
           AND s.occurred_on >= %(since)s::date AND s.occurred_on < %(until)s::date
    ) x
    WHERE partner_id = ANY(%(ids)s)
    GROUP BY partner_id, month
"""


def independent_revenue(ids, since: dt.date, until: dt.date):
    rows = sql(
        REVENUE_SQL,
        {
            "tz": timezone.get_current_timezone_name(),
            "usd": USD_RATE,
            "since": aware(since, 0),
            "until": aware(until, 0),
            "ids": list(ids),
        },
    )
    return {(pid, month): d(total) for pid, month, total in rows}


def test_pipeline_by_stage_equals_sql_for_a_manager(world, manager):
    partners = dashboard.dashboard_partners(user=manager)
    got = {row["stage"]: row for row in dashboard.pipeline_by_stage(partners=partners)}
    expected = sql(
        """
        SELECT r.stage, count(*),
               SUM(r.value * CASE r.currency WHEN 'USD' THEN %s ELSE 1 END),
               SUM(r.value * r.probability / 100.0 * CASE r.currency WHEN 'USD' THEN %s ELSE 1 END)
          FROM deals_dealregistration r JOIN partners_partner p ON p.id = r.partner_id
         WHERE p.owner_id = %s AND r.status IN ('submitted', 'approved')
         GROUP BY r.stage
        """,
        [USD_RATE, USD_RATE, manager.pk],
    )
    assert len(expected) == 4
    for stage, count, value, weighted in expected:
        assert got[stage]["count"] == count
        assert got[stage]["value"] == d(value)
        assert got[stage]["weighted"] == d(weighted)
    assert got["discovery"]["count"] == 0
    assert list(got) == ["qualification", "discovery", "proposal", "negotiation", "commit"]


def test_revenue_by_tier_by_month_equals_sql(world, admin_user):
    partners = dashboard.dashboard_partners(user=admin_user)
    chart = dashboard.revenue_by_tier_by_month(partners=partners, months=12)
    months = chart["months"]
    assert len(chart["labels"]) == 12 and months[-1] == world["today"].replace(day=1)
    revenue = independent_revenue(partners.values_list("pk", flat=True), months[0], dashboard.add_months(months[-1], 1))
    tier_of = dict(partners.values_list("pk", "tier_id"))
    expected: dict = {}
    for (pid, month), amount in revenue.items():
        expected.setdefault(tier_of[pid], [Decimal("0.00")] * 12)[months.index(month)] += amount
    got = {s["tier_id"]: s["values"] for s in chart["series"]}
    assert got == expected
    assert [s["tier"] for s in chart["series"]] == ["Silver", "Gold", "No tier"]  # by rank, no tier last
    assert sum(sum(v) for v in got.values()) > 0


def test_revenue_concentration_equals_sql(world, admin_user):
    today = world["today"]
    since = today - dt.timedelta(days=365)
    partners = dashboard.dashboard_partners(user=admin_user)
    got = dashboard.revenue_concentration(partners=partners, since=since, until=today)
    per_partner: dict = {}
    for (pid, _month), amount in independent_revenue(
        partners.values_list("pk", flat=True), since, today + dt.timedelta(days=1)
    ).items():
        per_partner[pid] = per_partner.get(pid, Decimal(0)) + amount
    ranked = sorted((a for a in per_partner.values() if a > 0), reverse=True)
    n = sql("SELECT count(*) FROM partners_partner")[0][0]
    total = sum(ranked)
    assert got["partners"] == n == 5
    assert got["partners_with_revenue"] == len(ranked)
    assert got["total"] == total
    assert got["top5_share"] == round(float(sum(ranked[: math.ceil(n * 0.05)]) / total), 4)
    assert got["top20_share"] == round(float(sum(ranked[: math.ceil(n * 0.20)]) / total), 4)
    assert got["curve"][0] == [0, 0.0] and got["curve"][-1] == [100, 100.0]
    assert len(got["curve"]) == 101


def test_active_dormant_by_month_equals_sql(world, admin_user):
    from partners.models import Partner

    Partner.objects.update(created_at=timezone.now() - dt.timedelta(days=400))
    late = PartnerFactory(name="Newcomer")  # joined this month: not in the channel before it
    gone = PartnerFactory(name="Gone", status=PartnerStatus.TERMINATED)  # active once, out of the channel now
    InteractionFactory(partner=gone, occurred_at=aware(world["today"]))
    partners = dashboard.dashboard_partners(user=admin_user)
    rows = dashboard.active_dormant_by_month(partners=partners, months=6)
    window = 90
    for row in rows:
        end = min(dashboard.add_months(row["month"], 1) - dt.timedelta(days=1), world["today"])
        (active,) = sql(
            """
            SELECT count(*) FROM partners_partner p
             WHERE p.status IN ('onboarding', 'active', 'suspended')
               AND (EXISTS (SELECT 1 FROM deals_dealregistration r WHERE r.partner_id = p.id
                             AND r.submitted_at < %(hi)s AND r.submitted_at >= %(lo)s)
                 OR EXISTS (SELECT 1 FROM deals_salesrecord s WHERE s.partner_id = p.id
                             AND s.occurred_on < %(hi)s::date AND s.occurred_on >= %(lo)s::date)
                 OR EXISTS (SELECT 1 FROM partners_interaction i WHERE i.partner_id = p.id
                             AND i.occurred_at < %(hi)s AND i.occurred_at >= %(lo)s))
            """,
            {"hi": aware(end + dt.timedelta(days=1), 0), "lo": aware(end + dt.timedelta(days=1 - window), 0)},
        )[0]
        assert row["active"] == active, row
        in_channel = 6 if row["month"] == world["today"].replace(day=1) else 5
        assert row["active"] + row["dormant"] == in_channel, row
    assert rows[-1]["active"] > 0
    assert {late.pk, gone.pk} <= set(partners.values_list("pk", flat=True))


def test_kpi_scorecard_equals_sql(world, lead, manager):
    today = world["today"]
    year, quarter = dashboard.quarter_of(today)
    Target.objects.create(manager=manager, year=year, quarter=quarter, amount="100000.00")
    rows = {r["manager_id"]: r for r in dashboard.kpi_scorecard(user=lead, year=year, quarter=quarter)}
    assert set(rows) == {lead.pk, manager.pk, world["other"].pk}  # the lead and the lead's reports
    start, end = dashboard.quarter_bounds(year, quarter)
    mine_ids = [p.pk for p in world["mine"]]
    revenue = sum(independent_revenue(mine_ids, start, end).values(), Decimal("0.00"))
    row = rows[manager.pk]
    assert row["revenue"] == revenue
    assert row["target"] == Decimal("100000.00")
    assert row["fulfilment_pct"] == round(float(revenue / Decimal("100000.00") * 100), 1)
    assert row["partners"] == 3 and row["active_partners"] == 2  # M3 is dormant
    (won_n, avg) = sql(
        """
        SELECT count(*), avg(r.final_amount * CASE r.currency WHEN 'USD' THEN %s ELSE 1 END)
          FROM deals_dealregistration r JOIN partners_partner p ON p.id = r.partner_id
         WHERE p.owner_id = %s AND r.status = 'won' AND r.closed_at >= %s AND r.closed_at < %s
        """,
        [USD_RATE, manager.pk, aware(start, 0), aware(end, 0)],
    )[0]
    assert row["won_deals"] == won_n
    assert row["average_deal_size"] == d(avg)
    (decided, kept) = sql(
        """
        SELECT count(*), count(*) FILTER (WHERE decided_at <= review_due_at) FROM deals_dealregistration
         WHERE decided_by_id = %s AND decided_at >= %s AND decided_at < %s AND review_due_at IS NOT NULL
        """,
        [manager.pk, aware(start, 0), aware(end, 0)],
    )[0]
    assert row["reviews_decided"] == decided
    assert row["sla_kept_pct"] == (round(kept * 100 / decided, 1) if decided else None)
    ly_start, ly_end = dashboard.quarter_bounds(year - 1, quarter)
    last_year = sum(independent_revenue(mine_ids, ly_start, ly_end).values(), Decimal("0.00"))
    assert row["growth_per_partner"] == ((revenue - last_year) / 3).quantize(Decimal("0.01"))
    assert rows[lead.pk]["partners"] == 0 and rows[lead.pk]["fulfilment_pct"] is None


def test_kpi_scorecard_manager_sees_only_self(world, manager):
    rows = dashboard.kpi_scorecard(user=manager, year=world["today"].year, quarter=1)
    assert [r["manager_id"] for r in rows] == [manager.pk]


def test_pipeline_by_quarter_equals_sql_with_targets_commits_and_forecast(world, manager):
    today = world["today"]
    quarters = dashboard.coming_quarters(today)
    (y0, q0), (y1, q1) = quarters[0], quarters[1]
    Target.objects.create(manager=manager, year=y0, quarter=q0, amount="500000.00")
    Target.objects.create(manager=world["other"], year=y0, quarter=q0, amount="1.00")  # not in scope
    PartnerCommit.objects.create(partner=world["mine"][0], year=y1, quarter=q1, amount="100.00", currency="USD")
    run = ForecastRun.objects.create(as_of=today, status="done", started_at=timezone.now(), finished_at=timezone.now())
    for partner, amount in ((world["mine"][0], "10.00"), (world["mine"][1], "5.50"), (world["theirs"][0], "999")):
        ForecastSnapshot.objects.create(
            run=run, as_of=today, partner=partner, year=y0, quarter=q0, forecast=amount,
            method="seasonal_naive", error_metric="wape",
        )  # fmt: skip
    partners = dashboard.dashboard_partners(user=manager)
    rows = dashboard.pipeline_by_quarter(partners=partners)
    assert [(r["year"], r["quarter"]) for r in rows] == quarters
    _, last_end = dashboard.quarter_bounds(*quarters[-1])
    expected = dict(
        sql(
            """
            SELECT (date_part('year', greatest(r.expected_close_date, %(first)s))::int * 10
                    + date_part('quarter', greatest(r.expected_close_date, %(first)s))::int),
                   SUM(r.value * r.probability / 100.0 * CASE r.currency WHEN 'USD' THEN %(usd)s ELSE 1 END)
              FROM deals_dealregistration r JOIN partners_partner p ON p.id = r.partner_id
             WHERE p.owner_id = %(owner)s AND r.status IN ('submitted', 'approved')
               AND r.expected_close_date < %(last)s
             GROUP BY 1
            """,
            {"first": dashboard.quarter_bounds(y0, q0)[0], "usd": USD_RATE, "owner": manager.pk, "last": last_end},
        )
    )
    for row in rows:
        assert row["weighted"] == d(expected.get(row["year"] * 10 + row["quarter"])), row
    assert rows[0]["target"] == Decimal("500000.00") and rows[1]["target"] == Decimal("0.00")
    assert rows[1]["commit"] == Decimal("100.00") * USD_RATE
    assert rows[0]["forecast"] == Decimal("15.50") and rows[1]["forecast"] == Decimal("0.00")


def test_forecast_is_none_before_the_first_run(world, manager):
    rows = dashboard.pipeline_by_quarter(partners=dashboard.dashboard_partners(user=manager))
    assert all(r["forecast"] is None for r in rows)


def test_scope_manager_sees_own_partners_lead_team_admin_all(world, manager, lead, admin_user):
    names = lambda user, **f: set(  # noqa: E731
        dashboard.dashboard_partners(user=user, filters=dashboard.DashboardFilters(**f)).values_list("name", flat=True)
    )
    assert names(manager) == {"M1", "M2", "M3"}
    assert names(lead) == {"M1", "M2", "M3", "O1", "O2"}
    assert names(admin_user, region=Region.EUROPE) == {"M2"}
    assert names(admin_user, tier_id=world["gold"].pk) == {"M1", "O1"}
    assert names(lead, manager_id=world["other"].pk) == {"O1", "O2"}
    assert names(manager, manager_id=world["other"].pk) == set()  # not the manager's to see


def test_partner_user_and_anonymous_scope_is_empty(world, partner_admin):
    assert not dashboard.dashboard_partners(user=partner_admin).exists()


def test_summary_counts_and_cards(world, manager):
    summary = dashboard.dashboard_summary(user=manager)
    assert (summary.scope_partners, summary.active_partners, summary.dormant_partners) == (3, 2, 1)
    cards = {c["key"]: c for c in summary.cards}
    submitted = sql(
        """SELECT count(*) FROM deals_dealregistration r JOIN partners_partner p ON p.id = r.partner_id
            WHERE p.owner_id = %s AND r.status = 'submitted'""",
        [manager.pk],
    )[0][0]
    assert cards["registrations_to_review"]["count"] == submitted == 3
    assert cards["registrations_to_review"]["url"].endswith("?mine=1")
    assert {"open_conflicts", "extension_requests", "next_steps_due"} <= set(cards)


def test_partner_stats_by_month_equals_sql(world):
    partner = world["mine"][0]
    rows = dashboard.partner_stats_by_month(partner=partner, months=12)
    since = rows[0]["month"]
    until = dashboard.add_months(rows[-1]["month"], 1)
    revenue = independent_revenue([partner.pk], since, until)
    tz = timezone.get_current_timezone_name()
    closed = {
        (m, s): n
        for m, s, n in sql(
            """SELECT date_trunc('month', closed_at AT TIME ZONE %s)::date, status, count(*)
                 FROM deals_dealregistration WHERE partner_id = %s AND status IN ('won', 'lost')
                  AND closed_at >= %s AND closed_at < %s GROUP BY 1, 2""",
            [tz, partner.pk, aware(since, 0), aware(until, 0)],
        )
    }
    for row in rows:
        won, lost = closed.get((row["month"], "won"), 0), closed.get((row["month"], "lost"), 0)
        assert (row["won"], row["lost"]) == (won, lost)
        assert row["win_rate"] == (round(won / (won + lost), 4) if won + lost else None)
        assert row["revenue"] == revenue.get((partner.pk, row["month"]), Decimal("0.00"))
    assert sum(r["registrations"] for r in rows) > 0


def _many_partners(owner, n):
    today = timezone.localdate()
    for i in range(n):
        partner = PartnerFactory(owner=owner, is_dormant=i % 3 == 0)
        deal_row(partner, status=DealStatus.WON, value="100.00", closed_on=today - dt.timedelta(days=i % 200))
        deal_row(partner, status=DealStatus.SUBMITTED, value="50.00")
        sale(partner, on=today - dt.timedelta(days=i % 300), amount="10.00")


def _count_queries(user, django_assert_max_num_queries):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        summary = dashboard.dashboard_summary(user=user)
        dashboard.kpi_scorecard(user=user, year=timezone.localdate().year, quarter=1)
        list(dashboard.reactivation_queue(user=user))
    return len(ctx.captured_queries), summary


def test_dashboard_queries_do_not_grow_with_partners(manager, django_assert_max_num_queries):
    _many_partners(manager, 10)
    few, summary = _count_queries(manager, django_assert_max_num_queries)
    assert summary.scope_partners == 10
    _many_partners(manager, 40)
    many, summary = _count_queries(manager, django_assert_max_num_queries)
    assert summary.scope_partners == 50
    assert many == few
    with django_assert_max_num_queries(few):
        dashboard.dashboard_summary(user=manager)
        dashboard.kpi_scorecard(user=manager, year=timezone.localdate().year, quarter=1)
        list(dashboard.reactivation_queue(user=manager))


def test_partner_selectors_queries_are_bounded(world, django_assert_max_num_queries):
    partner = world["mine"][0]
    with django_assert_max_num_queries(12):
        dashboard.partner_stats_by_month(partner=partner)
        dashboard.partner_commit_vs_pipeline(partner=partner)


def test_reactivation_queue_lists_dormant_partners_in_scope(world, manager, lead):
    today = world["today"]
    quiet = PartnerFactory(name="Quiet", owner=world["other"], is_dormant=True, last_activity_at=aware(today))
    assert [p.name for p in dashboard.reactivation_queue(user=manager)] == ["M3"]
    assert [p.name for p in dashboard.reactivation_queue(user=lead)] == ["M3", "Quiet"]  # never active first
    assert quiet.owner.full_name == "Olga Other"


def test_chart_numbers_are_cached_per_scope_when_enabled(world, manager, lead, settings):
    settings.PRM = {**settings.PRM, "DASHBOARD_CACHE_SECONDS": 300}
    mine = dashboard.dashboard_partners(user=manager)
    first = dashboard.pipeline_by_stage(partners=mine)
    deal_row(world["mine"][0], value="1.00", stage="commit", probability=90)
    assert dashboard.pipeline_by_stage(partners=mine) == first  # same scope: reused
    team = dashboard.pipeline_by_stage(partners=dashboard.dashboard_partners(user=lead))
    assert team != first  # another scope is computed on its own
    settings.PRM = {**settings.PRM, "DASHBOARD_CACHE_SECONDS": 0}
    live = {r["stage"]: r["count"] for r in dashboard.pipeline_by_stage(partners=mine)}
    assert live["commit"] == {r["stage"]: r["count"] for r in first}["commit"] + 1
