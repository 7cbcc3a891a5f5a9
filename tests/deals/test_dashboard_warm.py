"""The beat task that keeps the staff dashboard's chart numbers warm: for each staff user who
looked at the dashboard lately (within DASHBOARD_CACHE_SECONDS) it recomputes the default
dashboard (no filters) of their scope, in their language, so their page views read numbers a
worker computed. Only recent viewers (every staff scope is not cheap); shared scopes are
computed once; with the cache off it does nothing."""

from unittest import mock

import pytest
from django.urls import reverse

from deals import dashboard, tasks
from prm.celery import app
from prm.models import Role
from tests.deals.dashboard_factories import deal_row
from tests.factories import PartnerFactory, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db

COMPUTES = (
    "_pipeline_by_stage",
    "_pipeline_by_quarter",
    "_revenue_by_tier_by_month",
    "_revenue_concentration",
    "_active_dormant_by_month",
)


@pytest.fixture
def cache_on(settings):
    settings.PRM = {**settings.PRM, "DASHBOARD_CACHE_SECONDS": 300}


def _no_computing():
    """Every chart selector's computation fails: whatever is shown must come from the cache."""
    stack = [mock.patch(f"deals.dashboard.{name}", side_effect=AssertionError(name)) for name in COMPUTES]
    for patcher in stack:
        patcher.start()
    return stack


def test_warm_then_the_dashboard_page_computes_nothing(cache_on, manager, partner_a, manager_client):
    deal_row(partner_a, value="1000.00")
    dashboard.dashboard_viewed(user=manager)
    assert tasks.dashboard_cache_warm() == 1
    patches = _no_computing()
    try:
        response = manager_client.get(reverse("staff:home"))
    finally:
        for patcher in patches:
            patcher.stop()
    assert response.status_code == 200


def test_the_page_view_marks_its_viewer_and_warm_refreshes_their_numbers(cache_on, manager, partner_a, manager_client):
    assert tasks.dashboard_cache_warm() == 0  # nobody looked
    manager_client.get(reverse("staff:home"))  # numbers cached, the manager marked as a viewer
    mine = dashboard.dashboard_partners(user=manager)
    before = {r["stage"]: r["count"] for r in dashboard.pipeline_by_stage(partners=mine)}
    deal_row(partner_a, value="1.00", stage="commit", probability=90)
    assert {r["stage"]: r["count"] for r in dashboard.pipeline_by_stage(partners=mine)} == before  # still cached
    assert tasks.dashboard_cache_warm() == 1
    after = {r["stage"]: r["count"] for r in dashboard.pipeline_by_stage(partners=mine)}
    assert after["commit"] == before["commit"] + 1


def test_warm_computes_each_scope_and_language_once_and_only_for_viewers(cache_on, manager, partner_a):
    PartnerFactory(owner=manager)
    admins = [
        # Two administrators share one scope (every partner) and language: computed once…
        UserFactory(role=Role.ADMINISTRATOR, email="a1@example.test", language="en"),
        UserFactory(role=Role.ADMINISTRATOR, email="a2@example.test", language="en"),
        # …in Russian the same scope again (the labels differ).
        UserFactory(role=Role.ADMINISTRATOR, email="a3@example.test", language="ru"),
    ]
    gone = StaffUserFactory(role=Role.CHANNEL_MANAGER, email="gone@example.test", is_active=False)
    StaffUserFactory(role=Role.CHANNEL_MANAGER, email="away@example.test")  # did not look: not warmed
    for user in (manager, *admins, gone):
        dashboard.dashboard_viewed(user=user)
    assert tasks.dashboard_cache_warm() == 3  # the manager's scope, all partners in en, in ru


def test_warm_does_nothing_with_the_cache_off(settings, manager, manager_client):
    settings.PRM = {**settings.PRM, "DASHBOARD_CACHE_SECONDS": 0}
    manager_client.get(reverse("staff:home"))
    dashboard.dashboard_viewed(user=manager)
    with mock.patch("deals.dashboard._pipeline_by_stage", side_effect=AssertionError("computed")):
        assert tasks.dashboard_cache_warm() == 0


def test_warm_is_on_the_beat_schedule_more_often_than_the_numbers_expire(settings):
    entry = app.conf.beat_schedule["deals-dashboard-cache-warm"]
    assert entry["task"] == "deals.tasks.dashboard_cache_warm"
    assert entry["schedule"].total_seconds() < 300  # PRM_DASHBOARD_CACHE_SECONDS default
