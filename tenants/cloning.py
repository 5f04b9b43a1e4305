"""Create a city's schema by cloning a migrated template schema, fast and flat.

Running the tenant migrations for every new city costs over a second once sign-in security
brings its third-party migrations (about 40 in all); django-tenants' bundled
``clone_schema`` is fast at first but scans the catalog-wide ``pg_indexes`` view for every
table and takes tens of seconds per city once a few hundred schemas exist.

This clone reads only the template's own catalog rows (filtered by its namespace) and
recreates, under the same names: tables (columns, defaults, identity, NOT NULL and CHECK
constraints), primary, unique and foreign keys, indexes, trigger functions, triggers and
column statistics targets; then copies the template's rows (the migration history,
content types, permissions) and moves every identity sequence past them. Same names
matter: a later migration that drops an index or constraint by name must find it in every
city. ``tests/tenants/test_cloning.py`` compares a cloned schema with a migrated one.

The template (``TEMPLATE_SCHEMA``) is migrated on demand, under an advisory lock, before a
clone when it lacks a migration; it belongs to no municipality and serves no host.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.management import call_command
from django.db import connection
from psycopg import sql

TEMPLATE_SCHEMA = "_daicho_template"
_LOCK_KEY = 0x7E4D_A1C0  # one advisory lock for template maintenance


def _qualified(text: str, source: str, target: str) -> str:
    """Rewrite references to the source schema in a catalog definition."""
    return re.sub(rf'(?<![\w"]){re.escape(source)}\.', f"{target}.", text).replace(
        f'"{source}".', f'"{target}".'
    )


def template_ensure() -> None:
    """Create or migrate the template schema when it is missing or lacks a migration."""
    from tenants.migration_executor import schemas_with_pending_migrations

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [TEMPLATE_SCHEMA])
        exists = cursor.fetchone() is not None
        if not exists:
            cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(TEMPLATE_SCHEMA)))
    if exists and not schemas_with_pending_migrations([TEMPLATE_SCHEMA]):
        return
    call_command(
        "migrate_schemas", schema_name=TEMPLATE_SCHEMA, executor="standard",
        interactive=False, verbosity=0,
    )  # fmt: skip
    connection.set_schema_to_public()


def schema_clone(target: str, *, source: str = TEMPLATE_SCHEMA) -> None:
    """Create schema ``target`` as a copy of ``source`` (structure and rows), in the caller's
    transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [source])
        (namespace,) = cursor.fetchone()
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target)))
        # Definitions print names relative to the search path: show everything qualified.
        cursor.execute("SET LOCAL search_path = pg_catalog")

        # Every later catalog read goes through the template's own table oids and the
        # catalogs' relation indexes: the cost does not grow with the number of cities.
        cursor.execute(
            "SELECT oid, relname FROM pg_class WHERE relnamespace = %s AND relkind = 'r' ORDER BY relname",
            [namespace],
        )
        table_rows = cursor.fetchall()
        oids = [row[0] for row in table_rows]
        tables = [row[1] for row in table_rows]
        statements: list[str] = []
        for table in tables:
            statements.append(
                sql.SQL(
                    "CREATE TABLE {t} (LIKE {s} INCLUDING DEFAULTS INCLUDING IDENTITY"
                    " INCLUDING GENERATED INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)"
                )
                .format(t=sql.Identifier(target, table), s=sql.Identifier(source, table))
                .as_string(cursor.connection)
            )

        # Functions first (triggers call them).
        cursor.execute(
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.pronamespace = %s ORDER BY p.proname",
            [namespace],
        )
        statements += [_qualified(row[0], source, target) for row in cursor.fetchall()]

        # Primary and unique keys (their indexes keep the constraint's name), then plain
        # indexes, then foreign keys (which need the keys they point at).
        cursor.execute(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid), k.contype"
            " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
            " WHERE k.conrelid = ANY(%s::oid[]) AND k.contype IN ('p', 'u', 'x', 'f')"
            " ORDER BY k.contype = 'f', c.relname, k.conname",
            [oids],
        )
        constraints = cursor.fetchall()
        keys = [row for row in constraints if row[3] != "f"]
        foreign = [row for row in constraints if row[3] == "f"]
        for table, name, definition, _kind in keys:
            statements.append(_add_constraint(cursor, target, table, name, definition, source))
        cursor.execute(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = ANY(%s::oid[]) AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint k WHERE k.conrelid = i.indrelid AND k.conindid = i.indexrelid"
            " AND k.contype IN ('p', 'u', 'x'))"
            " ORDER BY c.relname",
            [oids],
        )
        statements += [_qualified(row[0], source, target) for row in cursor.fetchall()]
        for table, name, definition, _kind in foreign:
            statements.append(_add_constraint(cursor, target, table, name, definition, source))

        cursor.execute(
            "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE t.tgrelid = ANY(%s::oid[]) AND NOT t.tgisinternal ORDER BY c.relname, t.tgname",
            [oids],
        )
        statements += [_qualified(row[0], source, target) for row in cursor.fetchall()]

        cursor.execute(
            "SELECT c.relname, a.attname, a.attstattarget FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE a.attrelid = ANY(%s::oid[]) AND a.attnum > 0"
            " AND NOT a.attisdropped AND a.attstattarget > 0",
            [oids],
        )
        for table, column, target_stats in cursor.fetchall():
            statements.append(
                sql.SQL("ALTER TABLE {t} ALTER COLUMN {c} SET STATISTICS {n}")
                .format(
                    t=sql.Identifier(target, table),
                    c=sql.Identifier(column),
                    n=sql.Literal(target_stats),
                )
                .as_string(cursor.connection)
            )
        statements += _copy_rows(cursor, table_rows, source, target)
        # One round trip for the whole script (round trips, not DDL, dominated the clone).
        cursor.execute(";\n".join(statements))
        cursor.execute("SET LOCAL search_path = DEFAULT")
    connection.set_schema_to_public()


def _add_constraint(
    cursor: object, target: str, table: str, name: str, definition: str, source: str
) -> str:
    return sql.SQL("ALTER TABLE {t} ADD CONSTRAINT {n} ").format(
        t=sql.Identifier(target, table), n=sql.Identifier(name)
    ).as_string(cursor.connection) + _qualified(definition, source, target)


def _copy_rows(
    cursor: Any, table_rows: list[tuple[int, str]], source: str, target: str
) -> list[str]:
    """Statements that copy the template's rows and move identity sequences past them."""
    statements = [
        sql.SQL("INSERT INTO {t} OVERRIDING SYSTEM VALUE SELECT * FROM {s}")
        .format(t=sql.Identifier(target, table), s=sql.Identifier(source, table))
        .as_string(cursor.connection)
        for _oid, table in table_rows
    ]
    cursor.execute(
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " WHERE a.attrelid = ANY(%s::oid[]) AND a.attidentity <> '' AND NOT a.attisdropped",
        [[oid for oid, _table in table_rows]],
    )
    for table, column in cursor.fetchall():
        statements.append(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({qualified}, {col}),"
                " coalesce((SELECT max({c}) FROM {t}), 0) + 1, false)"
            )
            .format(
                qualified=sql.Literal(f'"{target}"."{table}"'),
                col=sql.Literal(column),
                c=sql.Identifier(column),
                t=sql.Identifier(source, table),
            )
            .as_string(cursor.connection)
        )
    return statements
