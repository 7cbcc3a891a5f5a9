"""Celery autodiscovers `programs.tasks`; each part of the app keeps its tasks in its own module."""

from programs.tasks_ledger import *  # noqa: F401,F403
from programs.tasks_tiers import *  # noqa: F401,F403
