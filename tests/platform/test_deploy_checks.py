"""``manage.py check --deploy`` tells a deployment that weakened what production sets:
operators without a second factor, session and CSRF cookies another host under the
shared base domain could set, a database server whose log writes statements and error
details (``daicho.checks``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from daicho.checks import (
    check_database_server_log,
    check_host_only_cookies,
    check_operator_second_factor,
)

HOST_ONLY = {
    "SESSION_COOKIE_NAME": "__Host-daicho-session", "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_NAME": "__Host-daicho-csrf",
    "CSRF_COOKIE_DOMAIN": None, "CSRF_COOKIE_SECURE": True,
}  # fmt: skip


def _ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


def test_operators_without_a_second_factor_are_reported(settings: Any) -> None:
    settings.DEBUG = False
    settings.OPERATOR_REQUIRE_2FA = False
    assert _ids(check_operator_second_factor(None)) == ["daicho.W001"]
    settings.OPERATOR_REQUIRE_2FA = True
    assert check_operator_second_factor(None) == []


def test_cookies_are_host_only(settings: Any) -> None:
    for name, value in HOST_ONLY.items():
        setattr(settings, name, value)
    assert check_host_only_cookies(None) == []
    settings.SESSION_COOKIE_DOMAIN = ".daicho.example.jp"  # shared with every city's host
    assert _ids(check_host_only_cookies(None)) == ["daicho.W002"]
    settings.SESSION_COOKIE_DOMAIN = None
    settings.CSRF_COOKIE_NAME = "csrftoken"
    assert _ids(check_host_only_cookies(None)) == ["daicho.W002"]


# What PostgreSQL's own log writes unless told otherwise: a failing statement as it was sent
# (a search's terms, a record's values, bound on the client), and an error's DETAIL
# (``Key (…)=(山田 花子) already exists``), whatever Daicho's log filters withhold.
QUIET_SERVER_LOG = {
    "log_min_error_statement": "panic", "log_error_verbosity": "terse",
    "log_min_duration_statement": "-1", "log_min_duration_sample": "-1",
    "log_statement": "none", "log_transaction_sample_rate": "0",
    "log_parameter_max_length_on_error": "0",
}  # fmt: skip


def _set(values: dict[str, str]) -> None:
    with connection.cursor() as cursor:
        for name, value in values.items():
            cursor.execute(f"SET {name} = '{value}'")


@pytest.mark.django_db
def test_a_database_server_that_logs_statements_or_details_is_reported() -> None:
    _set({**QUIET_SERVER_LOG, "log_min_error_statement": "error", "log_error_verbosity": "default"})
    (warning,) = check_database_server_log(None)
    assert warning.id == "daicho.W003"
    assert "log_min_error_statement" in warning.msg
    assert "log_error_verbosity" in warning.msg
    _set({**QUIET_SERVER_LOG, "log_min_duration_statement": "1000"})
    (warning,) = check_database_server_log(None)
    assert "log_min_duration_statement" in warning.msg
    assert "log_min_error_statement" not in warning.msg
    _set(QUIET_SERVER_LOG)
    assert check_database_server_log(None) == []
