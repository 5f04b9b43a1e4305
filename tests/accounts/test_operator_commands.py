"""``manage.py createsuperuser`` and ``manage.py changepassword`` leave a trace.

Whoever had the server's shell added a superuser or set an operator's password with
Django's commands, and the operators' admin log, where every change made in the admin is,
showed nothing. Now the public schema's additions and password changes by these commands
are in that log (naming the command, never the password); run on a city's schema, the run
is ``operator.command`` in the city's audit trail, as is django-tenants'
``create_tenant_superuser`` (which left nothing at all). Django's behaviour is otherwise kept.
"""

from __future__ import annotations

import getpass
import io
import json
import re
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from ledgers.api.tokens.services import token_issue
from tests.accounts.conftest import STAFF_PASSWORD, audit_seq, audit_since, sign_in
from tests.conftest import City

User = get_user_model()
PASSWORD = "Unyou-kanri-2026"
NEW_PASSWORD = "Atarashii-kagi-2027"
OWN_PASSWORD = "Jibun-de-kimeta-2028"


def _entries(user: Any) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(content_type__model="user", object_id=str(user.pk)).order_by("pk")
    )


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the person at the shell types at Django's password prompts (``getpass``)."""
    answers: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": answers.pop(0))
    return answers


def test_createsuperuser_is_in_the_operators_log(
    cities: dict, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command(
        "createsuperuser", "--noinput", "--username", "kanri", "--email", "kanri@example.jp",
        stdout=io.StringIO(),
    )  # fmt: skip
    kanri = User.objects.get(username="kanri")
    assert kanri.is_superuser
    assert kanri.check_password(PASSWORD)
    (entry,) = _entries(kanri)
    assert (entry.user_id, entry.action_flag) == (kanri.pk, ADDITION)
    added, changed = json.loads(entry.change_message)
    assert added == {"added": {}}
    assert changed["changed"]["command"] == "manage.py createsuperuser"
    assert changed["changed"]["values"] == {
        "username": {"from": None, "to": "kanri"},
        "email": {"from": None, "to": "kanri@example.jp"},
        "is_superuser": {"from": False, "to": True},
        "is_staff": {"from": False, "to": True},
        "is_active": {"from": False, "to": True},
    }
    assert "manage.py createsuperuser" in entry.get_change_message()
    assert PASSWORD not in entry.change_message
    assert kanri.password not in entry.change_message


def test_changepassword_is_in_the_operators_log(cities: dict, db: None, typed: list[str]) -> None:
    sato = User.objects.create_user(username="sato", password=PASSWORD, is_staff=True)
    typed.extend([NEW_PASSWORD, NEW_PASSWORD])
    call_command("changepassword", "sato", stdout=io.StringIO())
    sato.refresh_from_db()
    assert sato.check_password(NEW_PASSWORD)
    (entry,) = _entries(sato)
    assert (entry.user_id, entry.action_flag) == (sato.pk, CHANGE)
    (changed,) = json.loads(entry.change_message)
    assert changed["changed"]["command"] == "manage.py changepassword"
    assert changed["changed"]["values"] == {"password": {"set_by": "command"}}
    assert "manage.py changepassword" in entry.get_change_message()
    assert NEW_PASSWORD not in entry.change_message
    assert sato.password not in entry.change_message


def test_a_changepassword_that_changes_nothing_leaves_nothing(
    cities: dict, db: None, typed: list[str]
) -> None:
    sato = User.objects.create_user(username="sato", password=PASSWORD, is_staff=True)
    typed.extend([NEW_PASSWORD, "different"] * 3)
    with pytest.raises(CommandError):
        call_command("changepassword", "sato", stdout=io.StringIO())
    sato.refresh_from_db()
    assert sato.check_password(PASSWORD)
    assert _entries(sato) == []


def test_changepassword_on_a_city_is_a_reset_its_owner_must_change(
    mitaka: City, staff: Any, typed: list[str]
) -> None:
    """The password typed at the server's console is someone else's choice, as a city
    administrator's reset is: before, the account kept it with nothing to change, its API
    tokens (whoever held them) kept working, and the trail said only that the command ran."""
    with schema_context(mitaka.slug):
        token = token_issue(actor=staff, user=staff, scopes=["*"]).token
    api = APIClient(HTTP_HOST=mitaka.domain)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/me/").status_code == 200
    seq = audit_seq(mitaka)
    logged = LogEntry.objects.count()
    typed.extend([NEW_PASSWORD, NEW_PASSWORD])
    with schema_context(mitaka.slug):
        call_command("changepassword", "tanaka", stdout=io.StringIO())
        staff.refresh_from_db()
    assert staff.check_password(NEW_PASSWORD)
    assert not staff.check_password(STAFF_PASSWORD)
    assert staff.must_change_password
    assert staff.is_password_chosen_by_other(NEW_PASSWORD)
    events = audit_since(mitaka, seq)
    assert [(event.action, event.actor_id) for event in events] == [
        ("operator.command", None), ("auth.token_revoked", None), ("staff.update", None),
    ]  # fmt: skip
    assert events[0].details == {
        "command": "manage.py changepassword", "arguments": {"username": "tanaka"},
    }  # fmt: skip
    assert events[-1].details == {
        "user": staff.pk, "changed": ["password"], "must_change_password": True,
        "tokens_revoked": 1, "via": "manage.py changepassword",
    }  # fmt: skip
    assert NEW_PASSWORD not in json.dumps([event.details for event in events])
    assert LogEntry.objects.count() == logged
    assert api.get("/api/v1/me/").status_code == 401
    # Signed in with it, tanaka reaches nothing but the password page.
    browser = Client()
    assert sign_in(browser, mitaka, "tanaka", NEW_PASSWORD).status_code == 302
    home = browser.get("/", HTTP_HOST=mitaka.domain)
    assert (home.status_code, home["Location"]) == (302, "/accounts/password/")


def test_changepassword_on_public_must_be_changed_at_the_operator_s_next_sign_in(
    cities: dict, db: None, typed: list[str]
) -> None:
    """An operator's password set at the server's console was the operator's to keep, as
    one a superuser sets in the admin is not: whoever typed it could use it unnoticed."""
    sato = User.objects.create_user(username="sato", password=PASSWORD, is_staff=True)
    typed.extend([NEW_PASSWORD, NEW_PASSWORD])
    call_command("changepassword", "sato", stdout=io.StringIO())
    sato.refresh_from_db()
    assert sato.must_change_password
    assert sato.is_password_chosen_by_other(NEW_PASSWORD)
    (entry,) = _entries(sato)
    assert "本人が次のログインで変更します" in entry.get_change_message()
    # The admin's own sign-in page, then every page but the password's sends sato there.
    browser = Client(HTTP_HOST="localhost")
    signed = browser.post(
        "/admin/login/", {"username": "sato", "password": NEW_PASSWORD, "next": "/admin/"}
    )
    assert (signed.status_code, signed["Location"]) == (302, "/admin/")
    for page in ("/admin/", "/admin/accounts/user/", f"/admin/accounts/user/{sato.pk}/change/"):
        answer = browser.get(page)
        assert (answer.status_code, answer["Location"]) == (302, "/admin/password_change/")
    kept = browser.post("/admin/password_change/", {
        "old_password": NEW_PASSWORD, "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    })  # fmt: skip
    assert kept.status_code == 200
    changed = browser.post("/admin/password_change/", {
        "old_password": NEW_PASSWORD, "new_password1": OWN_PASSWORD,
        "new_password2": OWN_PASSWORD,
    })  # fmt: skip
    assert changed.status_code == 302
    assert browser.get("/admin/").status_code == 200
    sato.refresh_from_db()
    assert (sato.must_change_password, sato.check_password(OWN_PASSWORD)) == (False, True)


def test_create_tenant_superuser_is_in_the_city_s_trail(
    mitaka: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    """django-tenants' command ran Django's own createsuperuser (its class, imported as is)
    in the city and left nothing anywhere: a superuser appeared in a city's schema unseen."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    seq = audit_seq(mitaka)
    logged = LogEntry.objects.count()
    call_command(
        "create_tenant_superuser", "--schema", mitaka.slug, "--noinput",
        "--username", "kanri", "--email", "kanri@example.jp", stdout=io.StringIO(),
    )  # fmt: skip
    assert connection.schema_name == "public"
    with schema_context(mitaka.slug):
        kanri = User.objects.get(username="kanri")
    assert (kanri.is_superuser, kanri.is_staff, kanri.check_password(PASSWORD)) == (
        True, True, True,
    )  # fmt: skip
    # The operator's choice, as changepassword's: changed at the first sign-in, for good.
    assert kanri.must_change_password
    assert kanri.is_password_chosen_by_other(PASSWORD)
    events = audit_since(mitaka, seq)
    assert [(event.action, event.actor_id, event.details) for event in events] == [
        ("operator.command", None,
         {"command": "manage.py create_tenant_superuser",
          "arguments": {"username": "kanri", "email": "kanri@example.jp", "interactive": False}}),
        ("staff.create", None,
         {"user": kanri.pk, "username": "kanri", "memberships": [], "is_superuser": True,
          "must_change_password": True, "via": "manage.py create_tenant_superuser"}),
    ]  # fmt: skip
    assert PASSWORD not in json.dumps(events[0].details)
    assert LogEntry.objects.count() == logged
    assert not User.objects.filter(username="kanri").exists()


@pytest.mark.parametrize(
    ("schema", "said"),
    [(None, "--schema"), ("public", "manage.py createsuperuser"), ("0", "自治体「0」はありません"),
     ("nowhere", "自治体「nowhere」はありません")],
)  # fmt: skip
def test_create_tenant_superuser_names_a_city_or_does_nothing(
    mitaka: City, monkeypatch: pytest.MonkeyPatch, schema: str | None, said: str
) -> None:
    """The public row made an operator superuser outside the admin's log, and a number
    picked whichever city came at that place in an unordered list."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    seq = audit_seq(mitaka)
    logged = LogEntry.objects.count()
    with pytest.raises(CommandError, match=re.escape(said)):
        call_command(
            "create_tenant_superuser", *(["--schema", schema] if schema else []), "--noinput",
            "--username", "kanri", "--email", "kanri@example.jp", stdout=io.StringIO(),
        )  # fmt: skip
    assert connection.schema_name == "public"
    assert not User.objects.filter(username="kanri").exists()
    with schema_context(mitaka.slug):
        assert not User.objects.filter(username="kanri").exists()
    assert audit_since(mitaka, seq) == []
    assert LogEntry.objects.count() == logged


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_an_interactive_run_on_a_city_names_the_account_it_made(
    mitaka: City, typed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At Django's prompts the username is typed after the run's operator.command (which
    can name none); the account made is then staff.create, no actor, naming it (found by
    the session 15 review: an interactive run left a superuser no event named)."""
    answers = iter(["kanri3", "kanri3@example.jp"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    monkeypatch.setattr("sys.stdin", _Terminal())
    typed.extend([PASSWORD, PASSWORD])
    seq = audit_seq(mitaka)
    call_command("create_tenant_superuser", "--schema", mitaka.slug, stdout=io.StringIO())
    with schema_context(mitaka.slug):
        kanri = User.objects.get(username="kanri3")
    events = audit_since(mitaka, seq)
    assert [(event.action, event.actor_id) for event in events] == [
        ("operator.command", None),
        ("staff.create", None),
    ]
    assert events[0].details["arguments"]["username"] is None
    assert events[1].details == {
        "user": kanri.pk,
        "username": "kanri3",
        "memberships": [],
        "is_superuser": True,
        "must_change_password": True,
        "via": "manage.py create_tenant_superuser",
    }
    assert PASSWORD not in json.dumps([event.details for event in events])
    # Signed in with the password typed at the prompt, kanri3 reaches nothing but the
    # password page; changing back to it is refused.
    browser = Client()
    assert sign_in(browser, mitaka, "kanri3", PASSWORD).status_code == 302
    home = browser.get("/", HTTP_HOST=mitaka.domain)
    assert (home.status_code, home["Location"]) == (302, "/accounts/password/")
    with schema_context(mitaka.slug):
        kanri.refresh_from_db()
    assert kanri.is_password_chosen_by_other(PASSWORD)


def test_a_city_superuser_made_without_a_password_is_left_as_made(
    mitaka: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--noinput without DJANGO_SUPERUSER_PASSWORD: an account no one can sign in to, with
    no password of anyone's to change."""
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    seq = audit_seq(mitaka)
    call_command(
        "create_tenant_superuser", "--schema", mitaka.slug, "--noinput",
        "--username", "kanri4", "--email", "", stdout=io.StringIO(),
    )  # fmt: skip
    with schema_context(mitaka.slug):
        kanri = User.objects.get(username="kanri4")
    assert (kanri.has_usable_password(), kanri.must_change_password, kanri.chosen_passwords) == (
        False, False, [],
    )  # fmt: skip
    (created,) = [e for e in audit_since(mitaka, seq) if e.action == "staff.create"]
    assert created.details["must_change_password"] is False
