"""``manage.py check --deploy`` tells a deployment that weakened what production sets:
operators without a second factor, session and CSRF cookies another host under the
shared base domain could set (``daicho.checks``)."""

from __future__ import annotations

from typing import Any

from daicho.checks import check_host_only_cookies, check_operator_second_factor

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
