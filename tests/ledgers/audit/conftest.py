"""Fixtures for the audit trail: object storage in a temporary folder, helpers to tamper."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from ledgers.audit.models import AuditEvent
from ledgers.audit.services import audit_record, audit_seal


@pytest.fixture(autouse=True)
def anchor_storage(tmp_path: Path) -> Iterator[Path]:
    """Object storage of this test only: anchors written by one test never meet another."""
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "daicho.storage.TenantFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    with override_settings(STORAGES=storages):
        yield tmp_path


def record_events(count: int, *, actor: Any = None, **values: Any) -> list[AuditEvent]:
    return [
        audit_record(actor=actor, action="record.view", ledger_code="subsidy",
                     details={"i": i, "screen": "台帳一覧", **values})
        for i in range(count)
    ]  # fmt: skip


def as_superuser(schema: str, table: str, statement: str, params: list[Any] | None = None) -> None:
    """Run ``statement`` with the table's triggers disabled, as a database superuser could.

    Inside the test's transaction, so it is rolled back with it.
    """
    with connection.cursor() as cursor:
        # Check the transaction's deferred foreign keys now (ALTER TABLE refuses to run with
        # checks pending), and every later one at once.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f'ALTER TABLE "{schema}"."{table}" DISABLE TRIGGER ALL')
        cursor.execute(statement, params or [])
        cursor.execute(f'ALTER TABLE "{schema}"."{table}" ENABLE TRIGGER ALL')


def rewrite_whole_chain(event: AuditEvent) -> None:
    """What the application's own role (the tables' owner) or a superuser could do: change
    an event with the triggers disabled, drop every seal, reseal. Mitaka only."""
    as_superuser(
        "mitaka", "ledgers_auditevent", "UPDATE mitaka.ledgers_auditevent SET details = %s WHERE seq = %s",
        [json.dumps({"i": 0, "screen": "改ざん"}), event.seq],
    )  # fmt: skip
    as_superuser("mitaka", "ledgers_auditseal", "DELETE FROM mitaka.ledgers_auditseal")
    audit_seal(full=True)


def second_connection() -> psycopg.Connection:
    """Another session on the test database (not in the test's transaction)."""
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None,
        host=db["HOST"] or None, port=db["PORT"] or None,
    )  # fmt: skip


@contextlib.contextmanager
def dated_by_hand() -> Iterator[None]:
    """The insert guard (``ledgers_auditevent_insert_guard``, migration 0011) set aside, as
    only the table's owner can, for tests that need events of given times or numbers; on
    the current schema, inside the test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE ledgers_auditevent DISABLE TRIGGER ledgers_auditevent_insert_guard"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE ledgers_auditevent ENABLE TRIGGER ledgers_auditevent_insert_guard"
            )
