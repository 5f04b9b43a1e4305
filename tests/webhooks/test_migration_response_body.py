"""Migration 0027: the receivers' answers kept before 0015 leave every city's table."""

from __future__ import annotations

import importlib
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context

migration = importlib.import_module("ledgers.migrations.0027_webhookdelivery_drop_response_body")


def _columns() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'ledgers_webhookdelivery'"
        )
        return {name for (name,) in cursor.fetchall()}


def test_a_migrated_city_keeps_no_answer_column(mitaka: Any) -> None:
    with schema_context("mitaka"):
        assert "response_status" in _columns()
        assert "response_body" not in _columns()


def test_the_bodies_kept_before_0015_are_emptied_and_the_column_dropped(
    subscribe: Any, enqueue: Any
) -> None:
    subscribe("clerk")
    [delivery] = enqueue("record.updated", generation=1)
    with schema_context("mitaka"):
        with connection.cursor() as cursor:
            # The deliveries' foreign-key checks, deferred to the commit, first: PostgreSQL
            # alters no table with checks pending for rows the transaction wrote.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # A city as 0015 left it: the column, with an echoed payload in one row.
            cursor.execute(migration.REVERSE_SQL)
            cursor.execute(
                "UPDATE ledgers_webhookdelivery SET response_body = %s WHERE id = %s",
                ['{"error": "invalid", "name": "山田 花子"}', delivery.pk],
            )
            cursor.execute(migration.FORWARD_SQL)
            cursor.execute(
                "SELECT to_jsonb(d)::text FROM ledgers_webhookdelivery d WHERE id = %s",
                [delivery.pk],
            )
            (row,) = cursor.fetchone()
        assert "response_body" not in _columns()
    assert "山田" not in row
