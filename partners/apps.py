from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = _("Partners")

    def ready(self):
        from partners.selectors import partner_queue_cards
        from prm.dashboard import register_queue_cards

        register_queue_cards(partner_queue_cards)
