"""Setting a partner's tier by hand has one path, programs.services.tier_set_manual, which
records the tier history (TierChange, kind "manual") and the audit row. The partners app has
no tier door of its own any more: its old "set tier by hand" form is gone from the partner
page (the tier panel there does it), `POST /api/v1/partners/{id}/tier/` is served by programs,
and the admin shows the tier read-only."""

from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from rest_framework.test import APIClient

from partners.models import Partner
from prm.models import AuditLog, Role
from programs.models import ChangeKind, TierChange
from tests.factories import StaffUserFactory
from tests.programs.tiers_factories import tiers_fixture  # noqa: F401 (the "tiers" fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("programs.tasks_tiers.tier_change_notify.delay"):
        yield


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_partner_page_has_no_tier_form_of_its_own_only_the_tier_panel(partner_a, manager_client):
    with pytest.raises(NoReverseMatch):
        reverse("staff:partner_tier", args=[partner_a.public_id])
    html = manager_client.get(reverse("staff:partner_detail", args=[partner_a.public_id])).content.decode()
    assert 'data-testid="tier-form"' not in html
    assert reverse("staff:partner_tier_progress", args=[partner_a.public_id]) in html  # the panel is loaded
    response = manager_client.post(f"/staff/partners/{partner_a.public_id}/tier/", {"tier": "", "reason": "x"})
    assert response.status_code == 404


def test_api_set_tier_records_the_history_and_the_audit(tiers, partner_a, manager):
    response = api(manager).post(
        f"/api/v1/partners/{partner_a.public_id}/tier/", {"tier": "gold", "reason": "Strategic deal"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["tier"]["code"] == "gold"
    change = TierChange.objects.get(partner=partner_a)
    assert (change.kind, change.to_tier, change.reason, change.actor) == (
        ChangeKind.MANUAL,
        tiers["gold"],
        "Strategic deal",
        manager,
    )
    assert AuditLog.objects.filter(action="partner.set_tier", partner_id=partner_a.pk).exists()


def test_api_set_tier_refusals(tiers, partner_a, partner_admin, other_partner_user):
    url = f"/api/v1/partners/{partner_a.public_id}/tier/"
    assert api(partner_admin).post(url, {"tier": "gold", "reason": "x"}, format="json").status_code == 403
    assert api(other_partner_user).post(url, {"tier": "gold", "reason": "x"}, format="json").status_code == 403
    stranger = StaffUserFactory(role=Role.CHANNEL_MANAGER, email="stranger@example.test")
    response = api(stranger).post(url, {"tier": "gold", "reason": "x"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    partner_a.refresh_from_db()
    assert partner_a.tier_id is None and not TierChange.objects.exists()


def test_api_set_tier_needs_a_reason_within_the_limit(tiers, partner_a, manager):
    url = f"/api/v1/partners/{partner_a.public_id}/tier/"
    assert "reason" in api(manager).post(url, {"tier": "gold"}, format="json").json()["error"]["fields"]
    response = api(manager).post(url, {"tier": "gold", "reason": "r" * 2001}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["error"]["fields"]
    assert not TierChange.objects.exists()


def test_tier_set_manual_refuses_a_reason_over_the_limit(tiers, partner_a, manager):
    from prm.exceptions import ApplicationError
    from programs import services

    with pytest.raises(ApplicationError) as exc:
        services.tier_set_manual(actor=manager, partner=partner_a, tier=tiers["gold"], reason="r" * 2001)
    assert "reason" in exc.value.fields
    assert not TierChange.objects.exists()


def test_admin_shows_the_tier_read_only(tiers, partner_a, admin_client):
    from tests.partners.test_admin import _url, form_data

    url = _url(Partner, "change", partner_a.pk)
    page = admin_client.get(url)
    assert "tier" not in page.context["adminform"].form.fields
    data = form_data(page)
    data["tier"] = tiers["gold"].pk
    assert admin_client.post(url, data).status_code == 302
    partner_a.refresh_from_db()
    assert partner_a.tier_id is None
    assert not AuditLog.objects.filter(action="partner.set_tier").exists()


def test_only_the_tier_engine_calls_partner_set_tier():
    """partners.services.partner_set_tier writes no history: only programs' tier services (which
    record TierChange rows) may call it."""
    callers = sorted(
        str(path.relative_to(settings.BASE_DIR))
        for app in ("prm", "partners", "deals", "programs", "scripts")
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py")
        if "partner_set_tier(" in path.read_text(encoding="utf-8") and "migrations" not in path.parts
    )
    assert callers == ["partners/services.py", "programs/services/tiers.py"]
