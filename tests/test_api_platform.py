"""The API platform: token log-in, both authentications, the one error shape, and the OpenAPI
schema and docs (generated without warnings, served without a CDN)."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.test import APIClient

from prm.models import Role
from tests.factories import PartnerUserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
ME_URL = "/api/v1/me/"


def assert_error(response, http_status: int, code: str | None = None) -> dict:
    assert response.status_code == http_status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert isinstance(body["error"]["fields"], dict)
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


# --- Token log-in -------------------------------------------------------------------------------


def test_token_obtain_returns_token_that_authenticates(api_client, partner_admin, password):
    response = api_client.post(TOKEN_URL, {"email": "ADMIN@alpha.test", "password": password}, format="json")
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert re.fullmatch(r"[0-9a-f]{40}", token)

    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = script.get(ME_URL)
    assert me.status_code == 200
    assert me.json()["email"] == partner_admin.email
    # A token is enough for writes: no session, so no CSRF.
    response = script.post("/api/v1/contacts/", {"full_name": "Via Token"}, format="json")
    assert response.status_code == 201, response.content


def test_token_obtain_same_token_on_second_login(api_client, partner_admin, password):
    first = api_client.post(TOKEN_URL, {"email": partner_admin.email, "password": password}).json()["token"]
    second = api_client.post(TOKEN_URL, {"email": partner_admin.email, "password": password}).json()["token"]
    assert first == second


def test_token_obtain_wrong_password_gets_error_shape(api_client, partner_admin):
    response = api_client.post(TOKEN_URL, {"email": partner_admin.email, "password": "wrong-password-1"})
    error = assert_error(response, 400, "invalid_credentials")
    assert "token" not in response.json()
    assert error["message"]


def test_token_obtain_inactive_user_is_refused(api_client, partner_rep, password):
    partner_rep.is_active = False
    partner_rep.save(update_fields=["is_active"])
    assert_error(api_client.post(TOKEN_URL, {"email": partner_rep.email, "password": password}), 400)


def test_token_obtain_missing_fields_gets_400_with_fields(api_client):
    error = assert_error(api_client.post(TOKEN_URL, {"email": "not-an-email"}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"email", "password"}


def test_token_bad_token_gets_401_error(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(api_client.get(ME_URL), 401, "authentication_failed")


# --- Session authentication --------------------------------------------------------------------


def test_session_auth_reads_and_needs_csrf_for_writes(partner_admin):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(partner_admin, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(ME_URL).status_code == 200

    error = assert_error(client.post("/api/v1/contacts/", {"full_name": "No Csrf"}, format="json"), 403)
    assert "CSRF" in error["message"]

    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    response = client.post("/api/v1/contacts/", {"full_name": "With Csrf"}, format="json", HTTP_X_CSRFTOKEN=secret)
    assert response.status_code == 201, response.content


# --- The error shape -----------------------------------------------------------------------------


def test_error_shape_for_not_found_and_method_not_allowed(api_client, manager, partner_a):
    api_client.force_authenticate(manager)
    assert_error(api_client.get("/api/v1/partners/00000000-0000-0000-0000-000000000000/"), 404, "not_found")
    assert_error(api_client.delete(f"/api/v1/partners/{partner_a.public_id}/"), 405, "method_not_allowed")


def test_error_shape_for_forbidden(api_client, partner_a):
    rep = PartnerUserFactory(partner=partner_a, role=Role.PARTNER_REP)
    api_client.force_authenticate(rep)
    assert_error(api_client.post("/api/v1/interactions/", {}, format="json"), 403, "permission_denied")


def test_error_shape_for_malformed_json(api_client, manager):
    api_client.force_authenticate(manager)
    response = api_client.post("/api/v1/partners/", data="{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


# --- OpenAPI schema and docs ---------------------------------------------------------------------


def test_schema_generates_and_validates_without_warnings(tmp_path):
    # The same check as `manage.py spectacular --validate --fail-on-warn`: raises on any warning.
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/partners/{id}/status/" in text
    assert "Error:" in text  # the shared error component


def test_schema_endpoint_serves_openapi_with_error_responses(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "Error" in schema["components"]["schemas"]
    listing = schema["paths"]["/api/v1/partners/"]["get"]
    assert {"200", "400", "401", "403"} <= set(listing["responses"])
    assert listing["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    params = {p["name"] for p in listing["parameters"]}
    assert {"q", "tier", "status", "owner", "is_dormant", "ordering", "page"} <= params
    change_status = schema["paths"]["/api/v1/partners/{id}/status/"]["post"]
    assert "409" in change_status["responses"]
    # The invitation's token never appears in what the API returns.
    assert "token" not in schema["components"]["schemas"]["Invitation"]["properties"]


def test_docs_page_renders_swagger_ui_from_own_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/api/schema/" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"):
        assert cdn not in html
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
