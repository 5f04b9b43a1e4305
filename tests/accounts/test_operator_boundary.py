"""What the operator who opens a city knows must not open it: the first administrator's
password (typed by the operator) must be changed before anything else; a key of the set-up
page seen by whoever signed in first is not the owner's; the operators' admin tells nothing
of a city's staff; a token issued by a server command is the operator's act, not the staff
member's."""

from __future__ import annotations

from base64 import b32decode
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from tests.accounts.conftest import STAFF_PASSWORD, sign_in
from tests.conftest import City

User = get_user_model()
OPERATOR_CHOSEN = "Operator-knows-this-1"
CHOFU = "chofu.localhost"


@pytest.fixture
def chofu(operator_client: Client) -> None:
    response = operator_client.post(
        "/admin/tenants/municipality/add/",
        {"name": "調布市", "code": "132080", "slug": "chofu", "domain": CHOFU,
         "admin_username": "admin", "admin_password": OPERATOR_CHOSEN},
    )  # fmt: skip
    assert response.status_code == 302


def test_the_operator_s_password_opens_only_the_password_page(chofu: None) -> None:
    city = Client(HTTP_HOST=CHOFU)
    signed_in = city.post("/accounts/login/", {"username": "admin", "password": OPERATOR_CHOSEN})
    assert signed_in.status_code == 302
    page = city.get("/")
    assert (page.status_code, page["Location"]) == (302, "/accounts/password/")
    for path in ("/api/v1/staff/", "/api/v1/audit/events/", "/api/v1/me/"):
        refused = city.get(path)
        assert refused.status_code == 403
        assert refused.json()["code"] == "ERROR_PASSWORD_CHANGE_REQUIRED"
    token = Client(HTTP_HOST=CHOFU).post(
        "/api/v1/auth/token/", {"username": "admin", "password": OPERATOR_CHOSEN},
        content_type="application/json",
    )  # fmt: skip
    assert token.status_code == 401
    assert "初期パスワードを変更" in token.json()["message"]
    assert "初期パスワード" in city.get("/accounts/password/").content.decode()


def test_changing_it_opens_the_city_and_is_audited(chofu: None) -> None:
    city = Client(HTTP_HOST=CHOFU, REMOTE_ADDR="192.0.2.7")
    city.post("/accounts/login/", {"username": "admin", "password": OPERATOR_CHOSEN})
    wrong = city.post(
        "/accounts/password/",
        {"old_password": "not-it", "new_password1": "Only-the-city-2026", "new_password2": "Only-the-city-2026"},
    )  # fmt: skip
    assert wrong.status_code == 200
    with schema_context("chofu"):
        assert User.objects.get(username="admin").must_change_password is True
    changed = city.post(
        "/accounts/password/",
        {"old_password": OPERATOR_CHOSEN, "new_password1": "Only-the-city-2026",
         "new_password2": "Only-the-city-2026"},
    )  # fmt: skip
    assert (changed.status_code, changed["Location"]) == (302, "/")
    assert city.get("/").status_code == 200  # still signed in, nothing in the way
    assert city.get("/api/v1/me/").status_code == 200
    with schema_context("chofu"):
        admin = User.objects.get(username="admin")
        assert admin.must_change_password is False
        event = AuditEvent.objects.filter(action="auth.password_changed").get()
    assert (event.actor_id, event.details["ip"]) == (admin.pk, "192.0.2.7")
    old = Client(HTTP_HOST=CHOFU).post(
        "/accounts/login/", {"username": "admin", "password": OPERATOR_CHOSEN}
    )
    assert old.status_code == 200  # the operator's password no longer signs in


def _key_from(uri: str) -> bytes:
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    return b32decode(secret + "=" * (-len(secret) % 8))


def _code(key: bytes, drift: int = 0) -> str:
    return f"{totp(key, step=30, t0=0, digits=6, drift=drift):06d}"


def test_a_key_seen_before_the_owner_enrolled_is_not_the_owner_s(staff: Any, mitaka: City) -> None:
    intruder = Client()
    assert sign_in(intruder, mitaka, "tanaka", STAFF_PASSWORD).status_code == 302
    noted = _key_from(
        intruder.get("/accounts/2fa/", HTTP_HOST=mitaka.domain).context["otpauth_uri"]
    )
    owner = Client()
    assert sign_in(owner, mitaka, "tanaka", STAFF_PASSWORD).status_code == 302
    page = owner.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    own = _key_from(page.context["otpauth_uri"])
    assert own != noted  # a session of its own, a key of its own
    again = owner.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    assert _key_from(again.context["otpauth_uri"]) == own  # a reload keeps the scanned key
    confirmed = owner.post("/accounts/2fa/", {"otp_token": _code(own)}, HTTP_HOST=mitaka.domain)
    assert "二要素認証を設定しました" in confirmed.content.decode()
    later = Client()
    assert sign_in(later, mitaka, "tanaka", STAFF_PASSWORD)["Location"] == "/accounts/login/verify/"
    later.post("/accounts/login/verify/", {"otp_token": _code(noted, 1)}, HTTP_HOST=mitaka.domain)
    assert later.get("/", HTTP_HOST=mitaka.domain).status_code != 200
    # The intruder's session cannot confirm its key any more either: the device is gone.
    stale = intruder.post("/accounts/2fa/", {"otp_token": _code(noted)}, HTTP_HOST=mitaka.domain)
    assert "二要素認証を設定しました" not in stale.content.decode()


def test_the_admin_add_form_tells_nothing_of_a_city_s_usernames(
    operator_client: Client, mitaka: City
) -> None:
    with schema_context(mitaka.slug):
        User.objects.create_user(username="suzuki.hanako", password="Suzuki-pass-2026")

    def probe(username: str) -> Any:
        return operator_client.post(
            "/admin/tenants/municipality/add/",
            {"name": mitaka.name, "code": mitaka.code, "slug": mitaka.slug,
             "domain": mitaka.domain, "admin_username": username,
             "admin_password": "Any-valid-pass-123"},
        )  # fmt: skip

    present, absent = probe("suzuki.hanako"), probe("sato.ichiro")
    assert present.status_code == absent.status_code
    assert "存在しません" not in present.content.decode() + absent.content.decode()


def test_issue_api_token_is_the_operator_s_act_in_the_audit_trail(mitaka: City) -> None:
    with schema_context(mitaka.slug):
        last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    call_command(
        "issue_api_token", "--schema", mitaka.slug, "--username", "admin", stdout=StringIO()
    )
    with schema_context(mitaka.slug):
        event = AuditEvent.objects.filter(seq__gt=last, action="auth.token_issued").get()
    assert event.actor_id is None
    assert event.details["via"] == "manage.py issue_api_token"


def test_the_chosen_password_cannot_be_kept_by_changing_it_to_itself(chofu: None) -> None:
    """The operator (or an administrator who reset an account) who knows the chosen password
    must not clear ``must_change_password`` by "changing" it to the same one: the owner's
    password would still work, nobody would notice, and the whole city would be open."""
    city = Client(HTTP_HOST=CHOFU)
    city.post("/accounts/login/", {"username": "admin", "password": OPERATOR_CHOSEN})
    kept = city.post(
        "/accounts/password/",
        {"old_password": OPERATOR_CHOSEN, "new_password1": OPERATOR_CHOSEN,
         "new_password2": OPERATOR_CHOSEN},
    )  # fmt: skip
    assert kept.status_code == 200
    assert "現在のパスワードと異なる" in kept.content.decode()
    with schema_context("chofu"):
        assert User.objects.get(username="admin").must_change_password is True
        assert not AuditEvent.objects.filter(action="auth.password_changed").exists()
    assert city.get("/api/v1/me/").status_code == 403


def test_the_chosen_password_cannot_come_back_after_a_change(chofu: None) -> None:
    """Away and back (P → Q → P) clears the flag as well, with only a short window in which
    the owner's password failed: the password someone else chose never comes back."""
    city = Client(HTTP_HOST=CHOFU)
    city.post("/accounts/login/", {"username": "admin", "password": OPERATOR_CHOSEN})
    away = city.post(
        "/accounts/password/",
        {"old_password": OPERATOR_CHOSEN, "new_password1": "Only-for-a-moment-9",
         "new_password2": "Only-for-a-moment-9"},
    )  # fmt: skip
    assert away.status_code == 302
    back = city.post(
        "/accounts/password/",
        {"old_password": "Only-for-a-moment-9", "new_password1": OPERATOR_CHOSEN,
         "new_password2": OPERATOR_CHOSEN},
    )  # fmt: skip
    assert back.status_code == 200
    by_api = city.patch(
        "/api/v1/staff/admin/", {"password": OPERATOR_CHOSEN}, content_type="application/json"
    )
    assert by_api.status_code == 400, by_api.content
    old = Client(HTTP_HOST=CHOFU).post(
        "/accounts/login/", {"username": "admin", "password": OPERATOR_CHOSEN}
    )
    assert old.status_code == 200  # still refused: the owner's own password stays
