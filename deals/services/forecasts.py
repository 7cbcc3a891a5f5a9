"""Writes of the forecasting side: partner commits, the nightly forecast snapshots and the
reorder expectations/reminders. Pure maths lives in deals.forecasting; reads in deals.dashboard."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from deals.models import PartnerCommit
from prm.audit import audit_record, snapshot
from prm.exceptions import ApplicationError, PermissionDenied
from prm.models import Currency

log = logging.getLogger(__name__)


def commit_quarter_open(year: int, quarter: int, *, today: dt.date | None = None) -> bool:
    """Commits may be set for the current quarter and later ones, never for a past quarter."""
    from deals.dashboard import quarter_of

    return (year, quarter) >= quarter_of(today or timezone.localdate())


def partner_commit_set(
    *, actor, partner, year: int, quarter: int, amount, currency: str, today: dt.date | None = None
) -> PartnerCommit:
    """Create or replace the partner's commit for a quarter (current or future only).

    Allowed for the partner's own partner admins and for vendor staff. Raises PermissionDenied
    for anyone else, ApplicationError (with `fields`) for a past quarter, a bad quarter, a
    negative amount or an unknown currency. Audited; one row per partner and quarter.
    """
    if not (actor.is_vendor_staff or (actor.is_partner_admin and actor.partner_id == partner.pk)):
        raise PermissionDenied(_("Only the partner's administrators or vendor staff can enter a commit."))
    errors: dict[str, list[str]] = {}
    try:
        year, quarter = int(year), int(quarter)
    except (TypeError, ValueError):
        raise ApplicationError(_("Choose a quarter."), fields={"quarter": [_("Choose a quarter.")]}) from None
    if not 1 <= quarter <= 4 or not 2000 <= year <= 2100:
        errors["quarter"] = [_("Choose a quarter.")]
    elif not commit_quarter_open(year, quarter, today=today):
        errors["quarter"] = [_("A commit can only be entered for the current or a coming quarter.")]
    try:
        amount = Decimal(str(amount)).quantize(Decimal("0.01"))
        if amount < 0 or not amount.is_finite() or amount >= Decimal("1e14"):
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors["amount"] = [_("Enter an amount of zero or more.")]
    if currency not in Currency.values:
        errors["currency"] = [_("Choose a currency.")]
    if errors:
        raise ApplicationError(" ".join(m for msgs in errors.values() for m in msgs), fields=errors)
    with transaction.atomic():
        commit = PartnerCommit.objects.select_for_update().filter(partner=partner, year=year, quarter=quarter).first()
        before = snapshot(commit) if commit else {}
        if commit is None:
            commit = PartnerCommit(partner=partner, year=year, quarter=quarter)
        commit.amount, commit.currency, commit.entered_by = amount, currency, actor
        commit.save()
        audit_record(
            actor=actor,
            action="commit.set",
            instance=commit,
            before=before,
            after=snapshot(commit),
            partner_id=partner.pk,
        )
    return commit
