"""The web UI's middleware is stepped over by API requests bearing a token, and only by them
(``daicho.accounts.ui_middleware``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory

from daicho.accounts.ui_middleware import bears_token
from tests.api.conftest import HOST, records_url


@pytest.mark.parametrize(
    ("path", "header", "expected"),
    [
        ("/api/v1/me/", "Bearer dch_abc", True),
        ("/api/v1/me/", "bearer dch_abc", True),
        ("/api/v1/me/", "BEARER \t dch_abc", True),
        ("/api/v1/me/", "Bearer\xa0dch_abc", False),  # not ASCII whitespace: not Bearer
        ("/api/v1/me/", "Bearer", True),  # the token authentication refuses it (401)
        ("/api/v1/me/", "Bearerdch_abc", False),
        ("/api/v1/me/", "Basic dXNlcjpwYXNz", False),
        ("/api/v1/me/", None, False),
        ("/ledgers/", "Bearer dch_abc", False),
        ("/apix/", "Bearer dch_abc", False),
    ],
)
def test_what_counts_as_a_request_bearing_a_token(
    path: str, header: str | None, expected: bool
) -> None:
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    assert bears_token(RequestFactory().get(path, **extra)) is expected


def test_a_token_request_passes_no_session_csrf_or_messages_and_keeps_the_security_headers(
    api: Any, city: dict[str, Any]
) -> None:
    response = api("clerk").get(records_url(city["record"].pk))
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "_messages")
    assert "CSRF_COOKIE" not in request.META
    assert not response.cookies
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    # DRF set the authenticated staff member on the request for the code after it.
    assert request.user.username == "clerk"


def test_a_bad_token_is_refused_without_falling_back_to_the_session(
    api: Any, city: dict[str, Any]
) -> None:
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(city["people"]["clerk"])
    assert browser.get("/api/v1/me/").status_code == 200  # signed in: the session works
    response = browser.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer dch_made_up")
    assert response.status_code == 401
    assert response.json()["code"].startswith("ERROR_")


def test_the_web_uis_own_api_calls_keep_their_session_and_csrf(
    city: dict[str, Any],
) -> None:
    """A browser signed in with a session calls the API through every middleware: its
    session is read and kept alive, and an unsafe method needs the CSRF token."""
    browser = Client(HTTP_HOST=HOST, enforce_csrf_checks=True)
    browser.force_login(city["people"]["clerk"])
    me = browser.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "clerk"
    assert hasattr(me.wsgi_request, "session")
    values = {"values": {"name": {"kanji": "佐藤 一郎", "kana": "サトウ イチロウ"}}}
    refused = browser.post(records_url(), values, content_type="application/json")
    assert refused.status_code == 403
    browser.get("/")  # a page sets the CSRF cookie, as the web UI's do
    token = browser.cookies["csrftoken"].value
    created = browser.post(
        records_url(), values, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert created.status_code == 201, created.content


def test_a_token_on_a_page_of_the_web_ui_changes_nothing(city: dict[str, Any]) -> None:
    """Outside /api/ the header is nobody's business: the page still wants a session."""
    response = Client(HTTP_HOST=HOST).get("/", HTTP_AUTHORIZATION="Bearer dch_abc")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert hasattr(response.wsgi_request, "session")
