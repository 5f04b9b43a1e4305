"""Session expiry: the city's idle timeout and the cap counted from the sign-in."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_context

from daicho.accounts.middleware import SESSION_LAST_SEEN, SESSION_SIGNED_IN_AT
from tests.accounts.conftest import audit_seq, audit_since, security_settings_set
from tests.conftest import City


def _age_session(client: Client, city: City, key: str, seconds: int) -> None:
    with schema_context(city.slug):
        session = client.session
        session[key] -= seconds
        session.save()


def test_an_idle_session_is_signed_out(signed_in: Client, mitaka: City) -> None:
    _age_session(signed_in, mitaka, SESSION_LAST_SEEN, 31 * 60)
    start = audit_seq(mitaka)
    response = signed_in.get("/", HTTP_HOST=mitaka.domain)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    page = signed_in.get(response["Location"], HTTP_HOST=mitaka.domain)
    assert "一定時間操作がなかったため" in page.content.decode()
    events = audit_since(mitaka, start)
    assert [event.action for event in events] == ["auth.logout"]
    assert events[0].details["reason"] == "idle_timeout"


def test_activity_keeps_the_session(signed_in: Client, mitaka: City) -> None:
    _age_session(signed_in, mitaka, SESSION_LAST_SEEN, 29 * 60)
    assert signed_in.get("/", HTTP_HOST=mitaka.domain).status_code == 200
    # That request counted as activity: another 29 minutes later the session still holds.
    _age_session(signed_in, mitaka, SESSION_LAST_SEEN, 29 * 60)
    assert signed_in.get("/", HTTP_HOST=mitaka.domain).status_code == 200


@pytest.mark.parametrize(("minutes", "idle", "kept"), [(60, 45, True), (10, 11, False)])
def test_the_idle_timeout_is_the_citys_own(
    signed_in: Client, mitaka: City, minutes: int, idle: int, kept: bool
) -> None:
    security_settings_set(mitaka, session_timeout_minutes=minutes)
    _age_session(signed_in, mitaka, SESSION_LAST_SEEN, idle * 60)
    status = signed_in.get("/", HTTP_HOST=mitaka.domain).status_code
    assert status == (200 if kept else 302)


def test_a_session_ends_at_the_cap_however_active(signed_in: Client, mitaka: City) -> None:
    _age_session(signed_in, mitaka, SESSION_SIGNED_IN_AT, settings.SESSION_COOKIE_AGE + 1)
    start = audit_seq(mitaka)
    response = signed_in.get("/", HTTP_HOST=mitaka.domain)
    assert response.status_code == 302
    events = audit_since(mitaka, start)
    assert [event.action for event in events] == ["auth.logout"]
    assert events[0].details["reason"] == "session_expired"


def test_operators_sessions_time_out_too(cities: dict, db: None, settings: Any) -> None:
    get_user_model().objects.create_superuser(username="operator", password="x" * 12, email="")
    client = Client(HTTP_HOST="localhost")
    assert client.login(username="operator", password="x" * 12)
    assert client.get("/admin/").status_code == 200
    session = client.session
    session[SESSION_LAST_SEEN] = session.get(SESSION_LAST_SEEN, 0) - (
        settings.OPERATOR_SESSION_TIMEOUT_MINUTES * 60 + 1
    )
    session.save()
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
