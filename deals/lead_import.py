"""Lead import from CSV: parse and validate a file into preview rows with per-row errors, then
(after the manager confirms) create every lead in one transaction from a Celery task.

Nothing is written while previewing. A file with any invalid row cannot be confirmed, and the
import itself is all or nothing (`leads_create_bulk` runs in one transaction), so a file is never
half-imported. Progress is kept in the cache (the import transaction cannot show its own
progress to other connections); the `LeadImport` row carries the status, which is written
outside that transaction.

Accepted files: UTF-8 with or without a byte-order mark (what Excel writes), `;` or `,` as the
delimiter (Excel in Russian and most of Europe writes `;`), a header row naming the columns in
any order (see COLUMNS; the template CSV lists them).

An empty or missing currency means the base currency (PRM["BASE_CURRENCY"]), as for a lead
created by hand or through the API (`lead_create`); the preview notes it on each row that has
a value but no currency.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from celery import shared_task
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deals.models import LEAD_INPUT_MAX_LENGTHS
from partners.models import Region
from prm.models import Currency
from prm.money import base_currency

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
PROGRESS_TTL_SECONDS = 24 * 3600

# Column → (label for the template and the preview, required). Order = the template's order.
COLUMNS: dict[str, tuple] = {
    "customer_name": (gettext_lazy("Customer"), True),
    "customer_website": (gettext_lazy("Customer website"), False),
    "customer_tax_id": (gettext_lazy("Customer tax id"), False),
    "country": (gettext_lazy("Country (ISO-2)"), True),
    "region": (gettext_lazy("Region"), False),
    "city": (gettext_lazy("City"), False),
    "latitude": (gettext_lazy("Latitude"), False),
    "longitude": (gettext_lazy("Longitude"), False),
    "contact_name": (gettext_lazy("Contact name"), False),
    "contact_email": (gettext_lazy("Contact e-mail"), False),
    "contact_phone": (gettext_lazy("Contact phone"), False),
    "product_line": (gettext_lazy("Product line (code or name)"), False),
    "estimated_value": (gettext_lazy("Estimated value"), False),
    "currency": (gettext_lazy("Currency"), False),
    "source": (gettext_lazy("Source"), False),
    "description": (gettext_lazy("Description"), False),
}
# The same limits lead_create holds (deals.models), shown per cell in the preview.
MAX_LENGTHS = LEAD_INPUT_MAX_LENGTHS
TEMPLATE_EXAMPLE = {
    "customer_name": "ООО «Ромашка»",
    "customer_website": "https://www.romashka.ru",
    "customer_tax_id": "7707083893",
    "country": "RU",
    "region": "russia",
    "city": "Moscow",
    "latitude": "55.7558",
    "longitude": "37.6173",
    "contact_name": "Ivan Petrov",
    "contact_email": "ivan.petrov@romashka.ru",
    "contact_phone": "+7 495 000-00-00",
    "product_line": "",
    "estimated_value": "1500000",
    "currency": "RUB",
    "source": "event",
    "description": "Met at the Moscow security forum; wants a pilot in Q3.",
}


@dataclass
class PreviewRow:
    line: int  # the line in the file (the header is line 1), so a person can find it
    raw: dict[str, str]
    values: dict = field(default_factory=dict)  # cleaned, for the service
    errors: dict[str, list[str]] = field(default_factory=dict)  # column → messages
    notes: dict[str, list[str]] = field(default_factory=dict)  # column → what was assumed (not errors)

    @property
    def is_valid(self) -> bool:
        return not self.errors

    def error_list(self) -> list[str]:
        return [f"{_column_label(col)}: {msg}" if col else msg for col, msgs in self.errors.items() for msg in msgs]

    def note_list(self) -> list[str]:
        return [f"{_column_label(col)}: {msg}" for col, msgs in self.notes.items() for msg in msgs]

    def add(self, column: str, message: str) -> None:
        self.errors.setdefault(column, []).append(str(message))

    def note(self, column: str, message: str) -> None:
        self.notes.setdefault(column, []).append(str(message))


@dataclass
class ParsedFile:
    rows: list[PreviewRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    delimiter: str = ","

    @property
    def invalid_rows(self) -> list[PreviewRow]:
        return [r for r in self.rows if not r.is_valid]

    @property
    def is_valid(self) -> bool:
        return not self.file_errors and bool(self.rows) and not self.invalid_rows

    def service_rows(self) -> list[dict]:
        """The cleaned rows as keyword arguments of lead_create (only for a valid file)."""
        if not self.is_valid:
            raise ValueError("An invalid file cannot be imported.")
        return [dict(r.values) for r in self.rows]


def _column_label(column: str) -> str:
    return str(COLUMNS[column][0]) if column in COLUMNS else column


def template_rows() -> list[list[str]]:
    """The downloadable template: the header and one example row."""
    return [list(COLUMNS), [TEMPLATE_EXAMPLE[c] for c in COLUMNS]]


# --- reading the file ----------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8, with or without a BOM; anything else is refused with a message people can act on."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(_("The file is not UTF-8 text. In Excel use “Save as → CSV UTF-8”.")) from exc


def sniff_delimiter(text: str) -> str:
    """`;` or `,`, whichever the header line uses more (outside quotes it is the only signal)."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def _header_key(name: str) -> str:
    return "_".join((name or "").strip().lower().replace("-", " ").split())


def parse(data: bytes | str, *, file_name: str = "") -> ParsedFile:
    """Parse and validate the whole file; never writes. Per-row errors go on each row, problems
    with the file as a whole on `file_errors`."""
    result = ParsedFile()
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            result.file_errors.append(
                _("The file is larger than %(mb)s MB. Split it into smaller files.") % {"mb": MAX_FILE_BYTES // 2**20}
            )
            return result
        try:
            text = decode(data)
        except ValueError as exc:
            result.file_errors.append(str(exc))
            return result
    else:
        text = data.removeprefix("\ufeff")
    if not text.strip():
        result.file_errors.append(_("The file is empty."))
        return result
    result.delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=result.delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        result.file_errors.append(_("The file has no header row."))
        return result
    keys = [_header_key(h) for h in header]
    unknown = [h for h, k in zip(header, keys, strict=True) if k and k not in COLUMNS]
    if unknown:
        result.file_errors.append(
            _("Unknown columns: %(columns)s. Use the template's column names.") % {"columns": ", ".join(unknown)}
        )
    duplicates = sorted({k for k in keys if k and keys.count(k) > 1})
    if duplicates:
        result.file_errors.append(_("Columns appear twice: %(columns)s.") % {"columns": ", ".join(duplicates)})
    missing = [c for c, (_label, required) in COLUMNS.items() if required and c not in keys]
    if missing:
        result.file_errors.append(_("Required columns are missing: %(columns)s.") % {"columns": ", ".join(missing)})
    result.columns = [k for k in keys if k in COLUMNS]
    if result.file_errors:
        return result

    lines = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue  # blank lines (Excel leaves them at the end)
            lines.append((reader.line_num, record))
            if len(lines) > MAX_ROWS:
                result.file_errors.append(
                    _("The file has more than %(n)s leads. Split it into smaller files.") % {"n": MAX_ROWS}
                )
                return result
    except csv.Error as exc:
        result.file_errors.append(
            _("The file is not valid CSV near line %(line)s: %(error)s")
            % {
                "line": reader.line_num,
                "error": exc,
            }
        )
        return result
    if not lines:
        result.file_errors.append(_("The file has a header but no leads."))
        return result

    product_lines = _product_lines()
    for line, record in lines:
        raw = {}
        row = PreviewRow(line=line, raw=raw)
        if len(record) > len(keys) and any(c.strip() for c in record[len(keys) :]):
            row.add("", _("This line has more cells than the header."))
        for key, cell in zip(keys, record, strict=False):
            if key in COLUMNS:
                raw[key] = cell.strip()
        _validate_row(row, product_lines)
        result.rows.append(row)
    return result


# --- validating one row --------------------------------------------------------------------


def _product_lines() -> dict[str, object]:
    """Active product lines by lower-cased code and name: one query for the whole file."""
    from deals.models import ProductLine

    found = {}
    for line in ProductLine.objects.filter(is_active=True).annotate(lname=Lower("name"), lcode=Lower("code")):
        found[line.lcode] = line
        found.setdefault(line.lname, line)
    return found


def _region_lookup() -> dict[str, str]:
    lookup = {}
    for value, label in Region.choices:
        lookup[value.lower()] = value
        lookup[str(label).lower()] = value
    return lookup


def _source_choices():
    from deals.models import LeadSource

    return LeadSource


def _decimal(row: PreviewRow, column: str, text: str) -> Decimal | None:
    if not text:
        return None
    cleaned = text.replace("\u00a0", "").replace(" ", "")
    # "1 500 000,50" (Russian Excel) and "1,500,000.50" both mean the same number.
    if "," in cleaned and "." in cleaned:
        cleaned = cleaned.replace(",", "")
    elif "," in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        row.add(column, _("“%(value)s” is not a number.") % {"value": text})
        return None
    if not value.is_finite():
        row.add(column, _("“%(value)s” is not a number.") % {"value": text})
        return None
    return value


def _validate_row(row: PreviewRow, product_lines: dict) -> None:
    raw, values = row.raw, row.values
    for column, limit in MAX_LENGTHS.items():
        if len(raw.get(column, "")) > limit:
            row.add(column, _("At most %(n)s characters.") % {"n": limit})

    name = raw.get("customer_name", "")
    if not name:
        row.add("customer_name", _("This field is required."))
    values["customer_name"] = name
    values["customer_website"] = raw.get("customer_website", "")
    tax_id = raw.get("customer_tax_id", "")
    if tax_id and not any(ch.isdigit() for ch in tax_id):
        row.add("customer_tax_id", _("A tax id must contain digits."))
    values["customer_tax_id"] = tax_id

    country = raw.get("country", "").upper()
    if not country:
        row.add("country", _("This field is required."))
    elif len(country) != 2 or not country.isascii() or not country.isalpha():
        row.add("country", _("Use the two-letter country code, e.g. RU or DE."))
    values["country"] = country

    region = raw.get("region", "")
    if region:
        code = _region_lookup().get(region.lower())
        if code is None:
            row.add("region", _("Unknown region “%(value)s”.") % {"value": region})
        values["region"] = code or ""
    values["city"] = raw.get("city", "")

    lat = _decimal(row, "latitude", raw.get("latitude", ""))
    lon = _decimal(row, "longitude", raw.get("longitude", ""))
    if lat is not None and not (-90 <= lat <= 90):
        row.add("latitude", _("Latitude is between -90 and 90."))
    if lon is not None and not (-180 <= lon <= 180):
        row.add("longitude", _("Longitude is between -180 and 180."))
    if (lat is None) != (lon is None) and "latitude" not in row.errors and "longitude" not in row.errors:
        row.add("latitude" if lat is None else "longitude", _("Give both coordinates or neither."))
    values["latitude"], values["longitude"] = lat, lon

    values["contact_name"] = raw.get("contact_name", "")
    email = raw.get("contact_email", "")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            row.add("contact_email", _("Enter a valid e-mail address."))
    values["contact_email"] = email.lower()
    values["contact_phone"] = raw.get("contact_phone", "")

    line_text = raw.get("product_line", "")
    values["product_line"] = None
    if line_text:
        line = product_lines.get(line_text.lower())
        if line is None:
            row.add("product_line", _("No active product line “%(value)s”.") % {"value": line_text})
        values["product_line"] = line

    value = _decimal(row, "estimated_value", raw.get("estimated_value", ""))
    if value is not None and value < 0:
        row.add("estimated_value", _("The value cannot be negative."))
    elif value is not None and abs(value.as_tuple().exponent) > 2 and value != value.quantize(Decimal("0.01")):
        row.add("estimated_value", _("At most two decimal places."))
    currency = raw.get("currency", "").upper()
    if currency and currency not in Currency.values:
        row.add(
            "currency",
            _("Unknown currency “%(value)s”; use one of %(codes)s.")
            % {
                "value": currency,
                "codes": ", ".join(Currency.values),
            },
        )
    if not currency:
        # As lead_create does: no currency means the base currency.
        currency = base_currency()
        if value is not None:
            row.note("currency", _("none given: %(code)s, the base currency, is assumed.") % {"code": currency})
    values["estimated_value"] = value
    values["currency"] = currency

    LeadSource = _source_choices()
    source = raw.get("source", "").lower()
    if source and source not in LeadSource.values:
        by_label = {str(label).lower(): v for v, label in LeadSource.choices}
        if source in by_label:
            source = by_label[source]
        else:
            row.add("source", _("Unknown source; use one of %(codes)s.") % {"codes": ", ".join(LeadSource.values)})
    values["source"] = source or LeadSource.IMPORT
    values["description"] = raw.get("description", "")


# --- running the confirmed import ----------------------------------------------------------


def progress_key(import_id: int) -> str:
    return f"lead-import:{import_id}:progress"


def progress_of(lead_import) -> tuple[int, int]:
    """(processed, total): while the import runs, the larger of the row's count (written by a
    side connection) and the cache's; once finished, the row's."""
    from deals.models import LeadImportStatus

    total = lead_import.total or 0
    if lead_import.status in (LeadImportStatus.DONE, LeadImportStatus.FAILED):
        return (lead_import.processed or total if lead_import.status == LeadImportStatus.DONE else 0), total
    processed = max(int(cache.get(progress_key(lead_import.pk)) or 0), lead_import.processed or 0)
    return min(processed, total), total


class ProgressWriter:
    """Publishes an import's progress while its transaction is still open.

    Writes inside the import transaction are invisible to the page polling for progress, so
    the count goes to the cache and, through a separate autocommit connection of its own, to
    the LeadImport row (`processed`; a non-key column, so it does not wait for the import's
    key-share locks on that row). A failure to publish never fails the import.
    """

    # Never wait long for the row: should the import transaction ever hold a write lock on it,
    # the import itself would be waiting on us.
    LOCK_TIMEOUT = "2s"

    def __init__(self, import_id: int):
        self.import_id = import_id
        self.connection = None
        self.disabled = False

    def __call__(self, done: int, total: int | None = None) -> None:
        from deals.models import LeadImport, LeadImportStatus

        cache.set(progress_key(self.import_id), done, PROGRESS_TTL_SECONDS)
        if self.disabled:
            return
        try:
            if self.connection is None:
                self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
                with self.connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = %s", [self.LOCK_TIMEOUT])
            with self.connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {LeadImport._meta.db_table} SET processed = LEAST(%s, total) "  # noqa: S608 - table name from the model
                    "WHERE id = %s AND status = %s",
                    [done, self.import_id, LeadImportStatus.RUNNING.value],
                )
        except DatabaseError:
            self.disabled = True  # the cache still carries the count
            logger.warning("Could not publish the progress of lead import %s", self.import_id, exc_info=True)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def lead_import_start(*, actor, file_name: str, text: str, parsed: ParsedFile):
    """Record a confirmed import (status pending) and queue the task once the row is committed."""
    from deals.models import LeadImport

    if not parsed.is_valid:
        raise ValueError("An invalid file cannot be imported.")
    with transaction.atomic():
        lead_import = LeadImport.objects.create(created_by=actor, file_name=file_name[:255], total=len(parsed.rows))
        # The task re-parses the same text (it validates again: the catalogue may have changed).
        transaction.on_commit(lambda: lead_import_run.delay(lead_import.pk, text))
    return lead_import


@shared_task(acks_late=True, max_retries=0, time_limit=1800, soft_time_limit=1740)
def lead_import_run(import_id: int, text: str) -> str:
    """Create every lead of a confirmed import in one transaction. Safe to run twice: the
    import is claimed with a conditional UPDATE (pending → running), so a second run finds
    nothing to do."""
    from deals import services
    from deals.models import LeadImport, LeadImportStatus
    from prm.exceptions import ApplicationError

    claimed = LeadImport.objects.filter(pk=import_id, status=LeadImportStatus.PENDING).update(
        status=LeadImportStatus.RUNNING, updated_at=timezone.now()
    )
    if not claimed:
        return "skipped"
    lead_import = LeadImport.objects.select_related("created_by").get(pk=import_id)
    key = progress_key(import_id)
    cache.set(key, 0, PROGRESS_TTL_SECONDS)
    progress = ProgressWriter(import_id)

    parsed = parse(text)
    errors: list = []
    created = []
    if not parsed.is_valid:
        errors = parsed.file_errors + [
            _("Line %(line)s: %(errors)s") % {"line": r.line, "errors": "; ".join(r.error_list())}
            for r in parsed.invalid_rows
        ]
    else:
        try:
            created = services.leads_create_bulk(
                actor=lead_import.created_by, rows=parsed.service_rows(), lead_import=lead_import, progress=progress
            )
        except ApplicationError as exc:
            errors = [str(exc.message)]
            for key, messages in (exc.fields or {}).items():
                # The service numbers rows from 1 ("row 3"); people look for the file's line.
                label = key
                if key.startswith("row ") and key[4:].isdigit() and 0 < int(key[4:]) <= len(parsed.rows):
                    label = _("Line %(line)s") % {"line": parsed.rows[int(key[4:]) - 1].line}
                text = "; ".join(str(m) for m in messages) if isinstance(messages, list | tuple) else str(messages)
                errors.append(f"{label}: {text}")
        except Exception:  # record the failure for the manager, then re-raise for the log
            LeadImport.objects.filter(pk=import_id).update(
                status=LeadImportStatus.FAILED,
                errors=[_("The import failed unexpectedly; nothing was imported.")],
                finished_at=timezone.now(),
                updated_at=timezone.now(),
            )
            raise
        finally:
            progress.close()
    now = timezone.now()
    if errors:
        LeadImport.objects.filter(pk=import_id).update(
            status=LeadImportStatus.FAILED, errors=errors, processed=0, finished_at=now, updated_at=now
        )
        return "failed"
    LeadImport.objects.filter(pk=import_id).update(
        status=LeadImportStatus.DONE,
        processed=len(created),
        created_count=len(created),
        finished_at=now,
        updated_at=now,
    )
    cache.delete(key)
    return "done"
