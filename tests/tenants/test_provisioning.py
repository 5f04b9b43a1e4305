"""Provisioning: one schema per city, isolation, idempotence, conflicts, no partial data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import ProtectedError
from django_tenants.utils import schema_context, schema_exists

from tenants.exceptions import ProvisioningConflict, ProvisioningInvalid
from tenants.models import Domain, Municipality
from tenants.services import municipality_provision
from tests.conftest import ADMIN_PASSWORD, City, test_database_url

REPO_ROOT = Path(__file__).resolve().parents[2]

User = get_user_model()


def test_each_city_has_its_own_schema_and_administrator(mitaka: City, musashino: City) -> None:
    for city in (mitaka, musashino):
        municipality = city.municipality
        assert schema_exists(city.slug)
        assert municipality.prefecture == "13"
        assert list(municipality.domains.values_list("domain", flat=True)) == [city.domain]
        with schema_context(city.slug):
            admin = User.objects.get(username="admin")
            assert admin.is_city_admin
            assert admin.check_password(ADMIN_PASSWORD)


def test_a_row_written_in_one_city_is_invisible_in_the_other(mitaka: City, musashino: City) -> None:
    with schema_context(mitaka.slug):
        User.objects.create_user(username="only-in-mitaka", password="x" * 12)
        assert User.objects.filter(username="only-in-mitaka").exists()
    with schema_context(musashino.slug):
        assert not User.objects.filter(username="only-in-mitaka").exists()
    # Nor in the public schema, where operators live.
    assert not User.objects.filter(username="only-in-mitaka").exists()


def test_schemas_hold_few_tables(mitaka: City) -> None:
    # Ledgers are rows, never tables: a city's schema stays small whatever it defines.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", [mitaka.slug])
        (tables,) = cursor.fetchone()
    assert 0 < tables <= 40


def test_provisioning_again_with_the_same_values_changes_nothing(mitaka: City) -> None:
    before = Municipality.objects.count()
    result = municipality_provision(
        actor=None, slug=mitaka.slug, name=mitaka.name, code=mitaka.code,
        domain=mitaka.domain, admin_username="admin", admin_password=ADMIN_PASSWORD,
    )  # fmt: skip
    assert result.created is False
    assert result.municipality.pk == mitaka.municipality.pk
    assert Municipality.objects.count() == before


@pytest.mark.parametrize(
    ("changes", "mentions"),
    [
        ({"name": "三鷹町"}, "自治体名"),
        ({"code": "132039"}, "コード"),
        ({"domain": "other.localhost"}, "ドメイン"),
        ({"admin_username": "someone"}, "管理者"),
    ],
)
def test_provisioning_an_existing_slug_with_other_values_is_refused(
    mitaka: City, changes: dict[str, str], mentions: str
) -> None:
    values = {
        "slug": mitaka.slug, "name": mitaka.name, "code": mitaka.code,
        "domain": mitaka.domain, "admin_username": "admin", "admin_password": ADMIN_PASSWORD,
    } | changes  # fmt: skip
    with pytest.raises(ProvisioningConflict) as info:
        municipality_provision(actor=None, **values)
    assert mentions in str(info.value)
    assert Municipality.objects.get(schema_name=mitaka.slug).name == mitaka.name


def test_a_code_or_domain_held_by_another_city_is_refused(mitaka: City) -> None:
    with pytest.raises(ProvisioningConflict, match="三鷹市"):
        municipality_provision(
            actor=None, slug="chofu", name="調布市", code=mitaka.code,
            domain="chofu.localhost", admin_username="admin", admin_password=ADMIN_PASSWORD,
        )  # fmt: skip
    with pytest.raises(ProvisioningConflict, match="三鷹市"):
        municipality_provision(
            actor=None, slug="chofu", name="調布市", code="132080",
            domain=mitaka.domain, admin_username="admin", admin_password=ADMIN_PASSWORD,
        )  # fmt: skip
    assert not schema_exists("chofu")
    assert not Municipality.objects.filter(schema_name="chofu").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Chofu"),
        ("slug", "public"),
        ("slug", "1chofu"),
        # SQL keywords: the schema's clone wrote CREATE FUNCTION user.… (a syntax error, a
        # server error in the admin) where a name needs quoting.
        ("slug", "user"),
        ("slug", "select"),
        ("slug", "all"),
        ("slug", "authorization"),
        ("slug", "current_user"),
        ("slug", "join"),
        ("code", "132081"),
        ("domain", "chofu localhost"),
        ("domain", "localhost"),  # the operators' host
        ("admin_password", "short"),
        ("admin_username", "bad name!"),
        ("admin_username", "a" * 151),  # longer than a username: a DataError before
        ("name", "  "),
        ("name", "市" * 101),
        ("name", "調布\u200b市"),  # pasted with a zero-width space
        ("name", "\u202e市布調"),  # shown as 調布市; its administrator 「… 管理者」 too
    ],
)
def test_invalid_input_leaves_nothing_behind(
    cities: dict, db: None, field: str, value: str
) -> None:
    values = {
        "slug": "chofu", "name": "調布市", "code": "132080", "domain": "chofu.localhost",
        "admin_username": "admin", "admin_password": ADMIN_PASSWORD,
    } | {field: value}  # fmt: skip
    with pytest.raises(ProvisioningInvalid) as info:
        municipality_provision(actor=None, **values)
    assert field in info.value.errors
    assert not schema_exists("chofu")
    assert not Domain.objects.filter(domain="chofu.localhost").exists()


def test_a_failure_midway_rolls_back_rows_and_domain(cities: dict, db: None) -> None:
    # An orphan schema (say, left by a manual restore) makes CREATE SCHEMA fail after the
    # municipality and domain rows were inserted: both must be rolled back.
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA chofu")
    with pytest.raises(ProvisioningConflict, match="スキーマ"):
        municipality_provision(
            actor=None, slug="chofu", name="調布市", code="132080",
            domain="chofu.localhost", admin_username="admin", admin_password=ADMIN_PASSWORD,
        )  # fmt: skip
    assert not Municipality.objects.filter(schema_name="chofu").exists()
    assert not Domain.objects.filter(domain="chofu.localhost").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'chofu'")
        assert cursor.fetchone() == (0,)


def test_provision_tenant_command_creates_then_is_idempotent_then_refuses(
    cities: dict, db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--slug", "chofu", "--name", "調布市", "--code", "132080",
            "--domain", "chofu.localhost", "--admin-username", "admin",
            "--admin-password", ADMIN_PASSWORD]  # fmt: skip
    call_command("provision_tenant", *args)
    assert "created chofu" in capsys.readouterr().out
    assert schema_exists("chofu")
    call_command("provision_tenant", *args)
    assert "unchanged" in capsys.readouterr().out
    conflicting = [*args]
    conflicting[conflicting.index("調布市")] = "調布町"
    with pytest.raises(CommandError, match="既に別の内容"):
        call_command("provision_tenant", *conflicting)


def test_a_city_opened_before_admin_usernames_were_recorded_gets_its_own(mitaka: City) -> None:
    """Migration tenants 0004 fills in the first administrator's username of cities opened
    before 0003; a repeat with another username is then a conflict, as for any city."""
    import importlib

    from django.apps import apps as django_apps
    from django.db import connection

    from tenants.exceptions import ProvisioningConflict

    Municipality.objects.filter(schema_name=mitaka.slug).update(admin_username="")
    backfill = importlib.import_module(
        "tenants.migrations.0004_backfill_municipality_admin_username"
    ).backfill
    with connection.schema_editor() as editor:
        backfill(django_apps, editor)
    assert Municipality.objects.get(schema_name=mitaka.slug).admin_username == "admin"
    with pytest.raises(ProvisioningConflict):
        municipality_provision(
            actor=None, slug=mitaka.slug, name=mitaka.name, code=mitaka.code,
            domain=mitaka.domain, admin_username="nobody", admin_password=ADMIN_PASSWORD,
        )  # fmt: skip


@pytest.mark.parametrize("how", ["delete_tenant", "row"])
def test_a_city_is_never_deleted(mitaka: City, how: str) -> None:
    """django-tenants' ``delete_tenant`` dropped the city's schema (records, history, audit
    trail) and then failed on its anchors, leaving the row and hosts on no schema; deleting
    the row alone would leave the schema without a city. Both are refused before anything
    is dropped or deleted, with the way out named (suspend)."""
    with schema_context(mitaka.slug):
        staff = User.objects.count()
    delete = (
        (lambda: call_command("delete_tenant", schema_name=mitaka.slug, interactive=False))
        if how == "delete_tenant"
        else Municipality.objects.get(schema_name=mitaka.slug).delete
    )
    with pytest.raises(ProtectedError, match=r"削除できません.*停止してください"):
        delete()
    assert schema_exists(mitaka.slug)
    assert Municipality.objects.filter(schema_name=mitaka.slug).exists()
    assert Domain.objects.filter(domain=mitaka.domain).exists()
    with schema_context(mitaka.slug):
        assert User.objects.count() == staff > 0


def test_the_first_administrator_s_username_is_kept_as_the_account_holds_it(
    cities: dict, db: None
) -> None:
    """Typed in full width, the account is ``admin`` (NFKC) but the city's row kept
    ``ａｄｍｉｎ``: a repeat with the username the city holds was refused as a conflict."""
    values = {
        "slug": "chofu", "name": "調布市", "code": "132080", "domain": "chofu.localhost",
        "admin_password": ADMIN_PASSWORD,
    }  # fmt: skip
    municipality_provision(actor=None, admin_username="ａｄｍｉｎ", **values)
    assert Municipality.objects.get(schema_name="chofu").admin_username == "admin"
    with schema_context("chofu"):
        assert User.objects.filter(username="admin").exists()
    assert municipality_provision(actor=None, admin_username="admin", **values).created is False


def test_django_tenants_create_tenant_makes_no_city_without_a_schema(
    cities: dict, db: None
) -> None:
    """django-tenants' ``create_tenant`` saved a city's row and host with no schema (ours
    are made by ``municipality_provision`` only: ``auto_create_schema`` is off), no first
    administrator and nothing in any trail: the host answered server errors. It is refused,
    naming the way that opens a city."""
    with pytest.raises(CommandError, match="provision_tenant"):
        call_command(
            "create_tenant", schema_name="chofu", name="調布市", code="132080",
            prefecture="13", domain_domain="chofu.localhost", domain_is_primary=True,
            interactive=False,
        )  # fmt: skip
    assert not Municipality.objects.filter(schema_name="chofu").exists()
    assert not Domain.objects.filter(domain="chofu.localhost").exists()


@pytest.mark.parametrize(
    ("command", "options", "mentions"),
    [
        ("clone_tenant", {"clone_from": "mitaka", "schema_name": "chofu"}, "provision_tenant"),
        (
            "create_domain",
            {"schema_name": "mitaka", "domain_domain": "x.localhost", "domain_is_primary": False},
            "ドメイン",
        ),
        (
            "delete_domain",
            {"schema_name": "mitaka", "domain_domain": "mitaka.localhost"},
            "ドメイン",
        ),
        ("rename_schema", {"rename_from": "mitaka", "rename_to": "mitaka2"}, "監査ログ"),
    ],
)
def test_django_tenants_commands_that_change_cities_unrecorded_are_refused(
    mitaka: City, command: str, options: dict, mentions: str
) -> None:
    """``clone_tenant`` copied a city's schema (its records and trail) into a new city;
    ``create_domain`` / ``delete_domain`` changed hosts outside the city's trail;
    ``rename_schema`` renamed the schema (committed at once, before the row) and with it the
    start of the audit chain, which then no longer verified."""
    with pytest.raises(CommandError, match=mentions):
        call_command(command, **options)
    assert schema_exists("mitaka")
    assert not schema_exists("mitaka2")
    assert not schema_exists("chofu")
    assert Domain.objects.filter(domain="mitaka.localhost").exists()
    assert not Domain.objects.filter(domain="x.localhost").exists()


def test_a_refused_django_tenants_command_refuses_whatever_its_arguments(
    cities: dict, db: None
) -> None:
    env = {
        **os.environ, "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "daicho.settings.test",
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "manage.py", "rename_schema", "--rename_from", "no_such_city",
         "--rename_to", "no_such_city2"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "監査ログ" in done.stderr
