"""What the operator who opens a city knows must not open it: the first administrator's
password (typed by the operator) must be changed before anything else; a key of the set-up
page seen by whoever signed in first is not the owner's; the operators' admin tells nothing
of a city's staff; a token issued by a server command is the operator's act, not the staff
member's."""

from __future__ import annotations

import contextlib
import importlib
from base64 import b32decode
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from ledgers.api.tokens.models import ApiToken
from ledgers.api.tokens.services import token_issue
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
    # …and the city's administrator reads it, told apart from the administrator's own.
    shown = [e for e in _admin_reads(mitaka, "auth.token_issued") if e["seq"] == event.seq]
    assert [(e["actor"], e["details"]["via"]) for e in shown] == [
        (None, "manage.py issue_api_token")
    ]


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


def _command_error(*arguments: str) -> str:
    with pytest.raises(CommandError) as refused:
        call_command(*arguments, stdout=StringIO())
    return str(refused.value)


@pytest.mark.parametrize(
    "wrong", [["--scopes", "root"], ["--scopes", ","], ["--days", "0"], ["--days", "400"]]
)
def test_issue_api_token_s_errors_tell_no_username_apart(
    staff: Any, mitaka: City, wrong: list[str]
) -> None:
    """Wrong scopes or days were found only after the username had been looked up: for a
    username the city has the command said 「スコープが正しくありません」, for one it has not
    「職員「…」はいません」, and nothing was issued, so nothing was in the city's trail. An
    operator learnt the city's usernames one by one, unseen. Now the command's own
    arguments are checked first: the same answer whoever is named."""
    asked = ["issue_api_token", "--schema", mitaka.slug, *wrong]
    present = _command_error(*asked, "--username", "tanaka")
    absent = _command_error(*asked, "--username", "sato.ichiro")
    assert present == absent
    assert "職員" not in present


def _admin_reads(mitaka: City, action: str) -> list[dict[str, Any]]:
    """The city administrator's view of the trail (GET /api/v1/audit/events/)."""
    with schema_context(mitaka.slug):
        admin = User.objects.get(username="admin")
        token = token_issue(actor=admin, user=admin, scopes=["audit:read"]).token
    answer = APIClient(HTTP_HOST=mitaka.domain).get(
        "/api/v1/audit/events/", {"action": action}, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert answer.status_code == 200, answer.content
    return answer.json()["results"]


@pytest.mark.parametrize(
    ("arguments", "asked"),
    [
        # No such staff member: the answer tells the operator so.
        (["issue_api_token", "--username", "sato.ichiro"],
         {"username": "sato.ichiro", "scopes": ["*"], "days": 90, "name": "management command"}),
        # 田中 has an authenticator app: refused, and the answer says why.
        (["issue_api_token", "--username", "tanaka", "--scopes", "records:read", "--name", "RPA"],
         {"username": "tanaka", "scopes": ["records:read"], "days": 90, "name": "RPA"}),
        (["revoke_api_tokens", "--username", "sato.ichiro"], {"username": "sato.ichiro"}),
        (["revoke_api_tokens", "--username", "tanaka"], {"username": "tanaka"}),  # none live
        (["revoke_api_tokens", "--prefix", "000000000000"], {"prefix": "000000000000"}),
    ],
)  # fmt: skip
def test_every_run_of_an_operator_s_command_is_in_the_city_s_trail(
    staff_device: TOTPDevice, mitaka: City, arguments: list[str], asked: dict[str, Any]
) -> None:
    """A run that issued or revoked nothing left nothing in the city: the city could not
    see an operator probing its staff directory (who exists, who has 2FA). Every run now
    leaves ``operator.command`` (no actor, the command, what was asked) before the command
    looks into the city, and the city's administrator reads it."""
    command, *rest = arguments
    with contextlib.suppress(CommandError):
        call_command(command, "--schema", mitaka.slug, *rest, stdout=StringIO())
    events = _admin_reads(mitaka, "operator.command")
    assert [(e["actor"], e["details"]) for e in events] == [
        (None, {"command": f"manage.py {command}", "arguments": asked})
    ]


def test_the_operator_s_command_issues_no_token_before_the_first_password_change(
    chofu: None,
) -> None:
    """The sign-in screen gives no token while the password the operator typed is unchanged;
    the operator's own command did, for the first administrator, at once after opening the
    city, before anyone of the city had signed in: the whole city's administration, with
    nothing the city would notice (its password kept working). Now refused, and a token
    issued that way before is refused on use."""
    error = _command_error("issue_api_token", "--schema", "chofu", "--username", "admin")
    assert "初期パスワード" in error
    with schema_context("chofu"):
        assert not ApiToken.objects.exists()
        admin = User.objects.get(username="admin")
        # A token the command issued before it refused: its owner had not changed it yet.
        User.objects.filter(pk=admin.pk).update(must_change_password=False)
        admin.refresh_from_db()
        early = token_issue(actor=None, user=admin, scopes=["*"], via="manage.py issue_api_token")
        User.objects.filter(pk=admin.pk).update(must_change_password=True)
    answer = APIClient(HTTP_HOST=CHOFU).get(
        "/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {early.token}"
    )
    assert answer.status_code == 401


def _tokens_listed(city: City, reader: Any, **query: str) -> list[dict[str, Any]]:
    with schema_context(city.slug):
        token = token_issue(actor=reader, user=reader, scopes=["*"]).token
    answer = APIClient(HTTP_HOST=city.domain).get(
        "/api/v1/auth/tokens/", query, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert answer.status_code == 200, answer.content
    return [t for t in answer.json()["results"] if not t["current"]]


def test_a_token_the_operator_issued_is_marked_in_the_token_lists(staff: Any, mitaka: City) -> None:
    """The operator's token was listed to its owner and to the city's administrators like
    one the owner had asked for, under whatever name the operator gave it (``--name``):
    nothing in the list told them apart. It now carries ``issued_via``."""
    with schema_context(mitaka.slug):
        token_issue(actor=staff, user=staff, scopes=["records:read"], name="自分の RPA")
    call_command(
        "issue_api_token", "--schema", mitaka.slug, "--username", "tanaka", "--name", "自分の RPA",
        stdout=StringIO(),
    )  # fmt: skip
    with schema_context(mitaka.slug):
        admin = User.objects.get(username="admin")
    for listed in (_tokens_listed(mitaka, staff), _tokens_listed(mitaka, admin, username="tanaka")):
        assert sorted((t["name"], t["issued_via"] or "") for t in listed if t["name"]) == [
            ("自分の RPA", ""), ("自分の RPA", "manage.py issue_api_token")
        ]  # fmt: skip


def test_the_migration_marks_the_operator_s_live_tokens_from_their_events(
    staff: Any, mitaka: City
) -> None:
    """Tokens the command issued before the column existed are marked from their
    ``auth.token_issued`` event (no actor, ``via``); the owner's own are not."""
    out = StringIO()
    call_command("issue_api_token", "--schema", mitaka.slug, "--username", "tanaka", stdout=out)
    operator_s = out.getvalue().strip()[4:16]
    with schema_context(mitaka.slug):
        own = token_issue(actor=staff, user=staff, scopes=["*"]).record.prefix
        ApiToken.objects.update(issued_via="")  # as before the column existed
        migration = importlib.import_module("ledgers.migrations.0020_apitoken_issued_via")
        with connection.cursor() as cursor:
            cursor.execute(migration.Migration.operations[1].sql)
        marked = dict(ApiToken.objects.values_list("prefix", "issued_via"))
    assert marked == {operator_s: "manage.py issue_api_token", own: ""}
