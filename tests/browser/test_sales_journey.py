"""End to end in Chromium: a manager imports a sales CSV (preview, then confirm) and sees the
partner's monthly chart on the partner page; a partner admin reports a sell-out in the cabinet."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from deals.models import SalesRecord

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base_url, email, password, next_path):
    page.goto(f"{base_url}{reverse('login')}?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"{base_url}{next_path}")


def test_manager_imports_sales_and_sees_the_chart(live_server, new_page, manager, partner_a, password, tmp_path):
    today = timezone.localdate()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=10)
    csv_file = tmp_path / "sales.csv"
    csv_file.write_bytes(
        (
            "\ufeffpartner;kind;date;reference;sku;quantity;amount;currency;note\n"
            f"{partner_a.name};sell_in;{last_month.isoformat()};BR-1;;3;150000,00;RUB;\n"
            f"{partner_a.name};sell_in;{today.isoformat()};BR-2;;1;50000;RUB;\n"
        ).encode()
    )
    page = new_page()
    _log_in(page, live_server.url, manager.email, password, reverse("staff:sales_import"))
    page.set_input_files("input[name=file]", str(csv_file))
    page.get_by_test_id("import-upload").click()
    assert page.get_by_test_id("import-ok").is_visible()
    assert page.get_by_test_id("import-row").count() == 2
    assert SalesRecord.objects.count() == 0  # a preview writes nothing
    page.get_by_test_id("import-confirm").click()
    page.wait_for_url(f"{live_server.url}{reverse('staff:sales_list')}")
    assert page.get_by_test_id("sales-row").count() == 2
    assert "200" in page.get_by_test_id("total-sell-in").inner_text().replace("\u00a0", "").replace(",", "")

    page.goto(f"{live_server.url}{reverse('staff:partner_detail', args=[partner_a.public_id])}")
    page.get_by_test_id("tab-sales").click()
    chart = page.get_by_test_id("partner-sales-chart")
    chart.wait_for(state="visible")
    # Chart.js marks the canvas it draws on; wait until it has.
    page.wait_for_function(
        "() => { const c = document.querySelector('[data-testid=partner-sales-chart]');"
        " return window.Chart && c && window.Chart.getChart(c) !== undefined; }"
    )
    labels = page.evaluate(
        "() => window.Chart.getChart(document.querySelector('[data-testid=partner-sales-chart]')).data.labels"
    )
    assert labels[-1] == today.strftime("%Y-%m") and len(labels) == 24
    values = page.evaluate(
        "() => window.Chart.getChart(document.querySelector('[data-testid=partner-sales-chart]')).data.datasets[0].data"
    )
    assert values[-2:] == [150000, 50000]
    assert page.get_by_test_id("partner-sales").get_by_text("BR-1").is_visible()


def test_partner_admin_reports_a_sell_out(live_server, new_page, partner_admin, partner_a, password):
    page = new_page()
    _log_in(page, live_server.url, partner_admin.email, password, reverse("cabinet:sales_list"))
    form = page.get_by_test_id("sellout-form")
    form.locator("[name=occurred_on]").fill(timezone.localdate().isoformat())
    form.locator("[name=reference]").fill("SO-77")
    form.locator("[name=quantity]").fill("2")
    form.locator("[name=amount]").fill("4200.50")
    form.locator("[name=currency]").select_option("RUB")
    page.get_by_test_id("sellout-submit").click()
    page.wait_for_url(f"{live_server.url}{reverse('cabinet:sales_list')}")
    row = page.locator("[data-testid=sales-row][data-reference='SO-77']")
    assert row.is_visible() and "4,200.50" in row.inner_text()
    record = SalesRecord.objects.get()
    assert (record.partner, record.kind, record.entered_by) == (partner_a, "sell_out", partner_admin)
    page.wait_for_function("() => window.Chart !== undefined")
