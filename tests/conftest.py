"""Personas (as in healthchecks): a channel manager, partner A's admin and rep, and a user of
partner B who must never see A's data."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from prm.models import Role
from tests.factories import DEFAULT_PASSWORD, PartnerFactory, PartnerUserFactory, StaffUserFactory, UserFactory


def clear_test_cache() -> None:
    """Delete this test run's cache keys (its KEY_PREFIX) — never cache.clear(), which on Redis
    flushes the whole database, other runs' keys and the broker's queues included."""
    options = settings.CACHES["default"]
    if options["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        cache.clear()  # this process's memory
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{options['KEY_PREFIX']}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _empty_cache_after_each_test():
    """Tests never see what an earlier test cached (dashboard numbers, import progress)."""
    yield
    clear_test_cache()


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def lead(db):
    return StaffUserFactory(role=Role.CHANNEL_LEAD, email="lead@example.test", full_name="Lena Lead")


@pytest.fixture
def manager(db, lead):
    return StaffUserFactory(
        role=Role.CHANNEL_MANAGER, email="manager@example.test", full_name="Max Manager", reports_to=lead
    )


@pytest.fixture
def admin_user(db):
    return UserFactory(role=Role.ADMINISTRATOR, email="admin@example.test", is_staff=True, is_superuser=True)


@pytest.fixture
def partner_a(db, manager):
    return PartnerFactory(name="Alpha Systems", legal_name="Alpha Systems LLC", owner=manager)


@pytest.fixture
def partner_b(db, manager):
    return PartnerFactory(name="Beta Trade", legal_name="Beta Trade Ltd", owner=manager)


@pytest.fixture
def partner_admin(db, partner_a):
    return PartnerUserFactory(
        partner=partner_a, role=Role.PARTNER_ADMIN, email="admin@alpha.test", full_name="Anna Admin"
    )


@pytest.fixture
def partner_rep(db, partner_a):
    return PartnerUserFactory(partner=partner_a, role=Role.PARTNER_REP, email="rep@alpha.test", full_name="Roman Rep")


@pytest.fixture
def other_partner_user(db, partner_b):
    return PartnerUserFactory(
        partner=partner_b, role=Role.PARTNER_ADMIN, email="admin@beta.test", full_name="Boris Beta"
    )


def _client_for(user):
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def manager_client(manager):
    return _client_for(manager)


@pytest.fixture
def partner_admin_client(partner_admin):
    return _client_for(partner_admin)


@pytest.fixture
def partner_rep_client(partner_rep):
    return _client_for(partner_rep)


@pytest.fixture
def other_partner_client(other_partner_user):
    return _client_for(other_partner_user)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_for():
    return _client_for
