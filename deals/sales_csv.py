"""Reading a sales CSV upload into rows for `services.sales_records_import`.

Accepts what spreadsheets export: UTF-8 with or without a BOM, `,` or `;` as the separator,
header names in any case (a few aliases understood). Only the shape is checked here; the
service validates every value."""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

from deals.services.sales import IMPORT_COLUMNS
from prm.exceptions import ApplicationError

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
_ALIASES = {
    "occurred_on": "date",
    "invoice": "reference",
    "ref": "reference",
    "qty": "quantity",
    "product": "sku",
    "type": "kind",
    "comment": "note",
}
REQUIRED = ("date", "reference", "amount", "currency")


def parse_sales_csv(data: bytes, *, need_partner: bool) -> list[dict]:
    if len(data) > MAX_BYTES:
        raise ApplicationError(_("The file is larger than 5 MB; split it."), fields={"file": [_("Too large.")]})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApplicationError(
            _("Save the file as UTF-8 CSV (in Excel: “CSV UTF-8”)."), fields={"file": [_("Not UTF-8.")]}
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ApplicationError(_("The file is empty."), fields={"file": [_("Empty file.")]}) from None
    names = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    required = (*REQUIRED, "partner") if need_partner else REQUIRED
    missing = [c for c in required if c not in names]
    if missing:
        raise ApplicationError(
            _("The header lacks these columns: %(columns)s. Download the template to see the layout.")
            % {"columns": ", ".join(missing)},
            fields={"file": [_("Missing columns.")]},
        )
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue  # blank lines at the end of spreadsheet exports
        rows.append(
            {name: (values[i] if i < len(values) else "") for i, name in enumerate(names) if name in IMPORT_COLUMNS}
        )
        if len(rows) > MAX_ROWS:
            raise ApplicationError(
                _("At most %(n)s lines per file; split it.") % {"n": MAX_ROWS}, fields={"file": [_("Too many lines.")]}
            )
    if not rows:
        raise ApplicationError(_("The file has no data lines."), fields={"file": [_("No lines to import.")]})
    return rows


def template_rows(*, with_partner: bool) -> list[list[str]]:
    columns = [c for c in IMPORT_COLUMNS if with_partner or c != "partner"]
    example = {
        "partner": "7707083893",
        "kind": "sell_in" if with_partner else "sell_out",
        "date": "2026-01-31",
        "reference": "INV-2026-0001",
        "sku": "",
        "quantity": "10",
        "amount": "125000.00",
        "currency": "RUB",
        "note": "",
    }
    return [columns, [example[c] for c in columns]]
