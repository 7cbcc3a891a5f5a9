"""The review SLA beat job: a reminder at 75 % of the SLA, escalation when it is breached."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _lazy

from deals.models import DealRegistration, DealStatus
from prm.audit import audit_record

from ._common import claim_ids, lead_of, notify, object_url, reviewers_for
from .registration import _due_text


def deal_review_sla_check(*, now: dt.datetime | None = None, chunk: int = 500) -> dict[str, int]:
    """Remind the reviewer when 75 % of the SLA has passed and escalate to the channel lead
    (the manager's `reports_to`, else any lead) when `review_due_at` has passed.

    Safe to run twice: each step claims rows by setting `review_reminded_at` /
    `review_escalated_at` (FOR UPDATE SKIP LOCKED + conditional UPDATE), and the notifications
    carry dedupe keys with the submission round, so a resubmission gets its own reminders.
    A registration already overdue when first seen is escalated, not reminded.
    """
    now = now or timezone.now()
    result = {"reminded": 0, "escalated": 0}
    base = DealRegistration.objects.filter(status=DealStatus.SUBMITTED)

    remind = base.filter(review_reminded_at__isnull=True, review_reminder_at__lte=now)
    while True:
        with transaction.atomic():
            ids = claim_ids(remind, limit=chunk)
            if not ids:
                break
            DealRegistration.objects.filter(pk__in=ids, review_reminded_at__isnull=True).update(review_reminded_at=now)
            for deal in DealRegistration.objects.filter(pk__in=ids).select_related("partner__owner"):
                if deal.review_due_at <= now:
                    continue
                result["reminded"] += notify(
                    reviewers_for(deal.partner),
                    kind="deal.review_reminder",
                    key=f"deal-review-reminder:{deal.reference}:{deal.submission_count}",
                    title=_lazy("Review of %(reference)s is due by %(due)s"),
                    body=_lazy("%(partner)s is waiting for a decision on %(reference)s."),
                    params={
                        "reference": deal.reference,
                        "due": _due_text(deal.review_due_at),
                        "partner": deal.partner.name,
                    },
                    url=object_url("staff", "deal_detail", deal.public_id),
                )

    overdue = base.filter(review_escalated_at__isnull=True, review_due_at__lte=now)
    while True:
        with transaction.atomic():
            ids = claim_ids(overdue, limit=chunk)
            if not ids:
                break
            DealRegistration.objects.filter(pk__in=ids, review_escalated_at__isnull=True).update(
                review_escalated_at=now, updated_at=now
            )
            for deal in DealRegistration.objects.filter(pk__in=ids).select_related(
                "partner__owner__reports_to", "end_customer"
            ):
                audit_record(
                    actor=None,
                    action="deal.review_escalate",
                    instance=deal,
                    before={"review_escalated_at": None},
                    after={"review_escalated_at": now.isoformat()},
                )
                lead = lead_of(deal.partner.owner)
                result["escalated"] += notify(
                    [lead] if lead else [],
                    kind="deal.review_overdue",
                    key=f"deal-review-overdue:{deal.reference}:{deal.submission_count}",
                    title=_lazy("Review of %(reference)s is overdue"),
                    body=_lazy("%(partner)s submitted it; the review was due by %(due)s (manager: %(manager)s)."),
                    params={
                        "reference": deal.reference,
                        "partner": deal.partner.name,
                        "due": _due_text(deal.review_due_at),
                        "manager": deal.partner.owner.full_name if deal.partner.owner else "—",
                    },
                    url=object_url("staff", "deal_detail", deal.public_id),
                )
    return result
