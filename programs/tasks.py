"""Celery autodiscovers `programs.tasks`; the tasks live in one module per part."""

from programs.tasks_ledger import *  # noqa: F403
