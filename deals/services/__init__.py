"""Every write of the deals app. Import from here: `from deals import services`.

Each function's docstring is its contract. Reads and scoping live in deals.selectors.

Create / edit:       end_customer_get_or_create, end_customer_update, deal_create, deal_update,
                     deal_update_progress, direct_account_create, direct_account_update
Pre-check:           deal_precheck → PrecheckResult(verdict in Verdict.*, message)
Lifecycle:           deal_submit, deal_approve, deal_reject, deal_return, deal_mark_won, deal_mark_lost
Conflicts:           conflict_resolve
Protection:          deal_request_extension, deal_approve_extension, deal_reject_extension
Beat jobs (tasks):   deal_protection_send_reminders, deal_protection_expire, deal_review_sla_check,
                     conflicts_escalate_overdue
Forecasts:           partner_commit_set, forecast_snapshot_run, reorder_expectations_compute,
                     reorder_reminders_send
Health:              partner_health_compute, partner_dormancy_compute
Business time:       sla.add_business_time, sla.business_time_between, sla.review_deadlines

All raise prm.exceptions.ApplicationError (bad input; `fields` maps field → messages),
StateError (illegal transition; nothing changed) or PermissionDenied.
"""

from . import sla
from .conflicts import conflict_resolve, conflicts_escalate_overdue
from .customers import direct_account_create, direct_account_update, end_customer_get_or_create, end_customer_update
from .forecasts import (
    forecast_snapshot_run,
    partner_commit_set,
    reorder_expectations_compute,
    reorder_reminders_send,
)
from .health import partner_dormancy_compute, partner_health_compute
from .protection import (
    deal_approve_extension,
    deal_protection_expire,
    deal_protection_send_reminders,
    deal_reject_extension,
    deal_request_extension,
    max_extensions_for,
)
from .registration import (
    PrecheckResult,
    Verdict,
    deal_approve,
    deal_create,
    deal_mark_lost,
    deal_mark_won,
    deal_precheck,
    deal_reject,
    deal_return,
    deal_submit,
    deal_update,
    deal_update_progress,
)
from .reviews import deal_review_sla_check

__all__ = [
    "PrecheckResult",
    "Verdict",
    "conflict_resolve",
    "conflicts_escalate_overdue",
    "deal_approve",
    "deal_approve_extension",
    "deal_create",
    "deal_mark_lost",
    "deal_mark_won",
    "deal_precheck",
    "deal_protection_expire",
    "deal_protection_send_reminders",
    "deal_reject",
    "deal_reject_extension",
    "deal_request_extension",
    "deal_return",
    "deal_review_sla_check",
    "deal_submit",
    "deal_update",
    "deal_update_progress",
    "direct_account_create",
    "direct_account_update",
    "end_customer_get_or_create",
    "end_customer_update",
    "max_extensions_for",
    "partner_commit_set",
    "forecast_snapshot_run",
    "reorder_expectations_compute",
    "reorder_reminders_send",
    "partner_dormancy_compute",
    "partner_health_compute",
    "sla",
]
