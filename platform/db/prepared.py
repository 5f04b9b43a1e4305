"""Statements the code runs as server-side prepared statements on Django's connection.

A statement that is the same on every call (the records service's writes, a record read
per visibility) is parsed and planned by PostgreSQL once per connection instead of on
every call: about half a millisecond of a single-record write, 0.25 of a record read with
its audit event (measured 2026-11-29). Django's own cursors send every query as text with
its values quoted in (psycopg's client-side binding) and never prepare one; these go
through psycopg's cursor on the same connection, so Django's transaction applies to them.

- The city: django-tenants sets the connection's ``search_path`` when Django's cursor is
  opened; a raw cursor would run in the city the connection served last. ``prepared``
  opens Django's cursor first. PostgreSQL re-plans a prepared statement when
  ``search_path`` changes, so a plan never reads another city's tables.
- Errors come as Django's cursors raise them (``IntegrityError``, ``DataError`` …).
- Query logging: with ``DEBUG`` or in a test's ``CaptureQueriesContext`` each statement is
  logged like Django's own (its SQL without the values).
- A deployment that must not prepare anything (a pooler in transaction mode) sets
  ``DB_PREPARED_STATEMENTS=0``: psycopg then sends each one unprepared (daicho.db.base).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection


@contextmanager
def prepared(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> Iterator[psycopg.Cursor]:
    """A psycopg cursor that has run ``sql`` (``%s`` or ``%(name)s`` placeholders) with
    ``params`` as a prepared statement on Django's connection, in the city in force."""
    with connection.cursor():
        pass
    started = time.perf_counter()
    try:
        with psycopg.Cursor(connection.connection) as cursor, connection.wrap_database_errors:
            cursor.execute(sql, params, prepare=True)
            yield cursor
    finally:
        if connection.queries_logged:
            connection.queries_log.append(
                {"sql": sql, "time": f"{time.perf_counter() - started:.3f}"}
            )
