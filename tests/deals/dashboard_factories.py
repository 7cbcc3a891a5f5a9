"""Fast fixtures for the dashboard/forecast tests: rows written directly (the lifecycle services
are tested elsewhere), each satisfying the model's constraints."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.utils import timezone

from deals.models import DealRegistration, DealStatus, EndCustomer, SalesRecord
from prm.models import Role
from tests.factories import UserFactory

_seq = itertools.count(1)


def aware(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _customer() -> EndCustomer:
    n = next(_seq)
    return EndCustomer.objects.create(name=f"Customer {n}", normalized_name=f"customer {n}", country="RU")


def _submitter(partner):
    return partner.users.first() or UserFactory(role=Role.PARTNER_REP, partner=partner)


def deal_row(
    partner,
    *,
    status: str = DealStatus.SUBMITTED,
    value: str | Decimal = "1000.00",
    currency: str = "RUB",
    stage: str = "proposal",
    probability: int = 50,
    expected_close_date: dt.date | None = None,
    submitted_on: dt.date | None = None,
    closed_on: dt.date | None = None,
    final_amount: str | Decimal | None = None,
    decided_by=None,
    decided_at: dt.datetime | None = None,
    review_due_at: dt.datetime | None = None,
    submitter=None,
) -> DealRegistration:
    today = timezone.localdate()
    submitted_at = aware(submitted_on or today - dt.timedelta(days=30))
    n = next(_seq)
    fields = {
        "reference": f"DR-{today.year}-{n:06d}",
        "partner": partner,
        "submitted_by": submitter or _submitter(partner),
        "end_customer": _customer(),
        "value": Decimal(str(value)),
        "currency": currency,
        "expected_close_date": expected_close_date or today + dt.timedelta(days=30),
        "stage": stage,
        "probability": probability,
        "status": status,
        "submitted_at": submitted_at,
        "last_submitted_at": submitted_at,
        "submission_count": 1,
        "review_due_at": review_due_at or submitted_at + dt.timedelta(days=2),
    }
    if status in (DealStatus.APPROVED, DealStatus.WON, DealStatus.LOST, DealStatus.EXPIRED):
        fields.update(approved_at=submitted_at + dt.timedelta(hours=1), protection_days=0)
        fields.update(decided_by=decided_by, decided_at=decided_at or submitted_at + dt.timedelta(hours=1))
    if decided_by is not None and status in (DealStatus.REJECTED, DealStatus.RETURNED):
        fields.update(decided_by=decided_by, decided_at=decided_at or submitted_at + dt.timedelta(hours=1))
        fields["decision_reason"] = "No."
    if status == DealStatus.WON:
        fields.update(closed_at=aware(closed_on or today), final_amount=Decimal(str(final_amount or value)))
    if status == DealStatus.LOST:
        fields.update(closed_at=aware(closed_on or today), lost_reason="Price")
    return DealRegistration.objects.create(**fields)


def sale(partner, *, on: dt.date, amount, currency: str = "RUB", kind: str = "sell_in", registration=None):
    return SalesRecord.objects.create(
        partner=partner,
        kind=kind,
        occurred_on=on,
        amount=Decimal(str(amount)),
        currency=currency,
        registration=registration,
    )
