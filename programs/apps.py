from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProgramsConfig(AppConfig):
    name = "programs"
    verbose_name = _("Programs")

    def ready(self):
        from prm.dashboard import register_queue_cards
        from programs.dashboard_ledger import redemption_queue_cards
        from programs.views.staff_tiers import tier_queue_cards  # read-only provider

        register_queue_cards(tier_queue_cards)
        register_queue_cards(redemption_queue_cards)
