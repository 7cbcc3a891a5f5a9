"""Queue cards for the staff dashboard, contributed by each app.

The dashboard (issue 6) shows one card per work queue: registrations to review, open
conflicts, unaccepted leads, redemptions to approve, partners at risk… Each app owns its
queues, so each app registers a provider in its `AppConfig.ready()`; the dashboard asks every
provider for its cards. This is read-side composition only (nothing is written), which keeps
imports flowing one way: `prm` knows no app, apps know `prm`.

A provider is `provider(user, partners) -> list[QueueCard]`, where `partners` is the queryset
of partners in the user's dashboard scope (`partners.selectors.partners_in_scope`). Providers
must run a bounded number of queries, whatever the number of partners.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["QueueCard", "queue_cards", "register_queue_cards"]


@dataclass(frozen=True)
class QueueCard:
    key: str  # stable identifier, also the API field name: "registrations_to_review"
    title: str  # translated, shown on the card
    count: int  # items in the queue
    url: str  # the page where the queue is worked
    urgent: int = 0  # how many of them need attention now (SLA breached, overdue…)
    urgent_label: str = ""  # translated: "SLA breached", "overdue"…
    order: int = 100  # position on the dashboard, smaller first
    icon: str = "inbox"  # a bootstrap-icons name


_providers: list[Callable] = []


def register_queue_cards(provider: Callable) -> Callable:
    """Register `provider(user, partners) -> list[QueueCard]`; usable as a decorator. Idempotent."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def queue_cards(user, partners) -> list[QueueCard]:
    cards = [card for provider in _providers for card in provider(user, partners)]
    return sorted(cards, key=lambda card: (card.order, card.key))
