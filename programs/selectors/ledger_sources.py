"""What each ledger entry's source event is called, for the points pages ("Deal won
R-2026-00042"). One query per source kind for a whole page of entries, whatever its size.
(ledger-ui's module: imported directly, not re-exported by programs.selectors.)"""

from __future__ import annotations

from collections import defaultdict

from deals.models import DealRegistration, SalesRecord
from partners.models import Certification
from programs.models import SourceType

__all__ = ["attach_source_references"]

# source_type → (model, the field shown)
_SOURCES = {
    SourceType.DEAL_WON: (DealRegistration, "reference"),
    SourceType.REGISTRATION_APPROVED: (DealRegistration, "reference"),
    SourceType.SALES_REPORTED: (SalesRecord, "reference"),
    SourceType.CERTIFICATION_EARNED: (Certification, "course"),
}


def attach_source_references(entries) -> list:
    """Set `entry.source_reference` (a deal's reference, a sale's reference, a course) on each
    of `entries` and return them as a list."""
    entries = list(entries)
    wanted: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        if entry.source_type in _SOURCES and str(entry.source_id).isdigit():
            wanted[entry.source_type].add(int(entry.source_id))
    names: dict[tuple[str, str], str] = {}
    by_model: dict[tuple, set[int]] = defaultdict(set)
    for source_type, ids in wanted.items():
        by_model[_SOURCES[source_type]] |= ids
    found: dict[tuple, dict[int, str]] = {}
    for (model, field), ids in by_model.items():
        found[(model, field)] = dict(model.objects.filter(pk__in=ids).values_list("pk", field))
    for source_type, ids in wanted.items():
        table = found[_SOURCES[source_type]]
        for pk in ids:
            if table.get(pk):
                names[(source_type, str(pk))] = table[pk]
    for entry in entries:
        entry.source_reference = names.get((entry.source_type, str(entry.source_id)), "")
    return entries
