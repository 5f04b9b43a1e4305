"""/api/v1/auth/tokens/: a staff member's own tokens, listed and revoked; a city
administrator's view of anyone's; and ``manage.py revoke_api_tokens`` for an incident."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from ledgers.api.tokens.models import ApiToken
from ledgers.audit.models import AuditEvent
from tests.api.conftest import HOST, Api

URL = "/api/v1/auth/tokens/"


def prefix(api: Api) -> str:
    return api.token.split("_")[1]


def revocations() -> list[dict[str, Any]]:
    with schema_context("mitaka"):
        return [
            {"actor": e.actor_id, **e.details}
            for e in AuditEvent.objects.filter(action="auth.token_revoked").order_by("seq")
        ]


def test_a_staff_member_lists_their_own_tokens_without_the_secret(api: Any) -> None:
    first, second = api("clerk", ["records:read"]), api("clerk")
    api("zei")  # someone else's: not listed
    with schema_context("mitaka"):
        # Issued a minute before the second: two tokens made back to back can share a
        # clock reading, or see it step back (a virtual machine's clock), and the order
        # under test is by issue time.
        ApiToken.objects.filter(prefix=prefix(first)).update(
            expires_at=timezone.now() - timedelta(seconds=1),
            created_at=timezone.now() - timedelta(minutes=1),
        )
    response = second.get(URL)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["prefix"] for r in rows] == [prefix(second), prefix(first)]  # newest first
    assert {r["username"] for r in rows} == {"clerk"}
    assert [r["state"] for r in rows] == ["active", "expired"]
    assert [r["current"] for r in rows] == [True, False]
    assert rows[1]["scopes"] == ["records:read"]
    assert rows[0]["last_used_at"] is not None  # this very request used it
    # The secret is all after the prefix's "_": itself URL-safe base64, it may hold "_"
    # (its last piece alone, a letter or two, was found in the answer now and then).
    secrets = {api_.token.partition(f"{prefix(api_)}_")[2] for api_ in (first, second)}
    assert all(len(secret) >= 40 for secret in secrets)
    assert not any(s in response.content.decode() for s in secrets)


def test_a_token_revokes_itself_and_is_401_on_the_next_request(api: Any) -> None:
    clerk: Api = api("clerk", ["records:read"])  # any scope may revoke its own token
    assert clerk.delete(f"{URL}{prefix(clerk)}/").status_code == 204
    assert clerk.get("/api/v1/me/").status_code == 401
    # The token revoked (``token``) and the one the request acted with (``api_token``).
    assert revocations() == [
        {"actor": clerk.user.pk, "token": prefix(clerk), "user": clerk.user.pk,
         "api_token": {"id": prefix(clerk)}}
    ]  # fmt: skip


def test_revoking_another_own_token_leaves_the_caller_s_working(api: Any) -> None:
    old, new = api("clerk"), api("clerk")
    assert new.delete(f"{URL}{prefix(old)}/").status_code == 204
    assert old.get("/api/v1/me/").status_code == 401
    assert new.get("/api/v1/me/").status_code == 200
    listed = {r["prefix"]: r for r in new.get(URL).json()["results"]}
    assert listed[prefix(old)]["state"] == "revoked"
    assert listed[prefix(old)]["revoked_at"] is not None


def test_revoking_twice_keeps_the_first_time_and_one_event(api: Any) -> None:
    old, new = api("clerk"), api("clerk")
    assert new.delete(f"{URL}{prefix(old)}/").status_code == 204
    with schema_context("mitaka"):
        first_time = ApiToken.objects.get(prefix=prefix(old)).revoked_at
    assert new.delete(f"{URL}{prefix(old)}/").status_code == 204
    with schema_context("mitaka"):
        assert ApiToken.objects.get(prefix=prefix(old)).revoked_at == first_time
    assert len(revocations()) == 1


def test_another_staff_member_s_token_is_404_to_a_colleague(api: Any) -> None:
    victim, colleague = api("clerk"), api("zei")
    for method in ("get", "delete"):
        response = getattr(colleague, method)(f"{URL}{prefix(victim)}/")
        assert response.status_code == 404
        assert response.json()["code"] == "ERROR_TOKEN_DOES_NOT_EXIST"
    # exactly what a token that does not exist answers
    assert colleague.delete(f"{URL}000000000000/").json()["code"] == "ERROR_TOKEN_DOES_NOT_EXIST"
    assert victim.get("/api/v1/me/").status_code == 200
    listing = colleague.get(URL, {"username": "clerk"})
    assert listing.status_code == 403
    assert listing.json()["code"] == "ERROR_PERMISSION_DENIED"
    assert revocations() == []


def test_a_city_administrator_lists_and_revokes_anyone_s_tokens(api: Any) -> None:
    victim, admin = api("clerk"), api("admin")
    listing = admin.get(URL, {"username": "clerk"})
    assert listing.status_code == 200
    assert [r["prefix"] for r in listing.json()["results"]] == [prefix(victim)]
    assert admin.delete(f"{URL}{prefix(victim)}/").status_code == 204
    assert victim.get("/api/v1/me/").status_code == 401
    assert revocations() == [
        {"actor": admin.user.pk, "token": prefix(victim), "user": victim.user.pk,
         "api_token": {"id": prefix(admin)}}
    ]  # fmt: skip
    assert admin.get(URL, {"username": "nobody"}).status_code == 404


def test_an_administrator_s_token_without_staff_admin_manages_only_its_own(api: Any) -> None:
    victim, admin = api("clerk"), api("admin", ["records:read"])
    assert admin.get(URL, {"username": "clerk"}).status_code == 403
    assert admin.delete(f"{URL}{prefix(victim)}/").status_code == 404
    assert victim.get("/api/v1/me/").status_code == 200
    assert admin.get(URL).status_code == 200


def test_no_token_is_401(city: dict[str, Any]) -> None:
    assert Client(HTTP_HOST=HOST).get(URL).status_code == 401


def test_the_web_ui_revokes_with_its_session_and_csrf(api: Any, city: dict[str, Any]) -> None:
    token = api("clerk")
    browser = Client(HTTP_HOST=HOST, enforce_csrf_checks=True)
    browser.force_login(city["people"]["clerk"])
    assert [r["prefix"] for r in browser.get(URL).json()["results"]] == [prefix(token)]
    refused = browser.delete(f"{URL}{prefix(token)}/")
    assert refused.status_code == 403  # no CSRF token
    assert token.get("/api/v1/me/").status_code == 200
    browser.get("/")  # a page sets the CSRF cookie, as the web UI's do
    csrf = browser.cookies["csrftoken"].value
    assert browser.delete(f"{URL}{prefix(token)}/", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert token.get("/api/v1/me/").status_code == 401


def test_revoke_api_tokens_command_by_prefix_and_by_staff_member(api: Any) -> None:
    one, two, other = api("clerk"), api("clerk"), api("zei")
    out = StringIO()
    call_command("revoke_api_tokens", "--schema", "mitaka", "--prefix", prefix(one), stdout=out)
    assert out.getvalue().strip() == "1 件のトークンを失効させました。"
    assert one.get("/api/v1/me/").status_code == 401
    assert two.get("/api/v1/me/").status_code == 200
    out = StringIO()
    call_command("revoke_api_tokens", "--schema", "mitaka", "--username", "clerk", stdout=out)
    assert out.getvalue().strip() == "1 件のトークンを失効させました。"  # the other one
    assert two.get("/api/v1/me/").status_code == 401
    assert other.get("/api/v1/me/").status_code == 200
    events = revocations()
    assert [e["token"] for e in events] == [prefix(one), prefix(two)]
    assert {e["actor"] for e in events} == {None}  # a server operator, not city staff


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--schema", "public", "--username", "clerk"], "自治体「public」はありません。"),
        (["--schema", "nowhere", "--username", "clerk"], "自治体「nowhere」はありません。"),
        (
            ["--schema", "mitaka", "--prefix", "000000000000"],
            "トークン「000000000000」はありません。",
        ),
        (["--schema", "mitaka", "--username", "nobody"], "職員「nobody」はいません。"),
    ],
)
def test_revoke_api_tokens_command_refuses_bad_input(
    city: dict[str, Any], arguments: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("revoke_api_tokens", *arguments)
    assert revocations() == []
