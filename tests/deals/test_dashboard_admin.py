"""Admin pages of the forecast and health models: targets editable (audited), the computed
rows read-only, changelists without N+1."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deals.models import ForecastRun, ForecastSnapshot, PartnerCommit, PartnerHealth, ReorderExpectation, Target
from prm.models import AuditLog, Role
from tests.factories import PartnerFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

# Registered in deals/admin.py; tests/deals/test_admin.py counts them among the deals admin pages.
FORECAST_ADMIN_MODELS = [Target, PartnerCommit, ForecastRun, ForecastSnapshot, PartnerHealth, ReorderExpectation]
READ_ONLY = {PartnerCommit, ForecastRun, ForecastSnapshot, PartnerHealth, ReorderExpectation}


def _url(model, view, *args):
    return reverse(f"admin:deals_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


_day = iter(range(1, 10_000))


def make_rows(n):
    today = timezone.localdate()
    for _ in range(n):
        i = next(_day)
        partner = PartnerFactory()
        Target.objects.create(manager=partner.owner, year=2020 + i % 10, quarter=1 + i % 4, amount=100)
        PartnerCommit.objects.create(partner=partner, year=2030, quarter=1, amount=5, currency="RUB")
        run = ForecastRun.objects.create(as_of=today - dt.timedelta(days=i), started_at=timezone.now())
        ForecastSnapshot.objects.create(
            run=run, as_of=run.as_of, partner=partner, year=2030, quarter=1, method="seasonal_naive",
            error_metric="wape",
        )  # fmt: skip
        PartnerHealth.objects.create(partner=partner, score=90, band="green", breakdown={}, computed_at=timezone.now())
        ReorderExpectation.objects.create(
            partner=partner, orders_counted=3, typical_interval_days=30, last_order_on=today,
            predicted_next_on=today + dt.timedelta(days=30), computed_at=timezone.now(),
        )  # fmt: skip


@pytest.mark.parametrize("model", FORECAST_ADMIN_MODELS, ids=lambda m: m.__name__)
def test_changelist_and_change_pages_load_without_n_plus_1(admin_client, model):
    url = _url(model, "changelist")
    make_rows(3)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    make_rows(10)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)
    assert len(response.context["cl"].result_list) >= 13
    assert len(many) == len(few)
    obj = model.objects.order_by("-pk").first()
    page = admin_client.get(_url(model, "change", obj.pk))
    assert page.status_code == 200
    if model in READ_ONLY:
        assert b'name="_save"' not in page.content
        assert admin_client.post(_url(model, "change", obj.pk), {}).status_code == 403
        assert admin_client.get(_url(model, "add")).status_code == 403


def test_target_added_in_admin_is_audited(admin_client):
    manager = StaffUserFactory(role=Role.CHANNEL_MANAGER)
    response = admin_client.post(
        _url(Target, "add"), {"manager": manager.pk, "year": 2027, "quarter": 2, "amount": "1500000.00"}
    )
    assert response.status_code == 302, response.content
    target = Target.objects.get()
    assert (target.manager, target.amount) == (manager, 1500000)
    assert AuditLog.objects.filter(object_type="deals.target", object_id=str(target.pk)).exists()


def test_target_quarter_out_of_range_is_refused(admin_client):
    manager = StaffUserFactory(role=Role.CHANNEL_MANAGER)
    response = admin_client.post(
        _url(Target, "add"), {"manager": manager.pk, "year": 2027, "quarter": 5, "amount": "1"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert not Target.objects.exists()
