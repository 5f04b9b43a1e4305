"""Usernames that differ only by letter case: impossible in every schema, by every path.

Tanaka beside tanaka reads as the same person in the audit trail and on every screen that
names who did what. Only the API's staff create refused one (an app-level check, before
its insert): the operators' admin renamed an operator to one, ``createsuperuser`` and
``create_tenant_superuser`` created one, and two creates at the same moment both passed
any check. Now a unique index on ``lower(username)`` holds in ``public`` and every city,
each path claims the username in the transaction that writes it and answers a taken one
as such (its form's error, 400, a command's error), the index's own refusal included;
the migration that adds the index stops, naming accounts by primary key, where rows
already collide.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.test import Client
from django_tenants.utils import schema_context

from tests.accounts.conftest import audit_seq, audit_since
from tests.conftest import FUCHU, City, first_holds, fuchu_client, queued_behind

User = get_user_model()
PASSWORD = "Unyou-kanri-2026"
TAKEN = "ユーザー名「{}」は既に使われています。"
MIGRATION = ("accounts", "0005_user_username_lower_unique")


def _signed_in(username: str, password: str = PASSWORD) -> Client:
    client = Client(HTTP_HOST="localhost")
    assert client.login(username=username, password=password)
    return client


def _usernames(schema: str, folded: str) -> list[str]:
    with schema_context(schema):
        return sorted(
            name for name in User.objects.values_list("username", flat=True)
            if name.lower() == folded
        )  # fmt: skip


# --- the operators' admin ------------------------------------------------------------------


@pytest.fixture
def kanri(cities: dict, db: None) -> Client:
    """Kanri, a superuser, signed in to the operators' admin; Tanaka, an operator."""
    User.objects.create_superuser(username="kanri", password=PASSWORD, email="")
    User.objects.create_user(username="Tanaka", password=PASSWORD, is_staff=True)
    return _signed_in("kanri")


def test_the_admin_adds_no_operator_differing_only_by_case(kanri: Client) -> None:
    """Django's add form refused it already (``iexact``); kept, with the name held."""
    added = kanri.post(
        "/admin/accounts/user/add/",
        {"username": "tanaka", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert added.status_code == 200
    assert added.context["adminform"].form.errors == {"username": [TAKEN.format("Tanaka")]}
    assert _usernames("public", "tanaka") == ["Tanaka"]


def test_the_admin_renames_no_operator_to_another_s_name_but_for_case(kanri: Client) -> None:
    """The change form compared usernames exactly: Suzuki became tanaka beside Tanaka."""
    from tests.accounts.test_operator_accounts import _form_data

    suzuki = User.objects.create_user(username="suzuki", password=PASSWORD, is_staff=True)
    url = f"/admin/accounts/user/{suzuki.pk}/change/"
    renamed = kanri.post(url, _form_data(kanri, suzuki, username="tanaka"))
    assert renamed.status_code == 200
    assert renamed.context["adminform"].form.errors == {"username": [TAKEN.format("Tanaka")]}
    assert User.objects.get(pk=suzuki.pk).username == "suzuki"
    assert not LogEntry.objects.filter(object_id=str(suzuki.pk)).exists()
    # An account's own name in other letters is no other account's.
    tanaka = User.objects.get(username="Tanaka")
    own = kanri.post(
        f"/admin/accounts/user/{tanaka.pk}/change/", _form_data(kanri, tanaka, username="tanaka")
    )
    assert own.status_code == 302, own.context["adminform"].form.errors
    assert User.objects.get(pk=tanaka.pk).username == "tanaka"


def test_two_operators_added_at_once_differing_only_by_case(
    fuchu: None, django_db_blocker: Any
) -> None:
    """Two superusers add Kawada and kawada at the same moment: both passed the add form's
    check, made before either had inserted (both added before). Now the form claims the
    username in the admin's transaction: one is added, the other is refused on the field.
    The inserts are held back (a SHARE lock on the table, which lets the checks read) until
    both requests wait."""
    suffix = secrets.token_hex(3)
    names = {"a": f"race-ua-{suffix}", "b": f"race-ub-{suffix}"}
    wanted = {"a": f"Kawada{suffix}", "b": f"kawada{suffix}"}
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        supers = [
            User.objects.create_superuser(username=name, password=PASSWORD, email="")
            for name in names.values()
        ]
        try:
            clients = {who: _signed_in(name) for who, name in names.items()}

            def send(who: str) -> Callable[[], tuple[str, Any]]:
                def request() -> tuple[str, Any]:
                    answer = clients[who].post(
                        "/admin/accounts/user/add/",
                        {"username": wanted[who], "password1": PASSWORD, "password2": PASSWORD},
                    )
                    errors = answer.context["adminform"].form.errors if answer.context else {}
                    return who, (answer.status_code, errors)

                return request

            def hold() -> None:
                with schema_context("public"), connection.cursor() as cursor:
                    cursor.execute("LOCK TABLE accounts_user IN SHARE MODE")

            answers = dict(queued_behind(hold, [send("a"), send("b")]))
            connection.set_schema_to_public()
            codes = sorted(code for code, _errors in answers.values())
            assert codes == [200, 302], answers
            (added,) = _usernames("public", f"kawada{suffix}")
            refused = next(who for who, (code, _e) in answers.items() if code == 200)
            assert answers[refused][1] == {"username": [TAKEN.format(added)]}
        finally:
            connection.set_schema_to_public()
            User.objects.filter(pk__in=[u.pk for u in supers]).update(
                is_superuser=False, is_staff=False, is_active=False
            )


# --- server commands ------------------------------------------------------------------------


def test_createsuperuser_refuses_a_username_differing_only_by_case(
    cities: dict, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    User.objects.create_user(username="Tanaka", password=PASSWORD, is_staff=True)
    logged = LogEntry.objects.count()
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    with pytest.raises(CommandError) as refused:
        call_command(
            "createsuperuser", "--noinput", "--username", "TANAKA", "--email", "",
            stdout=io.StringIO(),
        )  # fmt: skip
    assert str(refused.value) == f"Error: {TAKEN.format('Tanaka')}"
    assert _usernames("public", "tanaka") == ["Tanaka"]
    assert LogEntry.objects.count() == logged


def test_create_tenant_superuser_refuses_a_username_differing_only_by_case(
    mitaka: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's create_tenant_superuser runs the project's createsuperuser in the city
    (django-tenants' ran Django's, refused only by the account's creation, ``UserManager``,
    after every prompt): refused as createsuperuser refuses it, the run in the city's trail."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    seq = audit_seq(mitaka)
    with pytest.raises(CommandError) as refused:
        call_command(
            "create_tenant_superuser", "--schema", mitaka.slug, "--noinput",
            "--username", "Admin", "--email", "", stdout=io.StringIO(),
        )  # fmt: skip
    assert connection.schema_name == "public"
    assert str(refused.value) == f"Error: {TAKEN.format('admin')}"
    assert _usernames(mitaka.slug, "admin") == ["admin"]
    assert [event.action for event in audit_since(mitaka, seq)] == ["operator.command"]


def _unclaimed_insert(username: str) -> Callable[[], Any]:
    """An account written with no claim of its username (the release before, during an
    upgrade; a row written by hand): only the unique index stands in the way."""
    return lambda: User(username=username, password="!").save()


def test_createsuperuser_meets_a_create_committed_meanwhile(
    fuchu: None, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its check read no Kawada (not yet committed); the insert met the unique index: a
    command error, not an IntegrityError's traceback (two superusers before)."""
    suffix = secrets.token_hex(3)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        logged = LogEntry.objects.count()
        try:
            raised = first_holds(
                "public",
                _unclaimed_insert(f"Kawada{suffix}"),
                lambda: call_command(
                    "createsuperuser", "--noinput", "--username", f"kawada{suffix}", "--email", "",
                    stdout=io.StringIO(),
                ),
            )  # fmt: skip
            assert isinstance(raised, CommandError), repr(raised)
            assert str(raised) == TAKEN.format(f"Kawada{suffix}")
            assert _usernames("public", f"kawada{suffix}") == [f"Kawada{suffix}"]
            assert LogEntry.objects.count() == logged
        finally:
            User.objects.filter(username__iexact=f"kawada{suffix}").update(is_active=False)


# --- the API's staff create, under a race ---------------------------------------------------


def test_two_staff_created_at_once_differing_only_by_case(
    fuchu: None, django_db_blocker: Any
) -> None:
    """Two creates of Kawada and kawada at the same moment: both passed staff_create's check,
    made before either inserted (both created before). Now the first claims the username,
    the second waits for it and reads it: one 201, one 400 naming the account created."""
    suffix = secrets.token_hex(3)
    with django_db_blocker.unblock():
        with schema_context(FUCHU.slug):
            client = fuchu_client(User.objects.get(username="admin"))

        def create(username: str) -> Callable[[], Any]:
            return lambda: client.post(
                "/api/v1/staff/",
                {"username": username, "password": "Spring-2027-ok"},
                format="json",
            )

        def hold() -> None:
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE accounts_user IN SHARE MODE")

        answers = queued_behind(hold, [create(f"Kawada{suffix}"), create(f"kawada{suffix}")])
        connection.set_schema_to_public()
        assert sorted(a.status_code for a in answers) == [201, 400], [a.content for a in answers]
        (created,) = _usernames(FUCHU.slug, f"kawada{suffix}")
        (refused,) = [a for a in answers if a.status_code == 400]
        assert refused.json()["code"] == "ERROR_DIRECTORY_INVALID"
        assert refused.json()["detail"]["errors"] == {"username": [TAKEN.format(created)]}


def test_a_staff_create_meets_an_account_no_claim_kept_out(
    fuchu: None, django_db_blocker: Any
) -> None:
    """A writer that took no claim (the release before, during an upgrade) commits Kawada
    while a create of kawada waits on the unique index: 400 as for any taken name, not a
    server error, and nothing of the create is left."""
    suffix = secrets.token_hex(3)
    with django_db_blocker.unblock():
        with schema_context(FUCHU.slug):
            client = fuchu_client(User.objects.get(username="admin"))
            seq = audit_seq(FUCHU)
        answer = first_holds(
            FUCHU.slug,
            _unclaimed_insert(f"Kawada{suffix}"),
            lambda: client.post(
                "/api/v1/staff/",
                {"username": f"kawada{suffix}", "password": "Spring-2027-ok"},
                format="json",
            ),
        )
        assert answer.status_code == 400, answer.content
        assert answer.json()["detail"]["errors"] == {"username": [TAKEN.format(f"Kawada{suffix}")]}
        assert _usernames(FUCHU.slug, f"kawada{suffix}") == [f"Kawada{suffix}"]
        assert "staff.create" not in [event.action for event in audit_since(FUCHU, seq)]


# --- rename_account -----------------------------------------------------------------------


def test_rename_account_renames_a_city_s_staff_member_and_the_city_sees_it(
    mitaka: City,
) -> None:
    with schema_context(mitaka.slug):
        tanaka = User.objects.create_user(username="Tanaka", password=PASSWORD)
        other = User.objects.create_user(username="tanaka2", password=PASSWORD)
    seq = audit_seq(mitaka)
    call_command(
        "rename_account", "--schema", mitaka.slug, "--id", str(tanaka.pk), "--username",
        "ｔａｎａｋａ-old", stdout=io.StringIO(),
    )  # fmt: skip
    with schema_context(mitaka.slug):
        assert User.objects.get(pk=tanaka.pk).username == "tanaka-old"
    assert [(e.action, e.actor_id, e.details) for e in audit_since(mitaka, seq)] == [
        ("operator.command", None, {"command": "manage.py rename_account",
                                    "arguments": {"id": tanaka.pk, "username": "ｔａｎａｋａ-old"}}),
        ("staff.update", None, {"user": tanaka.pk, "changed": ["username"],
                                "via": "manage.py rename_account",
                                "username": {"before": "Tanaka", "after": "tanaka-old"}}),
    ]  # fmt: skip
    # Another's name but for case: refused, nothing changed, the run still in the trail.
    seq = audit_seq(mitaka)
    with pytest.raises(CommandError) as refused:
        call_command(
            "rename_account", "--schema", mitaka.slug, "--id", str(tanaka.pk), "--username",
            "TANAKA2", stdout=io.StringIO(),
        )  # fmt: skip
    assert str(refused.value) == TAKEN.format("tanaka2")
    with schema_context(mitaka.slug):
        assert User.objects.get(pk=tanaka.pk).username == "tanaka-old"
        assert User.objects.get(pk=other.pk).username == "tanaka2"
    assert [e.action for e in audit_since(mitaka, seq)] == ["operator.command"]


def test_rename_account_renames_an_operator_in_the_admin_s_log(cities: dict, db: None) -> None:
    sato = User.objects.create_user(username="Sato", password=PASSWORD, is_staff=True)
    User.objects.create_user(username="suzuki", password=PASSWORD, is_staff=True)
    with pytest.raises(CommandError) as refused:
        call_command(
            "rename_account", "--schema", "public", "--id", str(sato.pk), "--username",
            "Suzuki", stdout=io.StringIO(),
        )  # fmt: skip
    assert str(refused.value) == TAKEN.format("suzuki")
    assert not LogEntry.objects.filter(object_id=str(sato.pk)).exists()
    call_command(
        "rename_account", "--schema", "public", "--id", str(sato.pk), "--username", "sato-2",
        stdout=io.StringIO(),
    )  # fmt: skip
    (entry,) = LogEntry.objects.filter(object_id=str(sato.pk))
    assert entry.user_id == sato.pk
    (changed,) = json.loads(entry.change_message)
    assert changed["changed"]["command"] == "manage.py rename_account"
    assert changed["changed"]["values"] == {"username": {"from": "Sato", "to": "sato-2"}}


# --- the migration ----------------------------------------------------------------------------


def _migrate(schema: str) -> None:
    """Apply the migration that adds the index to ``schema`` as ``migrate`` does, inside the
    test's transaction (which takes back the index dropped before)."""
    with schema_context(schema):
        loader = MigrationLoader(connection)
        state = loader.project_state(("accounts", "0004_user_chosen_passwords"))
        with connection.schema_editor(atomic=False) as editor:
            loader.get_migration(*MIGRATION).apply(state, editor)


def _index_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
            [schema, "user_username_lower_unique"],
        )
        return cursor.fetchone() is not None


@pytest.mark.parametrize("schema", ["public", "mitaka"])
def test_the_migration_stops_on_accounts_already_differing_only_by_case(
    cities: dict, db: None, schema: str
) -> None:
    """Accounts made before the index, Tanaka, tanaka and TANAKA (and Sato beside sato):
    the migration stops with a message naming the schema and the accounts by primary key,
    never by username, and what to do; nothing of the schema changes. Renamed, it goes
    through."""
    assert _index_exists(schema)
    with schema_context(schema):
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX user_username_lower_unique")
        rows = {
            name: User.objects.create(username=name, password="!").pk
            for name in ("Tanaka", "tanaka", "Sato", "TANAKA", "sato", "suzuki")
        }
    with pytest.raises(CommandError) as stopped:
        _migrate(schema)
    message = str(stopped.value)
    assert message.startswith(
        f'Schema "{schema}" has accounts whose usernames differ only by letter case '
        "(primary keys, one group per line):\n"
        f"    accounts {rows['Tanaka']}, {rows['tanaka']} and {rows['TANAKA']}\n"
        f"    accounts {rows['Sato']} and {rows['sato']}\n"
    )
    assert f"rename_account --schema {schema} --id <id> --username <new>" in message
    assert "changed nothing" in message
    for name in rows:
        assert name not in message
        assert name.lower() not in message
    assert not _index_exists(schema)
    with schema_context(schema):
        assert set(User.objects.values_list("username", flat=True)) >= set(rows)

    for name in ("tanaka", "TANAKA", "sato"):
        call_command(
            "rename_account", "--schema", schema, "--id", str(rows[name]),
            "--username", f"{name.lower()}-{rows[name]}", stdout=io.StringIO(),
        )  # fmt: skip
    _migrate(schema)
    assert _index_exists(schema)
    refused = pytest.raises(IntegrityError, match="user_username_lower_unique")
    with schema_context(schema), refused, transaction.atomic():
        User.objects.create(username="SUZUKI", password="!")


def test_the_index_holds_in_every_city_schema(cities: dict, db: None) -> None:
    """Provisioning clones a migrated template: the index is in every city, as in public.
    (Asks for ``db``, which sets the database up when the module runs alone.)"""
    for schema in ("public", "mitaka", "musashino"):
        assert _index_exists(schema), schema
