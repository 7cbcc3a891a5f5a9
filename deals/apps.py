from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DealsConfig(AppConfig):
    name = "deals"
    verbose_name = _("Deals")

    def ready(self):
        from deals.dashboard import deal_queue_cards
        from deals.selectors_leads import lead_queue_cards
        from prm.dashboard import register_queue_cards

        register_queue_cards(deal_queue_cards)
        register_queue_cards(lead_queue_cards)
