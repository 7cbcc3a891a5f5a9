"""CSV import of leads: parsing and validation (preview rows with per-row errors, nothing
written), encodings and delimiters, and the all-or-nothing import task."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deals import lead_import
from deals.models import Lead, LeadImport, LeadImportStatus, LeadSource
from tests.deals.factories import ProductLineFactory

pytestmark = pytest.mark.django_db

HEADER = "customer_name,country,city,contact_email,product_line,estimated_value,currency,source"
GOOD = [
    "Romashka LLC,RU,Moscow,ivan@romashka.ru,firewalls,1500000,RUB,event",
    "Lindenbaum GmbH,DE,Berlin,,,,,",
]


@pytest.fixture
def firewalls():
    return ProductLineFactory(name="Firewalls", code="firewalls")


def _csv(*lines, header=HEADER, delimiter=","):
    text = "\n".join([header, *lines]) + "\n"
    return text.replace(",", delimiter) if delimiter != "," else text


def test_parse_valid_file_gives_clean_values_and_writes_nothing(firewalls, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):  # the product lines, once for the whole file
        parsed = lead_import.parse(_csv(*GOOD).encode())
    assert parsed.is_valid, [r.errors for r in parsed.rows]
    first, second = parsed.rows
    assert first.line == 2 and second.line == 3
    assert first.values["customer_name"] == "Romashka LLC"
    assert first.values["product_line"] == firewalls
    assert first.values["estimated_value"] == Decimal("1500000")
    assert first.values["source"] == LeadSource.EVENT
    assert second.values["product_line"] is None
    assert second.values["estimated_value"] is None
    assert second.values["source"] == LeadSource.IMPORT  # the default for imported leads
    assert Lead.objects.count() == 0


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ","), ("utf-8-sig", ","), ("utf-8", ";"), ("utf-8-sig", ";")],
)
def test_parse_accepts_bom_and_both_delimiters(firewalls, encoding, delimiter):
    lines = ["ООО «Ромашка»,RU,Москва,ivan@romashka.ru,firewalls,1500000,RUB,event", "北京科技有限公司,CN,北京,,,,,"]
    parsed = lead_import.parse(_csv(*lines, delimiter=delimiter).encode(encoding))
    assert parsed.delimiter == delimiter
    assert parsed.is_valid, [r.errors for r in parsed.rows]
    assert [r.values["customer_name"] for r in parsed.rows] == ["ООО «Ромашка»", "北京科技有限公司"]
    assert parsed.rows[0].values["city"] == "Москва"


def test_parse_semicolon_file_keeps_decimal_commas(firewalls):
    text = "customer_name;country;estimated_value;currency\nRomashka;RU;1 500 000,50;RUB\n"
    parsed = lead_import.parse(text.encode("utf-8-sig"))
    assert parsed.is_valid, [r.errors for r in parsed.rows]
    assert parsed.rows[0].values["estimated_value"] == Decimal("1500000.50")


def test_parse_reports_every_bad_row_with_its_line_and_column(firewalls):
    parsed = lead_import.parse(
        _csv(
            GOOD[0],
            ",RU,Moscow,,,,,",  # no customer
            "Acme,Russia,,,,,,",  # country not ISO-2
            "Acme,DE,,not-an-email,unknown-line,12abc,XXX,telepathy",
            "Acme,DE,,,,100,,",  # value without currency: the base currency, noted (not an error)
        ).encode()
    )
    assert not parsed.is_valid
    by_line = {r.line: r for r in parsed.rows}
    assert by_line[2].is_valid
    assert set(by_line[3].errors) == {"customer_name"}
    assert set(by_line[4].errors) == {"country"}
    assert set(by_line[5].errors) == {"contact_email", "product_line", "estimated_value", "currency", "source"}
    assert by_line[6].is_valid and set(by_line[6].notes) == {"currency"}
    assert [r.line for r in parsed.invalid_rows] == [3, 4, 5]
    with pytest.raises(ValueError):
        parsed.service_rows()


def test_parse_checks_coordinates_come_in_pairs_and_in_range():
    header = "customer_name,country,latitude,longitude"
    parsed = lead_import.parse(_csv("A,GB,51.5,", "B,GB,91,0", "C,GB,51.5,-0.12", header=header).encode())
    a, b, c = parsed.rows
    assert "longitude" in a.errors
    assert "latitude" in b.errors
    assert c.is_valid and c.values["latitude"] == Decimal("51.5")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"customer_name,country\n", "no leads"),
        (b"customer_name,city\nAcme,Berlin\n", "Required columns are missing"),
        (b"customer_name,country,colour\nAcme,DE,red\n", "Unknown columns"),
        ("customer_name,country\nРомашка,RU\n".encode("cp1251"), "not UTF-8"),
    ],
)
def test_parse_refuses_bad_files_as_a_whole(content, message):
    parsed = lead_import.parse(content)
    assert not parsed.is_valid
    assert any(message in e for e in parsed.file_errors), parsed.file_errors


def test_parse_refuses_too_many_rows(monkeypatch):
    monkeypatch.setattr(lead_import, "MAX_ROWS", 3)
    parsed = lead_import.parse(_csv(*["Acme,DE,,,,,,"] * 4).encode())
    assert not parsed.is_valid and "more than 3" in parsed.file_errors[0]


def test_template_csv_parses_without_errors(manager_client):
    response = manager_client.get(reverse("staff:lead_import_template"))
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    parsed = lead_import.parse(content)
    assert parsed.is_valid, (parsed.file_errors, [r.errors for r in parsed.rows])
    assert parsed.rows[0].values["customer_name"] == "ООО «Ромашка»"


# --- through the staff page ----------------------------------------------------------------


def _upload(client, content: bytes, name="leads.csv"):
    return client.post(reverse("staff:lead_import"), {"file": SimpleUploadedFile(name, content, "text/csv")})


def test_preview_with_errors_shows_them_and_cannot_be_confirmed(manager_client, firewalls):
    response = _upload(manager_client, _csv(GOOD[0], ",RU,,,,,,").encode())
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="lead-import-row-errors"' in html
    assert "This field is required." in html
    assert 'data-testid="lead-import-confirm"' not in html
    # A forged confirm without a valid preview in the session does nothing.
    response = manager_client.post(reverse("staff:lead_import"), {"action": "confirm", "token": "forged"})
    assert response.status_code == 302
    assert LeadImport.objects.count() == 0
    assert Lead.objects.count() == 0


def test_preview_of_a_valid_file_writes_nothing_and_offers_confirm(manager_client, firewalls):
    response = _upload(manager_client, _csv(*GOOD).encode("utf-8-sig"))
    assert response.status_code == 200
    assert 'data-testid="lead-import-confirm"' in response.content.decode()
    assert LeadImport.objects.count() == 0
    assert Lead.objects.count() == 0


def test_import_page_refuses_partner_users_and_anonymous(client, partner_admin_client):
    url = reverse("staff:lead_import")
    assert partner_admin_client.get(url).status_code == 404
    assert partner_admin_client.post(url, {"action": "confirm", "token": "x"}).status_code == 404
    response = client.get(url)
    assert response.status_code == 302 and reverse("login") in response.url
    assert client.get(reverse("staff:lead_import_template")).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_import_progress_is_visible_outside_the_import_transaction(manager, monkeypatch):
    """The page polling for progress uses another connection: it must see the count grow while
    the import's own transaction is still open (and nothing imported until it commits)."""
    from django.db import connections

    job = LeadImport.objects.create(created_by=manager, file_name="big.csv", total=120)
    seen = []
    publish = lead_import.ProgressWriter.__call__

    def publish_and_look(self, done, total=None):
        publish(self, done, total)
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT processed FROM deals_leadimport WHERE id = %s", [job.pk])
                processed = cursor.fetchone()[0]
                cursor.execute("SELECT count(*) FROM deals_lead")
                seen.append((processed, cursor.fetchone()[0]))
        finally:
            other.close()

    monkeypatch.setattr(lead_import.ProgressWriter, "__call__", publish_and_look)
    text = "customer_name,country\n" + "".join(f"Customer {i},RU\n" for i in range(120))
    assert lead_import.lead_import_run(job.pk, text) == "done"
    assert seen == [(50, 0), (100, 0), (120, 0)]
    job.refresh_from_db()
    assert (job.status, job.processed, job.created_count) == (LeadImportStatus.DONE, 120, 120)
    assert lead_import.progress_of(job) == (120, 120)
