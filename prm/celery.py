import os

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
}
