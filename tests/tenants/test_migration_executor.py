"""`migrate_schemas` skips cities that have nothing pending, and migrates those that do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tenants.migration_executor import schemas_with_pending_migrations
from tests.conftest import City, test_database_url

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_up_to_date_cities_are_not_pending(mitaka: City, musashino: City) -> None:
    assert schemas_with_pending_migrations(["mitaka", "musashino"]) == []


def test_a_city_missing_a_migration_is_pending(mitaka: City, musashino: City) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM musashino.django_migrations WHERE app = 'sessions' AND name = '0001_initial'"
        )
    assert schemas_with_pending_migrations(["mitaka", "musashino"]) == ["musashino"]


def test_a_schema_without_a_migrations_table_is_pending(cities: dict, db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA half_made")
    assert schemas_with_pending_migrations(["half_made", "mitaka"]) == ["half_made"]


LAST = ("ledgers", "0027_webhookdelivery_drop_response_body")


def _city_behind(slug: str, code: str, *, breaks: bool) -> None:
    """A city (its row and a cloned schema, in the test's transaction) missing ``LAST``; when
    ``breaks``, that migration fails there (the column it drops is gone already)."""
    from tenants.cloning import schema_clone, template_ensure
    from tenants.models import Municipality

    template_ensure()
    schema_clone(slug)
    Municipality.objects.create(schema_name=slug, name=slug, code=code, prefecture=code[:2])
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {slug}.django_migrations WHERE app = %s AND name = %s",  # noqa: S608
            list(LAST),
        )
        if not breaks:
            cursor.execute(
                f"ALTER TABLE {slug}.ledgers_webhookdelivery"
                " ADD COLUMN response_body text NOT NULL DEFAULT ''"
            )


def _applied(slug: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {slug}.django_migrations WHERE app = %s AND name = %s",  # noqa: S608
            list(LAST),
        )
        return cursor.fetchone() is not None


def _code(first_five: str) -> str:
    from tenants.codes import municipality_code_check_digit

    return first_five + str(municipality_code_check_digit(first_five))


def test_a_city_whose_migration_fails_stops_no_other_and_is_named(
    mitaka: City, musashino: City, capsys: pytest.CaptureFixture[str]
) -> None:
    """An upgrade where one city's migration fails: django-tenants stopped at it (every
    later city left unmigrated, the next run stopping there again), and said which schema
    only in the last "Applying …" line before the traceback. Now the city is rolled back to
    its last complete migration, named with its error (no value PostgreSQL quoted), every
    other city is migrated, and the run ends with an error naming the failed schemas; once
    fixed, a second run migrates just that city."""
    # Ordered by code: the broken city comes first.
    _city_behind("upg_broken", _code("01100"), breaks=True)
    _city_behind("upg_fine", _code("01200"), breaks=False)

    with pytest.raises(CommandError, match=r"failed in 1 of 2 schemas: upg_broken\."):
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=1)
    out, err = capsys.readouterr()
    assert "[pending:upg_broken] MIGRATION FAILED" in err
    assert "sqlstate=42703" in err  # undefined column
    assert "upg_fine" not in err
    assert not _applied("upg_broken")
    assert _applied("upg_fine")

    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE upg_broken.ledgers_webhookdelivery"
            " ADD COLUMN response_body text NOT NULL DEFAULT ''"
        )
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=1)
    out, err = capsys.readouterr()
    assert _applied("upg_broken")
    assert "upg_fine" not in out  # up to date: skipped
    assert "FAILED" not in err


def test_parallel_cities_fail_alone_too(cities: dict, django_db_blocker: Any) -> None:
    """``migrate_schemas --tenant --parallel 2`` (the Helm hook Job's): the same in forked
    workers, through ``manage.py`` on committed cities (removed after)."""
    from tenants.models import Municipality

    slugs = {"upg_par_broken": _code("01300"), "upg_par_fine": _code("01400")}
    env = {
        **os.environ, "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "daicho.settings.test",
    }  # fmt: skip
    with django_db_blocker.unblock():
        try:
            for slug, code in slugs.items():
                _city_behind(slug, code, breaks=slug.endswith("broken"))
            done = subprocess.run(
                [sys.executable, "manage.py", "migrate_schemas", "--tenant", "--parallel", "2"],
                cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
                check=False,
            )  # fmt: skip
            assert done.returncode == 1, done.stderr
            assert "[pending:upg_par_broken] MIGRATION FAILED" in done.stderr
            assert "failed in 1 of 2 schemas: upg_par_broken." in done.stderr
            assert not _applied("upg_par_broken")
            assert _applied("upg_par_fine")
        finally:
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                for slug in slugs:
                    cursor.execute(f"DROP SCHEMA IF EXISTS {slug} CASCADE")
            Municipality.objects.filter(schema_name__in=list(slugs)).delete()
