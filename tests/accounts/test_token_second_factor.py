"""An API token works under two-factor sign-in only if it was issued with the owner's
second factor: one issued with the password alone stops working once the city requires
2FA or its owner sets up an authenticator app, on the very next request."""

from __future__ import annotations

import secrets
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from ledgers.api.tokens.models import ApiToken
from tests.accounts.conftest import STAFF_PASSWORD, audit_seq, audit_since, code_for, sign_in
from tests.conftest import ADMIN_PASSWORD, City

URL = "/api/v1/auth/token/"
REFUSED = "ERROR_TOKEN_SECOND_FACTOR_REQUIRED"


def _issue(city: City, **extra: str) -> str:
    # From an address of its own: the token endpoint's per-address rate (20/min, in Redis)
    # is shared by every test that runs within the minute.
    response = Client().post(
        URL, {"username": "tanaka", "password": STAFF_PASSWORD, **extra},
        content_type="application/json", HTTP_HOST=city.domain,
        REMOTE_ADDR=f"2001:db8::{secrets.token_hex(2)}",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    return response.json()["token"]


def _me(city: City, token: str) -> Any:
    return Client().get("/api/v1/me/", HTTP_HOST=city.domain, HTTP_AUTHORIZATION=f"Bearer {token}")


def _city_requires_2fa(city: City) -> None:
    """The city administrator ticks 「二要素認証を必須にする」 on the security page."""
    admin = Client()
    assert sign_in(admin, city, "admin", ADMIN_PASSWORD).status_code == 302
    saved = admin.post(
        "/accounts/security/",
        {"action": "save", "require_2fa": "on", "session_timeout_minutes": "30"},
        HTTP_HOST=city.domain,
    )
    assert saved.status_code == 302


def _enrol(client: Client, city: City) -> None:
    """The owner sets up an authenticator app on /accounts/2fa/."""
    assert client.get("/accounts/2fa/", HTTP_HOST=city.domain).status_code == 200
    with schema_context(city.slug):
        device = TOTPDevice.objects.get(user__username="tanaka", confirmed=False)
    done = client.post("/accounts/2fa/", {"otp_token": code_for(device)}, HTTP_HOST=city.domain)
    assert done.status_code == 200
    with schema_context(city.slug):
        assert TOTPDevice.objects.filter(user__username="tanaka", confirmed=True).exists()


def _assert_refused(response: Any) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["code"] == REFUSED
    assert "二要素認証" in response.json()["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_password_only_token_stops_when_the_city_requires_2fa(staff: Any, mitaka: City) -> None:
    """A token obtained with a stolen password before the city made 2FA mandatory must not
    outlive the rule: sessions without a second factor are sent to set one up, and so must
    the token be refused (the city's cached answer for it included)."""
    token = _issue(mitaka)
    assert _me(mitaka, token).status_code == 200  # verified and kept in process memory
    listed = Client().get(
        "/api/v1/auth/tokens/", HTTP_HOST=mitaka.domain, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert listed.json()["results"][0]["issued_with_second_factor"] is False
    _city_requires_2fa(mitaka)
    _assert_refused(_me(mitaka, token))


def test_a_password_only_token_stops_when_its_owner_sets_up_an_app(
    staff: Any, signed_in: Client, mitaka: City
) -> None:
    """Whoever took the password and a token with it keeps nothing once the owner sets up
    an authenticator app (as a session signed in with the password alone must give a code)."""
    token = _issue(mitaka)
    assert _me(mitaka, token).status_code == 200
    _enrol(signed_in, mitaka)
    _assert_refused(_me(mitaka, token))


def test_a_token_issued_with_a_code_keeps_working(staff_device: TOTPDevice, mitaka: City) -> None:
    start = audit_seq(mitaka)
    token = _issue(mitaka, otp=code_for(staff_device))
    issued = [e for e in audit_since(mitaka, start) if e.action == "auth.token_issued"]
    assert issued[0].details["second_factor"] == "totp"
    with schema_context(mitaka.slug):
        assert ApiToken.objects.get().issued_with_second_factor is True
    _city_requires_2fa(mitaka)
    assert _me(mitaka, token).status_code == 200


def test_the_operator_s_command_issues_no_token_that_2fa_would_refuse(
    staff_device: TOTPDevice, mitaka: City
) -> None:
    """A server operator's token (``issue_api_token``) carries nobody's second factor: for
    an owner who must give one it would be dead on arrival; the command says so instead."""
    with pytest.raises(CommandError, match="二要素認証"):
        call_command(
            "issue_api_token", "--schema", mitaka.slug, "--username", "tanaka", stdout=StringIO()
        )
    with schema_context(mitaka.slug):
        assert not ApiToken.objects.exists()
