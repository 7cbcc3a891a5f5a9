"""`manage.py seed_demo`: fill an empty database with demo data to judge the product by.

Idempotent: when the demo marker (admin@demo.prm) exists it says so and adds nothing.
Every section runs inside one transaction, so a failure leaves nothing half-loaded.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils.module_loading import import_string

from partners.demo import DEMO_MARKER_EMAIL, DEMO_PASSWORD, DEMO_SEED, DemoContext, demo_loaded
from prm.events import events_paused

# The demo sections, in order. Each is `seed(ctx: DemoContext)`; later apps append theirs
# (e.g. "deals.demo.seed", "programs.demo.seed") and read what the earlier ones left in ctx.
SEEDERS = [
    "partners.demo.seed",
    "deals.demo.seed",
    "deals.demo_sales.seed",
    "deals.demo_leads.seed",
    "programs.demo_tiers.seed",
    "deals.demo_forecasts.seed",
    "programs.demo_ledger.seed",
]

# Two concurrent runs must not both pass the "already loaded?" check.
_ADVISORY_LOCK_KEY = 2026_0001


class Command(BaseCommand):
    help = "Load demo partners, people, agreements, interactions and log-ins (does nothing if already loaded)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Load even when DJANGO_DEBUG is off. The demo log-ins have a published password, "
            "including a superuser: never do this on a production database.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["allow_without_debug"]:
            raise CommandError(
                "Refusing to load demo data with DJANGO_DEBUG off: it creates a superuser with a published "
                "password. Set DJANGO_DEBUG=1, or pass --allow-without-debug if this really is a demo database."
            )
        started = time.monotonic()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
            if demo_loaded():
                self.stdout.write(f"Demo data already loaded ({DEMO_MARKER_EMAIL} exists); nothing to do.")
                return
            ctx = DemoContext.create(seed=DEMO_SEED)
            # Points for the demo's history come from the ledger seeder's reconciliation.
            with events_paused():
                for path in SEEDERS:
                    import_string(path)(ctx)
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded in {elapsed:.1f} s:"))
        width = max(len(label) for label in ctx.summary)
        for label, count in ctx.summary.items():
            self.stdout.write(f"  {label:<{width}}  {count}")
        self.stdout.write(f"Log-ins (password {DEMO_PASSWORD}):")
        for email, user in ctx.users.items():
            where = f", {user.partner.name}" if user.partner_id else ""
            self.stdout.write(f"  {email:<28} {user.get_role_display()}{where}")
