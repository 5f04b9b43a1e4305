"""A server error under /api/ answers in the API's error shape (``{"code", "message",
"detail"}``), as the contract says every error does: a client that reads the shape was
handed Django's HTML page (noticed by the fuzzing review)."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import psycopg
import pytest
from django.test import RequestFactory
from django.urls import get_resolver
from rest_framework.test import APIClient

from daicho import views
from tests.api.conftest import HOST, records_url


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


class _Failing:
    """psycopg's ``Cursor.execute`` raising ``error`` from the next statement on (the
    database client is patched, as a database that fails would make it raise)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __call__(self, cursor: Any, *args: Any, **kwargs: Any) -> Any:
        raise self.error


def _lost() -> Exception:
    return psycopg.OperationalError("consuming input failed: server closed the connection")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (_lost, 503),
        (lambda: psycopg.errors.SerializationFailure("could not serialize access"), 503),
        (lambda: psycopg.errors.DeadlockDetected("deadlock detected"), 503),
        (lambda: psycopg.errors.TooManyConnections("too many clients"), 503),
        (lambda: psycopg.errors.AdminShutdown("terminating connection"), 503),
        (lambda: psycopg.errors.QueryCanceled("canceling statement"), 500),
    ],
    ids=["connection-lost", "serialization", "deadlock", "too-many", "shutdown", "cancelled"],
)
def test_a_database_that_fails_for_now_is_503_with_retry_after(
    api: Any, city: dict[str, Any], error: Any, status: int
) -> None:
    """Found by the review of degraded dependencies: a database that went away, refused a
    connection or rolled a transaction back for another's sake (a failover, a restart,
    ``max_connections``, a serialization failure, a deadlock) answered 500 ``ERROR_SERVER``
    like a fault of ours: a client could not tell that the same request may be sent again
    a moment later. Those are 503 ``ERROR_SERVICE_UNAVAILABLE`` with ``Retry-After``; a
    statement cancelled (a timeout: the same request would meet it again) stays 500."""
    clerk = api("clerk")
    url = records_url(city["record"].pk)
    assert clerk.get(url).status_code == 200  # the host and the token are cached
    client = APIClient(HTTP_HOST=HOST, raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {clerk.token}")
    with mock.patch.object(psycopg.Cursor, "execute", _Failing(error())):
        answer = client.get(url)
    assert answer.status_code == status
    body = answer.json()
    assert set(body) == {"code", "message", "detail"}
    if status == 503:
        assert body["code"] == "ERROR_SERVICE_UNAVAILABLE"
        assert "しばらく" in body["message"]
        assert int(answer["Retry-After"]) > 0
    else:
        assert body["code"] == "ERROR_SERVER"
        assert "Retry-After" not in answer
