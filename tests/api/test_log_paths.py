"""No log line names what was typed into a URL's path where an id goes (``daicho.logs``).

A clerk (or a client system) that puts a person's name where a record's id goes is
answered 404, and Django's request log and gunicorn's access log wrote the path whole:
``Not Found: /api/v1/ledgers/dv/records/山田花子/``."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from gunicorn.config import Config

from daicho.logs import GunicornLogger, redacted_path
from tests.api.conftest import HOST, records_url

NAME = "山田花子"


def test_a_name_typed_where_the_id_goes_is_not_in_the_request_log(
    api: Any, console: io.StringIO
) -> None:
    clerk = api("clerk")
    assert clerk.get(records_url(NAME)).status_code == 404
    assert clerk.get(records_url(f"{NAME} 1984", "versions/")).status_code == 404
    written = console.getvalue()
    assert "Not Found: /api/v1/ledgers/dv/records/…/" in written  # the line is kept
    assert "Not Found: /api/v1/ledgers/dv/records/…/versions/" in written
    assert "山田" not in written
    assert "\\u5c71" not in written  # nor as Django escapes it


# What a clerk or a client system keyed by other numbers types where a record's id goes:
# a My Number, a resident number (住民番号), a phone number, a birth date, a postal code, a
# name in Latin letters. Plain ASCII all, and each is personal data beside the ledger's code
# (``dv``): the log told an operator which resident was looked up in the DV ledger.
TYPED = ["123456789012", "0012345678", "090-1234-5678", "1984-05-01", "840501", "181-0004",
         "yamada.hanako", "Yamada_Hanako"]  # fmt: skip


@pytest.mark.parametrize("typed", TYPED)
def test_an_identifier_typed_where_the_id_goes_is_not_in_the_request_log(
    api: Any, console: io.StringIO, typed: str
) -> None:
    clerk = api("clerk")
    assert clerk.get(records_url(typed)).status_code == 404
    assert clerk.get(records_url(typed, "versions/2/")).status_code == 404
    written = console.getvalue()
    assert "Not Found: /api/v1/ledgers/dv/records/…/" in written
    assert "Not Found: /api/v1/ledgers/dv/records/…/versions/2/" in written
    assert typed not in written


@pytest.mark.parametrize("typed", TYPED[:6])
def test_a_number_typed_in_any_segment_is_not_logged(typed: str) -> None:
    for path in [f"/api/v1/staff/{typed}/", f"/api/v1/ledgers/dv/search/{typed}/",
                 f"/{typed}/", f"/api/v1/auth/tokens/{typed}/"]:  # fmt: skip
        assert typed not in redacted_path(path)
        assert redacted_path(path).count("…") == 1


def test_plain_paths_are_logged_as_they_are() -> None:
    for path in ["/api/v1/ledgers/dv/records/0b9c3a3e-6c1d-4f7e-9d33-3c3b9e2f1a10/diff/",
                 "/api/v1/ledgers/dv/records/0B9C3A3E6C1D4F7E9D333C3B9E2F1A10/versions/12/",
                 "/api/v1/ledgers/dv/records/bulk/", "/api/v1/ledgers/dv/records/",
                 "/api/v1/ledgers/dv2024/search/kagai-1/", "/api/v1/staff/rpa01/",
                 "/api/v1/staff/clerk.1/", "/accounts/login/", "/", ""]:  # fmt: skip
        assert redacted_path(path) == path
    assert redacted_path("/api/v1/ledgers/dv/records/%E5%B1%B1%E7%94%B0/") == (
        "/api/v1/ledgers/dv/records/…/"
    )


def test_gunicorns_access_line_holds_no_query_and_no_typed_name() -> None:
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", '%({host}i)s "%(m)s %(U)s %(H)s" %(s)s %(r)s %(q)s %(f)s')
    logger = GunicornLogger(config)
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": f"/api/v1/ledgers/dv/records/{NAME}/",
        "RAW_URI": f"/api/v1/ledgers/dv/records/{NAME}/?name__contains={NAME}",
        "QUERY_STRING": f"name__contains={NAME}", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"https://mitaka.example/search/?q={NAME}",
    }  # fmt: skip
    request = SimpleNamespace(
        headers=[("HOST", "mitaka.example"), ("REFERER", environ["HTTP_REFERER"])]
    )
    response = SimpleNamespace(status="404 Not Found", sent=10, headers=[])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=3))
    line = logger.cfg.access_log_format % atoms
    assert line.startswith('mitaka.example "GET /api/v1/ledgers/dv/records/…/ HTTP/1.1" 404')
    assert NAME not in line
    assert "name__contains" not in line


def test_gunicorns_access_line_holds_no_typed_number() -> None:
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", '"%(m)s %(U)s %(H)s" %(s)s "%(r)s"')
    logger = GunicornLogger(config)
    path = "/api/v1/ledgers/dv/records/123456789012/"
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "RAW_URI": path,
               "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1"}  # fmt: skip
    request = SimpleNamespace(headers=[("HOST", "mitaka.example")])
    response = SimpleNamespace(status="404 Not Found", sent=10, headers=[])
    line = logger.cfg.access_log_format % logger.atoms(
        response, request, environ, timedelta(milliseconds=3)
    )
    assert line.startswith('"GET /api/v1/ledgers/dv/records/…/ HTTP/1.1" 404')
    assert "123456789012" not in line


def test_with_debug_on_no_handler_writes_a_typed_name(api: Any, settings: Any) -> None:
    """``make run`` (``daicho.settings.local``) runs with ``DEBUG`` on. Django's own
    console handler (its ``DEFAULT_LOGGING``, on the ``django`` logger, for ``DEBUG``
    only) stayed beside ours and wrote each request line unfiltered."""
    settings.DEBUG = True
    out = io.StringIO()
    handlers = {
        handler
        for name in ("django.request", "django", "")
        for handler in logging.getLogger(name).handlers
        if isinstance(handler, logging.StreamHandler)
    }
    before = {handler: handler.setStream(out) for handler in handlers}
    try:
        assert api("clerk").get(records_url(NAME)).status_code == 404
    finally:
        for handler, stream in before.items():
            handler.setStream(stream)
    written = out.getvalue()
    assert "Not Found: /api/v1/ledgers/dv/records/…/" in written
    assert NAME not in written
    assert "\\u5c71" not in written  # nor as Django escapes it


def test_a_refused_referrer_is_logged_without_its_query(city: Any, console: io.StringIO) -> None:
    """Django's CSRF refusal quotes the referrer it refused (a secure request without an
    ``Origin``): a page elsewhere whose address held a search for a name was written
    whole in the ``Forbidden (Referer checking failed - …)`` line."""
    client = Client(HTTP_HOST=HOST, enforce_csrf_checks=True)
    referrer = f"https://musashino.localhost/search/{NAME}/?name={NAME}&tel=09012345678"
    answer = client.post(
        "/accounts/login/", {"username": "clerk"}, secure=True, HTTP_REFERER=referrer
    )
    assert answer.status_code == 403
    written = console.getvalue()
    assert "Referer checking failed - https://musashino.localhost/search/…/ does not" in written
    assert NAME not in written
    assert "\\u5c71" not in written
    assert "09012345678" not in written
