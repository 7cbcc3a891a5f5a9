"""Evaluate partner tiers now (what the nightly Celery job does), e.g. after changing thresholds."""

from django.core.management.base import BaseCommand
from django.utils.dateparse import parse_datetime

from programs.services import tiers_evaluate


class Command(BaseCommand):
    help = "Evaluate partner tiers now: promotions, at-risk notices, demotions after the notice period."

    def add_arguments(self, parser):
        parser.add_argument("--partner", type=int, action="append", dest="partner_ids", help="partner id (repeatable)")
        parser.add_argument("--now", help="evaluate as of this ISO 8601 time (operations, replays)")

    def handle(self, *args, partner_ids=None, now=None, **options):
        summary = tiers_evaluate(partner_ids=partner_ids, now=parse_datetime(now) if now else None)
        for key, value in summary.as_dict().items():
            self.stdout.write(f"{key}: {value}")
