"""The nightly computations: forecast snapshots (idempotent, resumable), dormancy, reorder
reminders — each safe to run twice."""

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.utils import timezone

from deals import dashboard, services, tasks
from deals.models import ForecastRun, ForecastSnapshot, PartnerCommit, ReorderExpectation
from partners.models import Partner, PartnerStatus
from prm.models import Notification
from tests.deals.dashboard_factories import aware, deal_row, sale
from tests.factories import InteractionFactory, PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db

SNAPSHOT_FIELDS = (
    "partner_id",
    "year",
    "quarter",
    "weighted_pipeline",
    "forecast",
    "naive_forecast",
    "model_forecast",
    "method",
    "error_metric",
    "naive_error",
    "model_error",
    "commit",
)


def snapshot_rows(as_of):
    return sorted(
        ForecastSnapshot.objects.filter(as_of=as_of).values_list(*SNAPSHOT_FIELDS),
        key=lambda r: (r[0] or 0, r[1], r[2]),
    )


@pytest.fixture
def history(manager):
    """Six partners: two with three years of seasonal monthly sell-in, the rest sparse."""
    today = timezone.localdate()
    partners = [PartnerFactory(owner=manager, name=f"P{i}") for i in range(6)]
    first = dashboard.add_months(today.replace(day=1), -36)
    for i, partner in enumerate(partners[:2]):
        for m in range(36):
            month = dashboard.add_months(first, m)
            amount = 10000 + 200 * m + 4000 * math.sin(2 * math.pi * month.month / 12) + 100 * i
            sale(partner, on=month.replace(day=10), amount=round(amount, 2))
    sale(partners[2], on=today - dt.timedelta(days=40), amount="500.00")
    deal_row(partners[3], status="approved", value="10000.00", probability=50)
    deal_row(partners[4], status="won", value="777.00", closed_on=today - dt.timedelta(days=60))
    year, quarter = dashboard.quarter_of(today)
    PartnerCommit.objects.create(partner=partners[0], year=year, quarter=quarter, amount="12345.00", currency="RUB")
    PartnerFactory(owner=manager, status=PartnerStatus.PROSPECT)  # not forecast
    return partners


def test_snapshot_run_writes_every_partner_and_the_total(history):
    today = timezone.localdate()
    run = services.forecast_snapshot_run(as_of=today, chunk_size=4)
    assert run.status == "done" and run.partners_done == 6
    quarters = dashboard.coming_quarters(today)
    assert ForecastSnapshot.objects.filter(as_of=today).count() == 7 * len(quarters)
    dense = ForecastSnapshot.objects.filter(as_of=today, partner=history[0])
    assert {s.method for s in dense} <= {"holt_winters", "seasonal_naive"}
    assert all(s.model_forecast is not None and s.naive_error is not None for s in dense)
    first = dense.get(year=quarters[0][0], quarter=quarters[0][1])
    assert first.commit == Decimal("12345.00")
    assert first.forecast > 0
    sparse = ForecastSnapshot.objects.filter(as_of=today, partner=history[2])
    assert all(s.method == "seasonal_naive" and s.model_forecast is None for s in sparse)
    pipe = ForecastSnapshot.objects.filter(as_of=today, partner=history[3])
    assert sum(s.weighted_pipeline for s in pipe) == Decimal("5000.00")
    total = ForecastSnapshot.objects.filter(as_of=today, partner__isnull=True)
    assert total.count() == len(quarters)
    assert sum(s.weighted_pipeline for s in total) == Decimal("5000.00")
    # The dashboard reads the newest finished run.
    rows = dashboard.pipeline_by_quarter(partners=Partner.objects.all())
    assert rows[0]["forecast"] == sum(s.forecast for s in ForecastSnapshot.objects.filter(
        as_of=today, partner__isnull=False, year=quarters[0][0], quarter=quarters[0][1]))  # fmt: skip


def test_snapshot_run_twice_gives_the_same_rows(history):
    today = timezone.localdate()
    services.forecast_snapshot_run(as_of=today, chunk_size=4)
    before = snapshot_rows(today)
    services.forecast_snapshot_run(as_of=today, chunk_size=4)  # done: a no-op
    assert snapshot_rows(today) == before
    # Forced recomputation of the same day (run reset) replaces rows, never duplicates them.
    ForecastRun.objects.filter(as_of=today).update(status="running", cursor=0, partners_done=0, finished_at=None)
    tasks.forecast_snapshots.run(as_of=today.isoformat())
    assert snapshot_rows(today) == before
    assert ForecastRun.objects.count() == 1


def test_snapshot_run_resumes_after_interruption(history):
    today = timezone.localdate()
    run = services.forecast_snapshot_run(as_of=today, chunk_size=2, max_chunks=1)
    assert run.status == "running" and run.partners_done == 2
    assert run.cursor == history[1].pk
    assert not ForecastSnapshot.objects.filter(as_of=today, partner__isnull=True).exists()
    assert dashboard.latest_forecast_as_of() is None  # an unfinished run is not shown
    resumed = services.forecast_snapshot_run(as_of=today, chunk_size=2)
    assert resumed.pk == run.pk and resumed.status == "done" and resumed.partners_done == 6
    interrupted = snapshot_rows(today)
    ForecastSnapshot.objects.all().delete()
    ForecastRun.objects.all().delete()
    services.forecast_snapshot_run(as_of=today, chunk_size=2)
    assert snapshot_rows(today) == interrupted


def test_dormancy_flags_and_notifies_the_owner_once(manager):
    now = timezone.now()
    old = now - dt.timedelta(days=200)
    quiet = PartnerFactory(owner=manager, name="Quiet")
    busy = PartnerFactory(owner=manager, name="Busy")
    PartnerFactory(owner=manager, name="New")  # joined today, nothing yet: not dormant
    login = PartnerFactory(owner=manager, name="Logs in", is_dormant=True)
    prospect = PartnerFactory(owner=manager, status=PartnerStatus.PROSPECT)
    Partner.objects.filter(pk__in=[quiet.pk, busy.pk, login.pk, prospect.pk]).update(created_at=old)
    InteractionFactory(partner=quiet, occurred_at=now - dt.timedelta(days=120))
    deal_row(busy, submitted_on=timezone.localdate() - dt.timedelta(days=5))
    PartnerUserFactory(partner=login, last_login=now - dt.timedelta(days=2))
    turned = services.partner_dormancy_compute(now=now)
    assert turned == [quiet.pk]
    flags = dict(Partner.objects.values_list("name", "is_dormant"))
    assert flags == {"Quiet": True, "Busy": False, "New": False, "Logs in": False, prospect.name: False}
    quiet.refresh_from_db()
    assert quiet.last_activity_at == quiet.interactions.get().occurred_at
    assert Notification.objects.filter(user=manager, kind="partner_dormant").count() == 1
    assert services.partner_dormancy_compute(now=now) == []  # already dormant: no second notice
    assert Notification.objects.filter(user=manager, kind="partner_dormant").count() == 1


def test_reorder_expectation_from_median_gap_and_reminder_once(manager):
    today = timezone.localdate()
    partner = PartnerFactory(owner=manager)
    # Orders every 30 days, one odd 10-day gap; last order 50 days ago.
    days = [200, 170, 140, 130, 100, 80, 50]
    for ago in days:
        sale(partner, on=today - dt.timedelta(days=ago), amount="1000.00")
    sale(partner, on=today - dt.timedelta(days=20), amount="-300.00")  # a return is not an order
    few = PartnerFactory(owner=manager)
    sale(few, on=today - dt.timedelta(days=90), amount="10.00")
    assert services.reorder_expectations_compute(today=today) == 1
    expectation = ReorderExpectation.objects.get(partner=partner)
    assert expectation.orders_counted == 7
    assert expectation.typical_interval_days == 30  # gaps 30,30,10,30,20,30 → median 30
    assert expectation.last_order_on == today - dt.timedelta(days=50)
    assert expectation.predicted_next_on == today - dt.timedelta(days=20)
    assert services.reorder_reminders_send(today=today) == 1
    assert services.reorder_reminders_send(today=today) == 0
    tasks.reorder_reminders.run(today=today.isoformat())
    assert Notification.objects.filter(user=manager, kind="reorder_due").count() == 1


def test_reorder_not_reminded_within_grace(manager, settings):
    today = timezone.localdate()
    partner = PartnerFactory(owner=manager)
    for ago in (95, 65, 35):
        sale(partner, on=today - dt.timedelta(days=ago), amount="1000.00")
    services.reorder_expectations_compute(today=today)
    assert ReorderExpectation.objects.get(partner=partner).predicted_next_on == today - dt.timedelta(days=5)
    assert services.reorder_reminders_send(today=today) == 0  # 5 days late < 7 days grace
    assert services.reorder_reminders_send(today=today + dt.timedelta(days=2)) == 1


def test_health_task_runs_dormancy_then_health(manager):
    partner = PartnerFactory(owner=manager)
    InteractionFactory(partner=partner, occurred_at=aware(timezone.localdate()))
    result = tasks.partner_health.run()
    assert result == {"turned_dormant": 0, "scored": 1}
    assert partner.health.band in {"green", "yellow", "red"}
