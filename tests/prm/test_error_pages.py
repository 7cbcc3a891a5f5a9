import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_404_page_uses_prm_look_for_partner_user(partner_admin_client):
    response = partner_admin_client.get("/cabinet/no-such-page/")
    assert response.status_code == 404
    assert 'data-testid="error-404"' in response.content.decode()


def test_404_page_for_anonymous_user():
    response = Client().get("/definitely-missing/")
    assert response.status_code == 404
    assert 'data-testid="error-404"' in response.content.decode()


@override_settings(DEBUG=False)
def test_500_page_is_self_contained():
    from django.test import RequestFactory
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Что-то пошло не так" in response.content.decode()
