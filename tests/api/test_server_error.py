"""A server error under /api/ answers in the API's error shape (``{"code", "message",
"detail"}``), as the contract says every error does: a client that reads the shape was
handed Django's HTML page (noticed by the fuzzing review)."""

from __future__ import annotations

import json

from django.test import RequestFactory
from django.urls import get_resolver

from daicho import views


def test_the_city_hosts_server_error_handler_is_the_apis() -> None:
    assert get_resolver("daicho.urls_tenant").resolve_error_handler(500) is views.server_error


def test_a_server_error_under_the_api_is_the_error_shape() -> None:
    answer = views.server_error(RequestFactory().get("/api/v1/ledgers/dv/records/"))
    assert answer.status_code == 500
    assert answer["Content-Type"] == "application/json"
    body = json.loads(answer.content)
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == "ERROR_SERVER"
    assert "サーバー" in body["message"]


def test_a_server_error_of_a_page_stays_a_page() -> None:
    answer = views.server_error(RequestFactory().get("/accounts/login/"))
    assert answer.status_code == 500
    assert answer["Content-Type"].startswith("text/html")
