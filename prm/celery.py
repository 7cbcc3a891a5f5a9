import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")

app = Celery("prm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every periodic job, in one place. Times are UTC. Each task is safe to run twice.
app.conf.beat_schedule = {
    # Remind authors of interaction next steps that fall due today (once per step).
    "partners-next-step-reminders": {
        "task": "partners.tasks.next_step_reminders",
        "schedule": crontab(hour=5, minute=0),
    },
    # Warn owners of agreements ending in 30 and 7 days that renewal is coming.
    "partners-agreement-renewal-reminders": {
        "task": "partners.tasks.agreement_renewal_reminders",
        "schedule": crontab(hour=5, minute=10),
    },
    # Hourly: tell partners 14 and 3 days ahead that a deal registration's protection is ending.
    "deals-protection-reminders": {
        "task": "deals.tasks.deal_protection_reminders",
        "schedule": crontab(minute=5),
    },
    # Hourly: expire deal registrations whose protection has ended, freeing the customer for others.
    "deals-protection-expiry": {
        "task": "deals.tasks.deal_protection_expiry",
        "schedule": crontab(minute=15),
    },
    # Every 15 minutes: remind deal reviewers at 75 % of the SLA; escalate overdue reviews to the lead.
    "deals-review-sla": {
        "task": "deals.tasks.deal_review_sla",
        "schedule": crontab(minute="*/15"),
    },
    # Hourly: escalate deal conflicts nobody resolved within a few days to the channel lead.
    "deals-conflict-escalation": {
        "task": "deals.tasks.conflict_escalation",
        "schedule": crontab(minute=25),
    },
    # Tell partner admins 30 days ahead that a person's certificate expires (once per certificate).
    "partners-certification-expiry-reminders": {
        "task": "partners.tasks.certification_expiry_reminders",
        "schedule": crontab(hour=5, minute=20),
    },
    # Nightly: re-evaluate partner tiers (promote at once, warn at-risk partners, demote after notice).
    "programs-tiers-evaluate": {
        "task": "programs.tasks_tiers.tiers_evaluate_nightly",
        "schedule": crontab(hour=3, minute=30),
    },
    # Every 5 minutes: remind partners of lead offers past half their acceptance time (once each).
    "deals-lead-offer-reminders": {
        "task": "deals.tasks.lead_offer_reminders",
        "schedule": crontab(minute="*/5"),
    },
    # Every 5 minutes: time out lead offers nobody answered and route those leads to the next partner.
    "deals-lead-offer-expiry": {
        "task": "deals.tasks.lead_offer_expiry",
        "schedule": crontab(minute="*/5"),
    },
    # Nightly: mark partners without activity for DORMANT_AFTER_DAYS as dormant (telling their
    # manager once), then recompute every partner's health score.
    "deals-partner-health": {
        "task": "deals.tasks.partner_health",
        "schedule": crontab(hour=2, minute=0),
    },
    # Nightly: forecast snapshots per partner and in total for the next four quarters (resumable).
    "deals-forecast-snapshots": {
        "task": "deals.tasks.forecast_snapshots",
        "schedule": crontab(hour=2, minute=30),
    },
    # Nightly: predict each partner's next sell-in order; remind the manager when one is missed.
    "deals-reorder-reminders": {
        "task": "deals.tasks.reorder_reminders",
        "schedule": crontab(hour=4, minute=30),
    },
    # Nightly: credit loyalty points for every event the on-commit tasks missed (never twice).
    "programs-points-reconcile": {
        "task": "programs.tasks_ledger.points_reconcile",
        "schedule": crontab(hour=1, minute=30),
    },
    # Daily: expire unspent points older than POINTS_EXPIRE_MONTHS, oldest first.
    "programs-points-expire": {
        "task": "programs.tasks_ledger.points_expire",
        "schedule": crontab(hour=3, minute=0),
    },
    # Every 4 minutes (the numbers are kept 5 by default): recompute the staff dashboard's chart
    # numbers for the staff looking at it lately, so their page views find them ready.
    "deals-dashboard-cache-warm": {
        "task": "deals.tasks.dashboard_cache_warm",
        "schedule": timedelta(minutes=4),
    },
    # Daily: warn partner admins 30 days before their points expire (once per expiry date).
    "programs-points-expiry-warn": {
        "task": "programs.tasks_ledger.points_expiry_warn",
        "schedule": crontab(hour=6, minute=0),
    },
}
