"""Presentation shared by the staff and cabinet points pages and their CSV exports: the words
that explain each ledger entry ("Deal won R-2026-00042: 1,250 × 1.5 tier multiplier"), CSV rows,
and why a reward cannot be redeemed. Presentation over loaded rows (the CSV export looks source
references up per chunk of entries, not per entry)."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from programs.models import CLAWBACK_SOURCES, SourceType
from programs.selectors.ledger_sources import attach_source_references

EVENT_SOURCES = {
    SourceType.DEAL_WON,
    SourceType.REGISTRATION_APPROVED,
    SourceType.CERTIFICATION_EARNED,
    SourceType.LEAD_ACCEPTED_IN_SLA,
    SourceType.SALES_REPORTED,
}


def _dec(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _num(value: Decimal) -> str:
    """1250 → "1,250" (locale grouping); 1.50 → "1.5"."""
    value = value.normalize() if value == value.to_integral_value() else value
    if value == value.to_integral_value():
        return number_format(int(value), force_grouping=True)
    return number_format(value.normalize(), force_grouping=True)


def entry_source_label(entry) -> str:
    try:
        label = str(SourceType(entry.source_type).label)
    except ValueError:
        label = entry.source_type
    reference = getattr(entry, "source_reference", "") or (entry.calculation or {}).get("reference") or ""
    return f"{label} {reference}".strip()


def entry_calculation(entry) -> str:
    """ "1,250 × 1.5 tier multiplier", "125,000 ÷ 1,000 × 10 = 1,250 × 1.5 tier multiplier" …;
    empty when the entry was not computed by a rule."""
    calc = dict(entry.calculation or {})
    # The per-entry facts are columns; entries from before they were may carry them in the JSON.
    if getattr(entry, "base_value", None) is not None:
        calc["base"] = entry.base_value
    if getattr(entry, "multiplier", None) is not None:
        calc["multiplier"] = entry.multiplier
    if not calc:
        return ""
    multiplier = _dec(calc.get("multiplier"))
    base_points = _dec(calc.get("base_points"))
    rate, base = _dec(calc.get("rate")), _dec(calc.get("base"))
    parts = []
    if calc.get("per_thousand") and rate is not None and base is not None:
        computed = base_points if base_points is not None else (base / 1000 * rate)
        parts.append(
            _("%(value)s ÷ 1,000 × %(rate)s = %(points)s")
            % {"value": _num(base), "rate": _num(rate), "points": _num(computed.quantize(Decimal("0.01")))}
        )
    elif base_points is not None:
        parts.append(_num(base_points))
    elif rate is not None:
        parts.append(_num(rate))
    if multiplier is not None and multiplier != 1:
        parts.append(_("× %(multiplier)s tier multiplier") % {"multiplier": _num(multiplier)})
    text = " ".join(parts)
    if calc.get("capped"):
        text = _("%(calculation)s (capped)") % {"calculation": text} if text else _("capped")
    return text


def clawback_explanation(entry) -> str:
    """ "Return of sale SO-2026-01: −50 points (25,000 of 100,000 RUB returned × 200 points
    credited, <rule>)", and what could not be taken back because it had been spent."""
    calc = entry.calculation or {}
    params = {"reference": calc.get("reference") or entry.source_id, "points": _num(abs(entry.amount))}
    details = []
    if entry.source_type == SourceType.SALES_RETURNED:
        text = _("Return of sale %(reference)s: −%(points)s points") % params
        returned, original, credited = (_dec(calc.get(k)) for k in ("returned", "original", "credited"))
        if returned is not None and original is not None and credited is not None:
            details.append(
                _("%(returned)s of %(original)s %(currency)s returned × %(credited)s points credited")
                % {
                    "returned": _num(returned),
                    "original": _num(original),
                    "currency": calc.get("currency", ""),
                    "credited": _num(credited),
                }
            )
    else:
        text = _("Certificate %(reference)s revoked: −%(points)s points") % params
    if entry.rule_id and entry.rule:
        details.append(entry.rule.name)
    if details:
        text = f"{text} ({', '.join(details)})"
    shortfall = _dec(calc.get("shortfall"))
    if shortfall:
        text += "; " + _("%(points)s points could not be taken back: they had already been spent") % {
            "points": _num(shortfall)
        }
    return text


def describe_entry(entry) -> str:
    """One line saying why the entry exists: the event and rule, a clawback and its reason, or
    the person's reason."""
    if entry.source_type in CLAWBACK_SOURCES:
        return clawback_explanation(entry)
    source = entry_source_label(entry)
    if entry.source_type in EVENT_SOURCES:
        calculation = entry_calculation(entry)
        rule = f" ({entry.rule.name})" if entry.rule_id and entry.rule else ""
        return f"{source}: {calculation}{rule}" if calculation else f"{source}{rule}"
    # Expiry reasons are technical ("expired lot 42"): the source label says it all.
    if entry.reason and entry.source_type != SourceType.EXPIRY:
        return f"{source}: {entry.reason}"
    return source


CABINET_CSV_HEADER = [
    gettext_lazy("Date"),
    gettext_lazy("Points"),
    gettext_lazy("Source"),
    gettext_lazy("Explanation"),
    gettext_lazy("Rule"),
    gettext_lazy("Person"),
    gettext_lazy("State"),
    gettext_lazy("Expires"),
]
STAFF_CSV_HEADER = [gettext_lazy("Partner"), *CABINET_CSV_HEADER, gettext_lazy("Entered by"), gettext_lazy("Entry id")]


def ledger_csv_header(*, staff: bool) -> list:
    return STAFF_CSV_HEADER if staff else CABINET_CSV_HEADER


def _iso(value) -> str:
    return value.isoformat() if value else ""


def _chunks(entries, size=1000):
    chunk = []
    for entry in entries.iterator(chunk_size=size):
        chunk.append(entry)
        if len(chunk) == size:
            yield attach_source_references(chunk)
            chunk = []
    if chunk:
        yield attach_source_references(chunk)


def entry_rows_for_csv(entries, *, header, staff: bool = False):
    """The header, then one row per entry (streamed in chunks; related rows are joined by the
    selector, source references looked up per chunk). Partners' exports leave out who on the
    vendor side entered an entry."""
    yield [str(h) for h in header]
    for entry in (e for chunk in _chunks(entries) for e in chunk):
        row = [
            _iso(entry.occurred_at),
            entry.amount,
            entry.get_source_type_display(),
            describe_entry(entry),
            entry.rule.name if entry.rule_id else "",
            entry.user.full_name if entry.user_id else "",
            entry.get_state_display(),
            _iso(entry.expires_at),
        ]
        if staff:
            row = [entry.partner.name, *row, entry.created_by.full_name if entry.created_by_id else "", entry.public_id]
        yield row


@dataclass
class RewardOption:
    reward: object
    affordable: bool
    in_stock: bool
    reason: str  # why it cannot be redeemed now; empty when it can


def rewards_with_availability(rewards, *, balance: Decimal) -> list[RewardOption]:
    """Each catalogue item with whether the partner can redeem one now and, if not, why."""
    options = []
    for reward in rewards:
        in_stock = reward.stock is None or reward.stock > 0
        affordable = balance >= reward.points_cost
        if not in_stock:
            reason = _("Out of stock.")
        elif not affordable:
            reason = _("You need %(short)s more points.") % {"short": _num(Decimal(reward.points_cost) - balance)}
        else:
            reason = ""
        options.append(RewardOption(reward=reward, affordable=affordable, in_stock=in_stock, reason=reason))
    return options
