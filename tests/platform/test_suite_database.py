"""A test module run by itself works on the test database, never on the one ``DATABASE_URL``
names (a developer's own: ``make run``'s)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Its one test commits a city through ``django_db_blocker`` alone: no test of the module
#: asks pytest-django for the database.
MODULE = "tests/ledgers/test_bulk_ownership.py"


def _server_url(database: str) -> str:
    """A URL of the test server's ``database``, from the connection the suite runs on."""
    settings = connection.settings_dict
    user = quote(settings["USER"]) + (
        f":{quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
    )
    return f"postgresql://{user}@{settings['HOST']}:{settings['PORT']}/{database}"


def _schemas(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
                " AND nspname <> 'information_schema' ORDER BY 1"
            )
        ]


@pytest.mark.django_db
def test_a_module_that_only_commits_runs_on_the_test_database_when_run_alone() -> None:
    name = f"daicho_own_{uuid.uuid4().hex[:10]}"
    admin = _server_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        env = {
            **os.environ,
            "DATABASE_URL": _server_url(name),
            # A cache prefix of its own (tests/settings: per xdist worker), not this worker's.
            "PYTEST_XDIST_WORKER": f"own-{name}",
        }
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", MODULE],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "1 passed" in run.stdout
        # The developer's database is as it was made: no city, no table.
        assert _schemas(_server_url(name)) == ["public"]
        with psycopg.connect(_server_url(name)) as conn:
            assert conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone() == (0,)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"DROP DATABASE IF EXISTS test_{name} WITH (FORCE)")
