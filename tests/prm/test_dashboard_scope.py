from partners.selectors import partners_in_scope
from prm import dashboard
from prm.dashboard import QueueCard, queue_cards, register_queue_cards
from prm.models import Role
from tests.factories import PartnerFactory, StaffUserFactory


def test_partners_in_scope_follows_the_reporting_line(manager, lead, admin_user, partner_a, partner_rep):
    other_manager = StaffUserFactory(role=Role.CHANNEL_MANAGER, email="other@example.test")
    outsider = PartnerFactory(owner=other_manager)
    own_by_lead = PartnerFactory(owner=lead)

    assert set(partners_in_scope(user=manager)) == {partner_a}
    assert set(partners_in_scope(user=lead)) == {partner_a, own_by_lead}
    assert set(partners_in_scope(user=admin_user)) == {partner_a, own_by_lead, outsider}
    assert set(partners_in_scope(user=admin_user, manager=other_manager)) == {outsider}
    assert set(partners_in_scope(user=lead, manager=other_manager)) == set()
    assert not partners_in_scope(user=partner_rep).exists()


def test_queue_cards_are_collected_from_providers_in_order(manager, monkeypatch):
    monkeypatch.setattr(dashboard, "_providers", [])

    def provider(user, partners):
        return [
            QueueCard(key="b", title="B", count=1, url="/b/", order=20),
            QueueCard(key="a", title="A", count=2, url="/a/", order=10),
        ]

    register_queue_cards(provider)
    register_queue_cards(provider)  # registering twice changes nothing
    assert [card.key for card in queue_cards(manager, None)] == ["a", "b"]
