"""No log line quotes what PostgreSQL quoted back in an error (``daicho.logs``).

A unique violation's DETAIL names the key's values, a JSON value's CONTEXT the document
being written: any server error that came from the database wrote the row (a name, an
address) into the log with its traceback, through Django's handler and Celery's alike."""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from celery.app.trace import LOG_FAILURE
from celery.utils.saferepr import saferepr
from django.db import DatabaseError, connection, transaction

from daicho.logs import DatabaseErrorFilter
from tests.conftest import test_database_url
from workers.celery import filter_database_errors

REPO_ROOT = Path(__file__).resolve().parents[2]
NAME = "山田 花子"
FAILING = {
    # DETAIL:  Key (name)=(山田 花子) already exists.
    "unique": (
        "CREATE TEMPORARY TABLE log_probe (name text CONSTRAINT log_probe_name UNIQUE);"
        " INSERT INTO log_probe VALUES (%s), (%s)",
        [NAME, NAME],
    ),
    # CONTEXT:  JSON data, line 1: {"name": "山田 花子...
    "jsonb": ("SELECT %s::jsonb", ['{"name": "' + NAME + '\\u0000"}']),
}


def _database_error(sql: str, params: list[str]) -> Any:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        return sys.exc_info()
    raise AssertionError("the statement did not fail")


@pytest.mark.parametrize("failing", FAILING)
def test_a_server_error_from_the_database_logs_no_value(
    db: None, console: io.StringIO, failing: str
) -> None:
    exc_info = _database_error(*FAILING[failing])
    assert NAME in str(exc_info[1])  # what PostgreSQL answered
    logging.getLogger("django.request").error(
        "Internal Server Error: %s", "/api/v1/ledgers/dv/records/", exc_info=exc_info
    )
    logging.getLogger("ledgers").warning("write failed: %s", exc_info[1])
    written = console.getvalue()
    assert "Internal Server Error: /api/v1/ledgers/dv/records/" in written
    assert "Traceback (most recent call last)" in written  # where it failed is kept
    assert "sqlstate=" in written
    assert NAME not in written
    assert "山田" not in written


def test_the_unique_violation_still_names_its_constraint(db: None, console: io.StringIO) -> None:
    exc_info = _database_error(*FAILING["unique"])
    logging.getLogger("django.request").error("Internal Server Error", exc_info=exc_info)
    assert "sqlstate=23505" in console.getvalue()
    assert "constraint=log_probe_name" in console.getvalue()


def test_other_errors_keep_their_text(console: io.StringIO) -> None:
    try:
        try:
            raise KeyError("schema_name")
        except KeyError as exc:
            raise RuntimeError("while probing") from exc
    except RuntimeError:
        logging.getLogger("workers").exception("probe failed")
    written = console.getvalue()
    assert "KeyError: 'schema_name'" in written
    assert "RuntimeError: while probing" in written
    assert "direct cause" in written


def test_celery_worker_handlers_get_the_filter(db: None) -> None:
    """Celery replaces the root logger's handlers with its own in the worker."""
    logger = logging.getLogger("test.celery.worker")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    try:
        filter_database_errors(logger=logger)
        assert any(isinstance(f, DatabaseErrorFilter) for f in handler.filters)
        logger.error("Task failed", exc_info=_database_error(*FAILING["jsonb"]))
    finally:
        logger.removeHandler(handler)
    assert "sqlstate=22P05" in out.getvalue()
    assert NAME not in out.getvalue()


def test_celerys_failure_line_logs_no_value(db: None, console: io.StringIO) -> None:
    """Celery's worker writes a failed task as ``LOG_FAILURE % context``, the exception
    already made a string (its repr) and its traceback as text (``celery.app.trace``)."""
    exc_info = _database_error(*FAILING["unique"])
    context = {
        "hostname": "worker@host", "id": "4f1c", "name": "workers.audit_tasks.seal_city",
        "exc": saferepr(exc_info[1]), "traceback": "Traceback …\n" + str(exc_info[1]),
        "args": "()", "kwargs": "{}", "description": "raised unexpected", "internal": False,
    }  # fmt: skip
    assert NAME in LOG_FAILURE.strip() % context
    logging.getLogger("celery.app.trace").log(
        logging.ERROR, LOG_FAILURE.strip(), context, exc_info=exc_info, extra={"data": context}
    )
    written = console.getvalue()
    assert "Task workers.audit_tasks.seal_city[4f1c] raised unexpected: " in written
    assert "sqlstate=23505" in written
    assert NAME not in written


def test_an_error_that_quotes_a_database_error_logs_no_value(
    db: None, console: io.StringIO
) -> None:
    exc_info = _database_error(*FAILING["jsonb"])
    try:
        raise RuntimeError(f"could not write the record: {exc_info[1]}") from exc_info[1]
    except RuntimeError as exc:
        logging.getLogger("ledgers").exception("write failed")
        logging.getLogger("ledgers").error("write failed: %s", exc)
    written = console.getvalue()
    assert "RuntimeError: could not write the record: " in written
    assert NAME not in written


def fail_in_a_pool_worker() -> None:
    """The unique violation in a forked pool worker, as ``migrate_schemas
    --executor=multiprocessing`` migrates cities (the parent re-raises it, the worker's
    traceback as text in its ``__cause__``)."""
    connection.close()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        pool.map(_fail, [0])


def _fail(_: int) -> None:
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(*FAILING["unique"])


@pytest.mark.parametrize(
    "code",
    [
        "from django.db import connection;"
        " from tests.platform.test_logs import FAILING;"
        " connection.cursor().execute(*FAILING['unique'])",
        "from tests.platform.test_logs import fail_in_a_pool_worker; fail_in_a_pool_worker()",
    ],
)
def test_a_command_that_dies_on_a_database_error_prints_no_value(db: None, code: str) -> None:
    """A management command that died on a database error (a data migration failing on a
    row: the operator's terminal, the migration Job's log) was printed by Python whole,
    PostgreSQL's ``DETAIL: Key (name)=(山田 花子) already exists.`` with it: the logs'
    filter never saw it. ``manage.py`` prints it as the logs write it."""
    env = {
        **os.environ, "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "daicho.settings.test",
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "IntegrityError (message withheld: it may quote values)" in done.stderr
    assert NAME not in done.stderr + done.stdout
