"""The staff dashboard's "redemptions to approve" card (prm.dashboard registry)."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from prm.dashboard import QueueCard
from programs.selectors.rewards import redemption_queue_counts


def redemption_queue_cards(user, partners) -> list[QueueCard]:
    """Redemptions waiting for a decision (requested) or delivery (approved): one query."""
    if not user.is_vendor_staff:
        return []
    counts = redemption_queue_counts(partners=partners)
    try:
        url = reverse("staff:redemption_queue")
    except NoReverseMatch:  # the page comes with ledger-ui's staff views
        url = ""
    return [
        QueueCard(
            key="redemptions_to_approve",
            title=_("Redemptions to approve"),
            count=counts["requested"],
            url=url,
            urgent=counts["approved"],
            urgent_label=_("approved, to fulfil"),
            order=60,
            icon="gift",
        )
    ]
