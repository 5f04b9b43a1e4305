"""POST /api/v1/auth/token/ and the bearer tokens it issues."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from ledgers.api.tokens.models import ApiToken
from ledgers.api.tokens.services import token_revoke
from tests.api.conftest import HOST, Api

URL = "/api/v1/auth/token/"


def test_password_gives_a_token_with_expiry_and_scopes(city: dict[str, Any]) -> None:
    response = APIClient(HTTP_HOST=HOST).post(
        URL,
        {"username": "clerk", "password": "S3cret!pass-api", "scopes": ["records:read"]},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"token", "expires_at", "scopes"}
    assert body["scopes"] == ["records:read"]
    me = APIClient(HTTP_HOST=HOST).get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.status_code == 200
    assert me.json()["username"] == "clerk"
    with schema_context("mitaka"):
        stored = ApiToken.objects.get(user__username="clerk")
    # Stored hashed: the secret part of the token (dch_<prefix>_<secret>, whose urlsafe
    # secret may hold "_" itself) is nowhere in the row.
    secret = body["token"].split("_", 2)[2]
    assert len(secret) >= 40
    assert secret not in stored.key_hash


def test_an_empty_list_of_scopes_is_refused_not_read_as_every_scope(city: dict[str, Any]) -> None:
    """``"scopes": []`` asks for a token that may do nothing: it was read as no scopes
    given, and answered with a ``*`` token that may do everything the account may. Left out,
    the scopes are ``*`` as documented."""
    client = APIClient(HTTP_HOST=HOST)
    body = {"username": "clerk", "password": "S3cret!pass-api"}
    refused = client.post(URL, {**body, "scopes": []}, format="json")
    assert refused.status_code == 400, refused.json()
    assert refused.json()["detail"]["allowed"]
    with schema_context("mitaka"):
        assert not ApiToken.objects.filter(user__username="clerk").exists()
    left_out = client.post(URL, body, format="json")
    assert left_out.status_code == 201
    assert left_out.json()["scopes"] == ["*"]


def test_wrong_password_is_401_with_the_error_shape(city: dict[str, Any]) -> None:
    response = APIClient(HTTP_HOST=HOST).post(
        URL, {"username": "clerk", "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "ERROR_NOT_AUTHENTICATED"


def test_a_user_with_a_device_needs_the_otp(city: dict[str, Any]) -> None:
    with schema_context("mitaka"):
        device = TOTPDevice.objects.create(user=city["people"]["clerk"], name="app", confirmed=True)
    client = APIClient(HTTP_HOST=HOST)
    body = {"username": "clerk", "password": "S3cret!pass-api"}
    assert client.post(URL, body, format="json").status_code == 401
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    assert client.post(URL, {**body, "otp": code}, format="json").status_code == 201
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    assert client.post(URL, {**body, "otp": wrong}, format="json").status_code == 401


def test_a_typo_in_what_is_asked_for_does_not_use_up_the_one_time_code(
    city: dict[str, Any],
) -> None:
    """The scopes, the lifetime and the name were checked after the password and the code:
    a typo in the scopes (400) used up the code, and the corrected request was 401 until
    the next one (found by the token review of 2026-11-30)."""
    with schema_context("mitaka"):
        device = TOTPDevice.objects.create(user=city["people"]["clerk"], name="app", confirmed=True)
    # An address of its own: the endpoint's 20 tries a minute are counted per address, and
    # the suite's other token requests from 127.0.0.1 share that minute.
    client = APIClient(HTTP_HOST=HOST, REMOTE_ADDR="192.0.2.71")
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    body = {"username": "clerk", "password": "S3cret!pass-api", "otp": code}
    for typo in ({"scopes": ["records:raed"]}, {"expires_in_days": 400}, {"name": "a\u202eb"}):
        refused = client.post(URL, {**body, **typo}, format="json")
        assert refused.status_code == 400, refused.json()
    issued = client.post(URL, {**body, "scopes": ["records:read"]}, format="json")
    assert issued.status_code == 201, issued.json()
    # Nor does a typo tell anything of the account: the same 400 for no such username.
    clerk = client.post(URL, {**body, "scopes": ["x"]}, format="json")
    nobody = client.post(URL, {**body, "username": "nobody", "scopes": ["x"]}, format="json")
    assert nobody.status_code == clerk.status_code == 400
    assert nobody.json() == clerk.json()


def test_a_token_of_another_city_is_401_here(city: dict[str, Any], musashino: Any) -> None:
    from django.contrib.auth import get_user_model

    with schema_context("musashino"):
        other = get_user_model().objects.get(username="admin")
    from ledgers.api.tokens.services import token_issue

    with schema_context("musashino"):
        foreign = token_issue(actor=other, user=other, scopes=["*"]).token
    response = APIClient(HTTP_HOST=HOST).get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {foreign}")
    assert response.status_code == 401
    ok = APIClient(HTTP_HOST="musashino.localhost").get(
        "/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {foreign}"
    )
    assert ok.status_code == 200


def test_expired_and_revoked_tokens_are_401(api: Any) -> None:
    expired, revoked = api("clerk"), api("clerk")
    with schema_context("mitaka"):
        ApiToken.objects.filter(prefix=expired.token.split("_")[1]).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        token = ApiToken.objects.get(prefix=revoked.token.split("_")[1])
        token_revoke(actor=token.user, token=token)
    assert expired.get("/api/v1/me/").status_code == 401
    assert revoked.get("/api/v1/me/").status_code == 401
    assert api("clerk").get("/api/v1/me/").status_code == 200


def test_scopes_are_enforced(api: Any) -> None:
    reader: Api = api("clerk", ["records:read"])
    assert reader.get("/api/v1/ledgers/dv/records/").status_code == 200
    response = reader.post("/api/v1/ledgers/dv/records/", {"values": {"name": "佐藤 一郎"}})
    assert response.status_code == 403
    assert response.json()["code"] == "ERROR_PERMISSION_DENIED"
    assert reader.get("/api/v1/audit/events/").status_code == 403


def test_no_token_is_401(city: dict[str, Any]) -> None:
    response = APIClient(HTTP_HOST=HOST).get("/api/v1/ledgers/")
    assert response.status_code == 401
    assert response.json()["code"] == "ERROR_NOT_AUTHENTICATED"
    garbage = APIClient(HTTP_HOST=HOST).get("/api/v1/ledgers/", HTTP_AUTHORIZATION="Bearer dch_x_y")
    assert garbage.status_code == 401


def test_a_huge_scope_is_refused_without_being_echoed(city: dict[str, Any]) -> None:
    """Before any password is checked, an unknown scope was named back twice (in the
    message and in ``detail``): anyone could send 100 kB to the token endpoint and get
    200 kB back. A scope is at most 32 characters, and at most 16 may be asked for."""
    client = APIClient(HTTP_HOST=HOST)
    body = {"username": "clerk", "password": "S3cret!pass-api"}
    for scopes in (["s" * 100_000], ["records:read"] * 17):
        refused = client.post(URL, {**body, "scopes": scopes}, format="json")
        assert refused.status_code == 400
        assert len(refused.content) < 1000
    with schema_context("mitaka"):
        assert not ApiToken.objects.filter(user__username="clerk").exists()
