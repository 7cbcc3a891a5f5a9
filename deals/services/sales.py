"""Sales records: sell-in invoiced by the vendor and sell-out reported by partners.

Tiers, rebates, forecasts and reorder reminders read these facts (the programs app reconciles
from them by itself; nothing here calls it). A record is never edited: a return is a new
negative record linked to the original by its reference (`R-<original public id>-<n>`) and
note, and the database refuses a zero amount or a quantity whose sign differs from the amount.

Who may write: vendor staff record sell-in or sell-out for any partner; a partner admin
reports sell-out for its own company only; a partner rep reads.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from deals.models import DealRegistration, Product, SalesKind, SalesRecord, SalesSource
from partners.models import Partner
from prm.audit import audit_record, snapshot
from prm.events import publish_on_commit
from prm.exceptions import ApplicationError, PermissionDenied
from prm.models import Currency

MAX_AMOUNT = Decimal("99999999999999.99")  # max_digits=16, decimal_places=2
RETURN_PREFIX = "R-"
# A return's reference: RETURN_PREFIX, the original's public id (hex), its number.
_RETURN_REFERENCE = re.compile(r"^R-([0-9a-f]{32})-[0-9]+$")
# Django rebuilds `Choices.values` on every access; imports check them per line.
_KINDS = frozenset(SalesKind.values)
_CURRENCIES = frozenset(Currency.values)
_CURRENCY_LIST = ", ".join(Currency.values)

# The columns a sales CSV may carry (the template download lists them in this order).
IMPORT_COLUMNS = ("partner", "kind", "date", "reference", "sku", "quantity", "amount", "currency", "note")


# --- permissions ----------------------------------------------------------------------------


def _require_may_record(actor, partner: Partner, kind: str) -> None:
    if actor is None or not actor.is_active:
        raise PermissionDenied(_("You cannot do this."))
    if actor.is_vendor_staff:
        return
    if actor.is_partner_admin and actor.partner_id == partner.pk:
        if kind != SalesKind.SELL_OUT:
            raise PermissionDenied(_("Partners report sell-out only; sell-in is recorded by the vendor."))
        return
    raise PermissionDenied(_("Only your company's partner admin or vendor staff may record sales."))


# --- validation (shared by entry, API and import) -------------------------------------------


def _parse_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    for fmt in ("%d.%m.%Y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _parse_decimal(value) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value or "").strip().replace("\u00a0", "").replace(" ", "")
    # "1234,50" has a decimal comma; in "1,234.50" the comma separates thousands.
    text = text.replace(",", ".") if "," in text and "." not in text else text.replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _parse_int(value) -> tuple[int | None, bool]:
    """(value, ok). Empty is (None, True)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, True
    if isinstance(value, int):
        return value, True
    number = _parse_decimal(value)
    if number is None or number != number.to_integral_value():
        return None, False
    return int(number), True


def clean_sales_fields(data: dict, *, today: dt.date | None = None) -> tuple[dict, dict[str, list[str]]]:
    """Normalise one record's raw fields; returns (cleaned, errors by field).

    Rules: a known kind and currency; a date not in the future; a non-zero amount that fits;
    a whole quantity whose sign matches the amount (a return is negative in both)."""
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}

    kind = str(data.get("kind") or "").strip().lower().replace("-", "_")
    if kind not in _KINDS:
        errors["kind"] = [_("Use “sell_in” or “sell_out”.")]
    cleaned["kind"] = kind

    currency = str(data.get("currency") or "").strip().upper()
    if currency not in _CURRENCIES:
        errors["currency"] = [
            _("Unknown currency “%(value)s”; use one of %(choices)s.") % {"value": currency, "choices": _CURRENCY_LIST}
        ]
    cleaned["currency"] = currency

    occurred_on = _parse_date(data.get("occurred_on"))
    if occurred_on is None:
        errors["occurred_on"] = [_("Enter the date as YYYY-MM-DD.")]
    elif occurred_on > today:
        errors["occurred_on"] = [_("The date cannot be in the future.")]
    cleaned["occurred_on"] = occurred_on

    amount = _parse_decimal(data.get("amount"))
    if amount is None:
        errors["amount"] = [_("Enter the amount as a number.")]
    elif amount == 0:
        errors["amount"] = [_("An amount of zero records nothing; a return is a negative amount.")]
    elif abs(amount) > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        errors["amount"] = [_("Use at most 14 digits before and 2 after the decimal point.")]
    cleaned["amount"] = amount

    quantity, ok = _parse_int(data.get("quantity"))
    if not ok:
        errors["quantity"] = [_("The quantity must be a whole number.")]
    elif quantity and amount and (quantity > 0) != (amount > 0):
        errors["quantity"] = [_("A return has a negative quantity and a negative amount.")]
    elif quantity is not None and abs(quantity) > 2_000_000_000:
        errors["quantity"] = [_("The quantity is too large.")]
    cleaned["quantity"] = quantity

    reference = str(data.get("reference") or "").strip()
    if len(reference) > 64:
        errors["reference"] = [_("Use at most 64 characters.")]
    elif reference.startswith(RETURN_PREFIX) and not data.get("_is_return"):
        errors["reference"] = [_("References starting with “R-” are reserved for returns.")]
    cleaned["reference"] = reference
    cleaned["note"] = str(data.get("note") or "").strip()[:300]
    return cleaned, errors


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        message = " ".join(m for msgs in errors.values() for m in msgs)
        raise ApplicationError(message, fields=errors)


def _reference_taken(partner_id: int, kind: str, reference: str) -> bool:
    return (
        bool(reference) and SalesRecord.objects.filter(partner_id=partner_id, kind=kind, reference=reference).exists()
    )


# --- entry ----------------------------------------------------------------------------------


def sales_record_create(
    *,
    actor,
    partner: Partner,
    kind: str,
    occurred_on,
    amount,
    currency: str,
    reference: str = "",
    product: Product | None = None,
    quantity: int | None = None,
    end_customer=None,
    registration: DealRegistration | None = None,
    note: str = "",
    source: str = SalesSource.MANUAL,
) -> SalesRecord:
    """Record one sale. Staff: sell-in or sell-out for any partner; a partner admin: sell-out for
    its own company. Raises PermissionDenied, or ApplicationError with `fields` on bad input
    (unknown currency, future date, zero amount, quantity sign, reference already used)."""
    _require_may_record(actor, partner, str(kind))
    cleaned, errors = clean_sales_fields(
        {
            "kind": kind,
            "occurred_on": occurred_on,
            "amount": amount,
            "currency": currency,
            "quantity": quantity,
            "reference": reference,
            "note": note,
        }
    )
    if registration is not None and registration.partner_id != partner.pk:
        errors["registration"] = [_("This registration belongs to another partner.")]
    if product is not None and not product.is_active:
        errors["product"] = [_("This product is no longer sold.")]
    _raise_if(errors)
    with transaction.atomic():
        # One writer per partner at a time, so the reference check below cannot race.
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        if _reference_taken(partner.pk, cleaned["kind"], cleaned["reference"]):
            raise ApplicationError(
                _("A record with this reference already exists for this partner."),
                fields={"reference": [_("Already used.")]},
            )
        record = SalesRecord.objects.create(
            partner=partner,
            product=product,
            end_customer=end_customer,
            registration=registration,
            source=source,
            entered_by=actor,
            **cleaned,
        )
        audit_record(actor=actor, action="sales.create", instance=record, after=snapshot(record))
        if record.kind == SalesKind.SELL_OUT and record.amount > 0:
            publish_on_commit("sales_reported", record.pk)
    return record


def _returned_so_far(record: SalesRecord) -> tuple[Decimal, int]:
    """(amount, quantity) already returned against `record` — both zero or negative."""
    totals = SalesRecord.objects.filter(
        partner_id=record.partner_id, kind=record.kind, reference__startswith=return_reference_prefix(record)
    ).aggregate(amount=Sum("amount"), quantity=Sum("quantity"))
    return totals["amount"] or Decimal(0), totals["quantity"] or 0


def return_reference_prefix(record: SalesRecord) -> str:
    return f"{RETURN_PREFIX}{record.public_id.hex}-"


def sales_record_return(
    *, actor, record: SalesRecord, amount=None, quantity: int | None = None, reason: str
) -> SalesRecord:
    """Record a return against `record`: a new negative record whose reference is
    `R-<original public id>-<n>` and whose note names the original and the reason.

    `amount` and `quantity` are what comes back (positive numbers; a negative sign is accepted).
    With neither, everything not yet returned comes back; with a quantity only, the amount is
    pro rata. What comes back never exceeds the original's net (amount and quantity)."""
    _require_may_record(actor, record.partner, record.kind)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the sale is returned."), fields={"reason": [_("This field is required.")]})
    with transaction.atomic():
        # Lock the original: two returns at once must not both see the same net.
        original = SalesRecord.objects.select_for_update().select_related("partner").get(pk=record.pk)
        if original.amount <= 0:
            raise ApplicationError(_("A return cannot itself be returned."), fields={"amount": [_("Not a sale.")]})
        returned_amount, returned_qty = _returned_so_far(original)
        left_amount = original.amount + returned_amount
        left_qty = (original.quantity + returned_qty) if original.quantity else None
        if left_amount <= 0:
            raise ApplicationError(
                _("This sale has already been returned in full."), fields={"amount": [_("Nothing left to return.")]}
            )
        errors: dict[str, list[str]] = {}
        qty, ok = _parse_int(quantity)
        if not ok:
            errors["quantity"] = [_("The quantity must be a whole number.")]
        elif qty is not None:
            qty = abs(qty)
            if qty == 0:
                qty = None
            elif left_qty is None:
                errors["quantity"] = [_("The original sale has no quantity; return an amount.")]
            elif qty > left_qty:
                errors["quantity"] = [
                    _("At most %(n)s units are left to return.") % {"n": left_qty},
                ]
        value = _parse_decimal(amount) if amount not in (None, "") else None
        if amount not in (None, "") and value is None:
            errors["amount"] = [_("Enter the amount as a number.")]
        _raise_if(errors)
        if value is None:
            if qty is not None and left_qty:
                value = (left_amount * qty / left_qty).quantize(Decimal("0.01"))
            else:
                value = left_amount
                qty = left_qty
        value = abs(value)
        if value == 0:
            raise ApplicationError(
                _("An amount of zero records nothing; a return is a negative amount."),
                fields={"amount": [_("Enter a positive amount to return.")]},
            )
        if value > left_amount:
            raise ApplicationError(
                _("At most %(amount)s %(currency)s is left to return on this sale.")
                % {"amount": left_amount, "currency": original.currency},
                fields={"amount": [_("More than the sale's net amount.")]},
            )
        count = SalesRecord.objects.filter(
            partner_id=original.partner_id, kind=original.kind, reference__startswith=return_reference_prefix(original)
        ).count()
        label = original.reference or str(original.public_id)[:8]
        result = SalesRecord.objects.create(
            partner_id=original.partner_id,
            kind=original.kind,
            occurred_on=timezone.localdate(),
            reference=f"{return_reference_prefix(original)}{count + 1}",
            product_id=original.product_id,
            quantity=-qty if qty else None,
            amount=-value,
            currency=original.currency,
            end_customer_id=original.end_customer_id,
            registration_id=original.registration_id,
            source=SalesSource.MANUAL,
            entered_by=actor,
            note=(_("Return of %(reference)s: %(reason)s") % {"reference": label, "reason": reason})[:300],
        )
        audit_record(actor=actor, action="sales.return", instance=result, after=snapshot(result), reason=reason)
        if result.kind == SalesKind.SELL_OUT:
            # Points earned on the original are clawed back pro rata by the programs app (its
            # task, and its nightly reconciliation if the message is lost). Published on commit,
            # so the return never waits for, or fails because of, points.
            publish_on_commit("sales_returned", result.pk)
    return result


def sales_record_original(record: SalesRecord) -> SalesRecord | None:
    """The sale a return was recorded against (its reference is `R-<original public id>-<n>`),
    or None when `record` is not such a return (a sale, or a negative line imported without
    a link to its original)."""
    match = _RETURN_REFERENCE.match(record.reference or "")
    if record.amount >= 0 or match is None:
        return None
    return SalesRecord.objects.filter(
        partner_id=record.partner_id, kind=record.kind, public_id=uuid.UUID(match.group(1)), amount__gt=0
    ).first()


def sales_record_net(record: SalesRecord) -> tuple[Decimal, int | None]:
    """What is left of a sale after its returns: (amount, quantity)."""
    returned_amount, returned_qty = _returned_so_far(record)
    qty = (record.quantity + returned_qty) if record.quantity else None
    return record.amount + returned_amount, qty


# --- CSV import -----------------------------------------------------------------------------


@dataclass
class ImportRow:
    line: int  # the line in the file (the header is line 1)
    data: dict
    errors: list[str] = field(default_factory=list)
    status: str = "new"  # new | duplicate | error
    partner: Partner | None = None
    cleaned: dict = field(default_factory=dict)


@dataclass
class ImportResult:
    rows: list[ImportRow]
    created: int = 0
    committed: bool = False

    @property
    def errors(self) -> list[ImportRow]:
        return [r for r in self.rows if r.status == "error"]

    @property
    def duplicates(self) -> int:
        return sum(1 for r in self.rows if r.status == "duplicate")

    @property
    def new(self) -> int:
        return sum(1 for r in self.rows if r.status == "new")

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_fields(self) -> dict[str, list[str]]:
        return {f"line {r.line}": r.errors for r in self.errors}


def _partner_lookup(rows: list[dict]) -> dict[str, Partner]:
    """Partners named in a staff file by public id, tax id or exact name (case-insensitive), in one query."""
    keys = {str(r.get("partner") or "").strip() for r in rows} - {""}
    if not keys:
        return {}
    lowered = {k.lower() for k in keys}
    uuids = []
    for key in keys:
        try:
            uuids.append(uuid.UUID(key))
        except ValueError:
            continue
    q = Q(tax_id__in=keys) | Q(public_id__in=uuids)
    for key in keys:
        q |= Q(name__iexact=key)
    found: dict[str, Partner] = {}
    for partner in Partner.objects.filter(q):
        for key in (str(partner.public_id), partner.tax_id, partner.name.lower()):
            if key:
                found.setdefault(key.lower(), partner)
    return {k: found[k] for k in lowered if k in found}


def sales_records_import(
    *, actor, rows: list[dict], partner: Partner | None = None, dry_run: bool = False
) -> ImportResult:
    """Import sales lines (dicts keyed by IMPORT_COLUMNS) all or nothing.

    With `partner` every line is that partner's (the `partner` column is ignored); a partner
    admin always imports its own sell-out (the kind column may be empty). Staff without
    `partner` name each line's partner by public id, tax id or exact name. Every line needs a
    reference: a line whose (partner, kind, reference) already exists is a duplicate and is
    skipped, so re-importing a file creates nothing and says so. If any line has an error,
    nothing is written and every line's errors are returned. `dry_run` validates only (preview).
    """
    if actor is None or not actor.is_active or not (actor.is_vendor_staff or actor.is_partner_admin):
        raise PermissionDenied(_("Only your company's partner admin or vendor staff may import sales."))
    if actor.is_partner_user:
        partner = actor.partner
    if not rows:
        raise ApplicationError(_("The file has no data lines."), fields={"file": [_("No lines to import.")]})
    today = timezone.localdate()
    partners = {} if partner is not None else _partner_lookup(rows)
    skus = {str(r.get("sku") or "").strip() for r in rows} - {""}
    products = {p.sku.lower(): p for p in Product.objects.filter(sku__in=skus)} if skus else {}
    missing = {s for s in skus if s.lower() not in products}
    if missing:
        # SKUs match case-insensitively as a courtesy; one more query only when needed.
        q = Q()
        for sku in missing:
            q |= Q(sku__iexact=sku)
        products.update({p.sku.lower(): p for p in Product.objects.filter(q)})
    result = ImportResult(rows=[])
    seen: set[tuple[int, str, str]] = set()
    for index, raw in enumerate(rows, start=2):
        data = {k: (str(v).strip() if v is not None else "") for k, v in raw.items() if k}
        row = ImportRow(line=index, data=data)
        result.rows.append(row)
        if actor.is_partner_user and not data.get("kind"):
            data["kind"] = SalesKind.SELL_OUT
        cleaned, errors = clean_sales_fields(
            {
                "kind": data.get("kind"),
                "occurred_on": data.get("date") or data.get("occurred_on"),
                "amount": data.get("amount"),
                "currency": data.get("currency"),
                "quantity": data.get("quantity"),
                "reference": data.get("reference"),
                "note": data.get("note"),
            },
            today=today,
        )
        messages = [m for msgs in errors.values() for m in msgs]
        row_partner = partner
        if row_partner is None:
            key = (data.get("partner") or "").strip().lower()
            row_partner = partners.get(key)
            if row_partner is None:
                messages.append(
                    _("Unknown partner “%(value)s”.") % {"value": data.get("partner", "")}
                    if key
                    else _("Name the partner (public id, tax id or name).")
                )
        if not cleaned["reference"]:
            messages.append(_("Every line needs a reference (the invoice or report line), so re-imports are safe."))
        sku = (data.get("sku") or "").strip()
        product = products.get(sku.lower()) if sku else None
        if sku and product is None:
            messages.append(_("Unknown SKU “%(sku)s”.") % {"sku": sku})
        if actor.is_partner_user and cleaned["kind"] == SalesKind.SELL_IN:
            messages.append(_("Partners report sell-out only; sell-in is recorded by the vendor."))
        row.partner, row.cleaned = row_partner, {**cleaned, "product": product}
        if row_partner is not None and cleaned["reference"] and cleaned["kind"] in _KINDS:
            key3 = (row_partner.pk, cleaned["kind"], cleaned["reference"])
            if key3 in seen:
                messages.append(_("This reference appears twice in the file."))
            seen.add(key3)
        if messages:
            row.status, row.errors = "error", messages
    _mark_duplicates(result)
    if dry_run or not result.ok:
        return result
    with transaction.atomic():
        partner_ids = sorted({r.partner.pk for r in result.rows})
        # Lock the partners in a fixed order: two imports of one file cannot both create a line.
        list(Partner.objects.select_for_update().filter(pk__in=partner_ids).order_by("pk").values_list("pk"))
        _mark_duplicates(result)
        new_rows = [r for r in result.rows if r.status == "new"]
        records = [
            SalesRecord(partner=r.partner, source=SalesSource.CSV, entered_by=actor, **r.cleaned) for r in new_rows
        ]
        SalesRecord.objects.bulk_create(records, batch_size=1000)
        by_partner: dict[int, list[SalesRecord]] = {}
        for record in records:
            by_partner.setdefault(record.partner_id, []).append(record)
        for partner_id, made in by_partner.items():
            # One audit row per partner and file: the lines themselves are the record of what came in.
            audit_record(
                actor=actor,
                action="sales.import",
                instance=made[0].partner,
                partner_id=partner_id,
                after={
                    "created": len(made),
                    "amount_by_currency": _sum_by_currency(made),
                    "references": [r.reference for r in made[:200]],
                },
            )
        result.created = len(records)
        result.committed = True
        # Imported sell-out earns points through the nightly reconciliation (one set-based pass),
        # not a task per line.
    return result


def _sum_by_currency(records: list[SalesRecord]) -> dict[str, str]:
    totals: dict[str, Decimal] = {}
    for record in records:
        totals[record.currency] = totals.get(record.currency, Decimal(0)) + record.amount
    return {k: str(v) for k, v in sorted(totals.items())}


def _mark_duplicates(result: ImportResult) -> None:
    """Flag lines already in the database (one query per partner in the file)."""
    wanted: dict[int, set[str]] = {}
    for row in result.rows:
        if row.status != "error":
            wanted.setdefault(row.partner.pk, set()).add(row.cleaned["reference"])
    existing: set[tuple[int, str, str]] = set()
    for partner_id, refs in wanted.items():
        existing.update(
            SalesRecord.objects.filter(partner_id=partner_id, reference__in=refs).values_list(
                "partner_id", "kind", "reference"
            )
        )
    for row in result.rows:
        if row.status != "error":
            key = (row.partner.pk, row.cleaned["kind"], row.cleaned["reference"])
            row.status = "duplicate" if key in existing else "new"
