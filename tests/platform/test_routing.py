"""Host routing: city host → city URLconf, public host → operator admin, unknown → 404,
suspended → 403, and the same code under each host sees only its own city."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_context

from tenants.models import Municipality
from tenants.services import municipality_resume, municipality_suspend
from tests.conftest import ADMIN_PASSWORD, City

User = get_user_model()


def test_city_host_serves_the_city_urlconf(mitaka: City) -> None:
    response = Client().get("/accounts/login/", HTTP_HOST=mitaka.domain)
    assert response.status_code == 200
    assert "三鷹市" in response.content.decode()
    # The operator admin is not part of a city's URLs.
    assert Client().get("/admin/", HTTP_HOST=mitaka.domain).status_code == 404


def test_public_host_serves_the_operator_admin(cities: dict, db: None) -> None:
    response = Client().get("/admin/", HTTP_HOST="localhost")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert Client().get("/accounts/login/", HTTP_HOST="localhost").status_code == 404


def test_unknown_host_is_404_and_names_no_city(cities: dict, db: None) -> None:
    response = Client().get("/accounts/login/", HTTP_HOST="chofu.localhost")
    assert response.status_code == 404
    body = response.content.decode()
    assert "三鷹市" not in body
    assert "武蔵野市" not in body


def test_suspended_city_gets_a_clear_403_on_every_path(musashino: City) -> None:
    municipality_suspend(actor=None, municipality=musashino.municipality, reason="契約更新待ち")
    for path in ["/", "/accounts/login/", "/no/such/page/"]:
        response = Client().get(path, HTTP_HOST=musashino.domain)
        assert response.status_code == 403
        assert "利用停止" in response.content.decode()
    municipality_resume(actor=None, municipality=Municipality.objects.get(schema_name="musashino"))
    assert Client().get("/accounts/login/", HTTP_HOST=musashino.domain).status_code == 200


def test_the_same_sign_in_code_sees_only_its_own_city(mitaka: City, musashino: City) -> None:
    with schema_context(mitaka.slug):
        User.objects.create_user(username="tanaka", password=ADMIN_PASSWORD, display_name="田中")
    credentials = {"username": "tanaka", "password": ADMIN_PASSWORD}

    in_mitaka = Client()
    response = in_mitaka.post("/accounts/login/", credentials, HTTP_HOST=mitaka.domain)
    assert response.status_code == 302
    home = in_mitaka.get("/", HTTP_HOST=mitaka.domain)
    assert home.status_code == 200
    assert "田中" in home.content.decode()
    assert "三鷹市" in home.content.decode()

    # The same account does not exist for Musashino's sign-in, nor for the operators'.
    response = Client().post("/accounts/login/", credentials, HTTP_HOST=musashino.domain)
    assert response.status_code == 200
    assert "正しくありません" in response.content.decode()
    response = Client().post("/admin/login/", credentials, HTTP_HOST="localhost")
    assert response.status_code == 200


def test_a_session_from_one_city_is_not_valid_on_another(mitaka: City, musashino: City) -> None:
    client = Client()
    client.post(
        "/accounts/login/",
        {"username": "admin", "password": ADMIN_PASSWORD},
        HTTP_HOST=mitaka.domain,
    )
    assert client.get("/", HTTP_HOST=mitaka.domain).status_code == 200
    # Replaying Mitaka's session cookie on Musashino's host: its session table has no such row.
    response = client.get("/", HTTP_HOST=musashino.domain)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("host", ["mitaka.localhost", "localhost", "10.1.2.3", "evil.example"])
def test_health_answers_on_every_host(cities: dict, db: None, host: str) -> None:
    response = Client().get("/healthz", HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("spelling", ["upper", "trailing_dot", "port"])
def test_a_host_is_read_as_dns_reads_it(mitaka: City, spelling: str) -> None:
    """Host names are case-insensitive and a fully qualified name may end with a dot
    (RFC 4343, RFC 1034): a client that sends ``Mitaka.localhost`` or ``mitaka.localhost.``
    reaches the city, not the unknown-host page."""
    host = {
        "upper": mitaka.domain.upper(),
        "trailing_dot": mitaka.domain + ".",
        "port": mitaka.domain.capitalize() + ":8000",
    }[spelling]
    response = Client().get("/accounts/login/", HTTP_HOST=host)
    assert response.status_code == 200
    assert "三鷹市" in response.content.decode()


def test_a_suspended_city_s_api_answers_403_in_the_api_s_error_shape(musashino: City) -> None:
    """The API's answer on a suspended city's host was the HTML page, where every error of
    the API is ``{"code", "message", "detail"}`` (documented as 403 on every operation): a
    client read no code, and a strict one failed on the content type."""
    municipality_suspend(actor=None, municipality=musashino.municipality, reason="契約更新待ち")
    try:
        for path in ["/api/v1/me/", "/api/v1/ledgers/dv/records/", "/api/schema/"]:
            response = Client().get(path, HTTP_HOST=musashino.domain)
            assert response.status_code == 403
            assert response["Content-Type"] == "application/json"
            body = response.json()
            assert body["code"] == "ERROR_MUNICIPALITY_SUSPENDED"
            assert "利用停止" in body["message"]
            assert body["detail"] == {}
            assert "no-store" in response["Cache-Control"]
        page = Client().get("/accounts/login/", HTTP_HOST=musashino.domain)
        assert (page.status_code, page["Content-Type"].split(";")[0]) == (403, "text/html")
    finally:
        municipality_resume(
            actor=None, municipality=Municipality.objects.get(schema_name="musashino")
        )


@pytest.mark.parametrize("host", ["chofu.localhost", "bad_host!"])
def test_an_unknown_host_s_api_answers_404_in_the_api_s_error_shape(
    cities: dict, db: None, host: str
) -> None:
    """A client with a mistyped city host got an HTML page (or an empty one for a host
    Django refuses): the API's answers under /api/ are JSON in its error shape, naming no
    city."""
    response = Client().get("/api/v1/me/", HTTP_HOST=host)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "ERROR_UNKNOWN_HOST",
        "message": response.json()["message"],
        "detail": {},
    }
    assert "三鷹市" not in response.json()["message"]
    assert "no-store" in response["Cache-Control"]
