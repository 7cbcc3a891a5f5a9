"""The partner cabinet home (cabinet:home): my statistics as charts (with tables and CSV), my
commit vs my pipeline, the commit entry for partner admins; partner B never sees A's numbers."""

import csv
import io
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deals import dashboard
from deals.models import PartnerCommit, SalesKind, SalesRecord
from prm.models import ExchangeRate
from tests.deals.factories import customer_data, make_deal

pytestmark = pytest.mark.django_db

HOME = "cabinet:home"
A_VALUE = "1234567.00"


def _customer():
    letters = "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:14]).capitalize()
    tax = f"{uuid.uuid4().int % 10**10:010d}"
    return customer_data(name=letters, website=f"https://{uuid.uuid4().hex[:10]}.example", tax_id=tax)


def _chart(response, key):
    return next(c for c in response.context["charts"] if c.key == key)


def _csv(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def _this_quarter():
    return dashboard.quarter_of(timezone.localdate())


@pytest.fixture
def a_numbers(partner_a, partner_admin):
    """Partner A: a submitted registration, revenue this month and a commit this quarter."""
    deal = make_deal(user=partner_admin, customer=_customer(), submit=True, value=A_VALUE)
    SalesRecord.objects.create(
        partner=partner_a, kind=SalesKind.SELL_IN, occurred_on=timezone.localdate(), amount="765432.00", currency="RUB"
    )
    year, quarter = _this_quarter()
    PartnerCommit.objects.create(
        partner=partner_a, year=year, quarter=quarter, amount="555000.00", currency="RUB", entered_by=partner_admin
    )
    return deal


# --- access --------------------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(client):
    url = reverse(HOME)
    response = client.get(url)
    assert response.status_code == 302 and response.url == f"{reverse('login')}?next={url}"
    response = client.post(reverse("cabinet:commit_set"), {"period": "2030-1", "amount": "1", "currency": "RUB"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not PartnerCommit.objects.exists()


def test_staff_get_404_on_the_cabinet_home(manager_client):
    assert manager_client.get(reverse(HOME)).status_code == 404


def test_home_shows_my_charts_tables_and_csv_links(partner_admin_client, a_numbers):
    response = partner_admin_client.get(reverse(HOME))
    assert response.status_code == 200
    content = response.content.decode()
    for key in ("my_registrations", "my_win_rate", "my_revenue", "my_commit"):
        assert f'data-testid="chart-{key}"' in content
        assert f'id="chart-data-{key}"' in content
        assert f"export={key}" in content
    assert "vendor/chartjs/chart.umd.min.js" in content
    registrations = _chart(response, "my_registrations")
    assert registrations.datasets[0].data[-1] == 1  # this month's registration
    assert _chart(response, "my_revenue").datasets[0].data[-1] == Decimal("765432.00")
    # The open registrations card (deals app fragment) stays on the page.
    assert reverse("cabinet:deal_home_card") in content


def test_home_shows_my_commit_beside_my_pipeline(partner_admin_client, a_numbers):
    response = partner_admin_client.get(reverse(HOME))
    content = response.content.decode()
    first = response.context["quarters"][0]
    assert (first["year"], first["quarter"]) == _this_quarter()
    assert first["commit_amount"] == Decimal("555000.00")
    assert 'data-testid="commit-table"' in content and "555,000 RUB" in content
    commit = _chart(response, "my_commit")
    assert commit.labels[0] == dashboard.quarter_label(*_this_quarter())


def test_partner_b_never_sees_a_numbers(other_partner_client, a_numbers):
    response = other_partner_client.get(reverse(HOME))
    content = response.content.decode()
    assert "Alpha Systems" not in content
    for needle in ("1,234,567", "1234567", "765,432", "765432", "555,000", "555000"):
        assert needle not in content, needle
    assert response.context["charts"]
    for chart in response.context["charts"]:
        assert not any(v for d in chart.datasets for v in d.data), chart.key
    rows = _csv(other_partner_client.get(reverse(HOME), {"export": "my_revenue"}))
    assert rows[1:]
    assert all(Decimal(r[1]) == 0 for r in rows[1:])


def test_chart_csv_export(partner_admin_client, a_numbers):
    response = partner_admin_client.get(reverse(HOME), {"export": "my_revenue"})
    assert response["Content-Type"].startswith("text/csv")
    assert "my-my_revenue.csv" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == ["Month", "Revenue"]
    assert len(rows) == 1 + 12
    assert Decimal(rows[-1][1]) == Decimal("765432.00")


def test_rep_sees_the_numbers_but_no_commit_form(partner_rep_client, a_numbers):
    content = partner_rep_client.get(reverse(HOME)).content.decode()
    assert 'data-testid="chart-my_commit"' in content
    assert 'data-testid="commit-form"' not in content


def test_home_queries_do_not_grow_with_deals(partner_admin_client, partner_admin):
    url = reverse(HOME)
    make_deal(user=partner_admin, customer=_customer(), submit=True)
    partner_admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        partner_admin_client.get(url)
    for _ in range(8):
        make_deal(user=partner_admin, customer=_customer(), submit=True)
    with CaptureQueriesContext(connection) as many:
        partner_admin_client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)


# --- commit entry --------------------------------------------------------------------------


def test_partner_admin_enters_and_changes_a_commit(partner_admin_client, partner_a):
    ExchangeRate.objects.create(currency="USD", valid_from="2020-01-01", rate="90")
    year, quarter = dashboard.shift_quarter(*_this_quarter(), 1)
    url = reverse("cabinet:commit_set")
    response = partner_admin_client.post(url, {"period": f"{year}-{quarter}", "amount": "100000", "currency": "USD"})
    assert response.status_code == 302 and response.url == reverse(HOME)
    commit = PartnerCommit.objects.get(partner=partner_a, year=year, quarter=quarter)
    assert commit.amount == Decimal("100000.00") and commit.currency == "USD"
    partner_admin_client.post(url, {"period": f"{year}-{quarter}", "amount": "120000", "currency": "USD"})
    assert PartnerCommit.objects.get(partner=partner_a).amount == Decimal("120000.00")
    content = partner_admin_client.get(reverse(HOME)).content.decode()
    assert "120,000 USD" in content
    # The chart shows it in the base currency.
    commit_chart = next(c for c in response_charts(partner_admin_client) if c.key == "my_commit")
    assert commit_chart.datasets[2].data[1] == Decimal("10800000.00")


def response_charts(client):
    return client.get(reverse(HOME)).context["charts"]


def test_commit_bad_input_is_explained_and_nothing_written(partner_admin_client):
    url = reverse("cabinet:commit_set")
    response = partner_admin_client.post(url, {"period": "2001-1", "amount": "-5", "currency": "XXX"})
    assert response.status_code == 200
    form = response.context["commit_form"]
    assert set(form.errors) == {"period", "amount", "currency"}
    assert 'data-testid="commit-form"' in response.content.decode()
    assert not PartnerCommit.objects.exists()


def test_commit_service_refusal_lands_on_the_form(partner_admin_client, monkeypatch):
    from deals.views import cabinet_home
    from prm.exceptions import ApplicationError

    def refuse(**kwargs):
        raise ApplicationError("Too late.", fields={"quarter": ["Too late for this quarter."]})

    monkeypatch.setattr(cabinet_home, "partner_commit_set", refuse)
    year, quarter = _this_quarter()
    response = partner_admin_client.post(
        reverse("cabinet:commit_set"), {"period": f"{year}-{quarter}", "amount": "1", "currency": "RUB"}
    )
    assert response.context["commit_form"].errors["period"] == ["Too late for this quarter."]
    assert not PartnerCommit.objects.exists()


def test_rep_and_staff_cannot_enter_a_commit(partner_rep_client, manager_client):
    year, quarter = _this_quarter()
    data = {"period": f"{year}-{quarter}", "amount": "1", "currency": "RUB"}
    assert partner_rep_client.post(reverse("cabinet:commit_set"), data).status_code == 404
    assert manager_client.post(reverse("cabinet:commit_set"), data).status_code == 404
    assert not PartnerCommit.objects.exists()


def test_commit_goes_to_my_own_partner_only(other_partner_client, partner_a, partner_b):
    year, quarter = _this_quarter()
    data = {"period": f"{year}-{quarter}", "amount": "42", "currency": "RUB", "partner": str(partner_a.public_id)}
    other_partner_client.post(reverse("cabinet:commit_set"), data)
    assert list(PartnerCommit.objects.values_list("partner_id", flat=True)) == [partner_b.pk]
