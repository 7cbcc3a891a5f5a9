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
Forecasts:           partner_commit_set (partner_commit_upsert: also says if created), forecast_snapshot_run, reorder_expectations_compute,
                     reorder_reminders_send
Health:              partner_health_compute, partner_dormancy_compute
Sales records:       sales_record_create, sales_record_return, sales_records_import (CSV, all or
                     nothing, idempotent on partner+kind+reference), sales_record_net,
                     sales_record_original (the sale a return was recorded against)
Leads:               lead_create, leads_create_bulk, lead_route, leads_route_batch, lead_accept,
                     lead_decline, lead_reassign, lead_close, lead_offers_remind, lead_offers_expire
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
    partner_commit_upsert,
    reorder_expectations_compute,
    reorder_reminders_send,
)
from .health import partner_dormancy_compute, partner_health_compute
from .leads import (
    lead_accept,
    lead_close,
    lead_create,
    lead_decline,
    lead_offers_expire,
    lead_offers_remind,
    lead_reassign,
    lead_route,
    leads_create_bulk,
    leads_route_batch,
)
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
from .sales import (
    sales_record_create,
    sales_record_net,
    sales_record_original,
    sales_record_return,
    sales_records_import,
)

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
    "lead_accept",
    "lead_close",
    "lead_create",
    "lead_decline",
    "lead_offers_expire",
    "lead_offers_remind",
    "lead_reassign",
    "lead_route",
    "leads_create_bulk",
    "leads_route_batch",
    "max_extensions_for",
    "partner_commit_set",
    "partner_commit_upsert",
    "forecast_snapshot_run",
    "reorder_expectations_compute",
    "reorder_reminders_send",
    "partner_dormancy_compute",
    "partner_health_compute",
    "sales_record_create",
    "sales_record_net",
    "sales_record_original",
    "sales_record_return",
    "sales_records_import",
    "sla",
]
