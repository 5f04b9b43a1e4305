"""A cloned city schema is the same as one built by running the migrations."""

from __future__ import annotations

import re
from typing import Any

from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from tenants.cloning import TEMPLATE_SCHEMA, schema_clone, template_ensure
from tests.conftest import City


def _snapshot(schema: str) -> dict[str, Any]:
    """Structure and migration rows of a schema, with its name taken out."""

    def strip(text: str) -> str:
        return re.sub(rf'"?{re.escape(schema)}"?\.', "", text)

    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema])
        (oid,) = cursor.fetchone()
        cursor.execute("SET LOCAL search_path = pg_catalog")
        cursor.execute(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
            " a.attidentity, pg_get_expr(d.adbin, d.adrelid)"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
            " WHERE c.relnamespace = %s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
            " ORDER BY 1, 2",
            [oid],
        )
        columns = [tuple(strip(str(v)) for v in row) for row in cursor.fetchall()]
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = %s ORDER BY 1",
            [oid],
        )
        # A partial index's predicate prints differently once re-parsed (same meaning):
        # compare everything before it, and that there is one.
        indexes = [
            (name, strip(definition).split(" WHERE ")[0], " WHERE " in definition)
            for name, definition in cursor.fetchall()
        ]
        cursor.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE connamespace = %s ORDER BY 1",
            [oid],
        )
        constraints = [(n, t, strip(d)) for n, t, d in cursor.fetchall()]
        cursor.execute(
            "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE c.relnamespace = %s AND NOT t.tgisinternal ORDER BY 1",
            [oid],
        )
        triggers = [(n, strip(d)) for n, d in cursor.fetchall()]
        cursor.execute("SET LOCAL search_path = DEFAULT")
    connection.set_schema_to_public()
    with schema_context(schema), connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        migrations = cursor.fetchall()
        cursor.execute("SELECT app_label, model FROM django_content_type ORDER BY 1, 2")
        content_types = cursor.fetchall()
    return {
        "columns": columns, "indexes": indexes, "constraints": constraints, "triggers": triggers,
        "migrations": migrations, "content_types": content_types,
    }  # fmt: skip


def test_a_clone_matches_a_migrated_schema(cities: dict, db: None) -> None:
    template_ensure()
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA migrated_city")
    call_command(
        "migrate_schemas",
        schema_name="migrated_city",
        executor="standard",
        interactive=False,
        verbosity=0,
    )
    connection.set_schema_to_public()
    schema_clone("cloned_city")
    migrated, cloned = _snapshot("migrated_city"), _snapshot("cloned_city")
    for part in ("columns", "indexes", "constraints", "triggers", "migrations", "content_types"):
        assert cloned[part] == migrated[part], part
    assert len(cloned["triggers"]) >= 4  # the audit trail's append-only guards came along


def test_a_cloned_city_works_and_its_identities_continue(mitaka: City) -> None:
    from django.contrib.auth import get_user_model

    with schema_context(mitaka.slug):
        user = get_user_model().objects.create_user(username="after-clone", password="x" * 12)
        assert user.pk > get_user_model().objects.get(username="admin").pk
        with connection.cursor() as cursor:
            cursor.execute("UPDATE ledgers_auditevent SET action = 'x' WHERE false")
            cursor.execute("SELECT count(*) FROM django_migrations")
            assert cursor.fetchone()[0] > 20


def test_the_template_belongs_to_no_city(cities: dict, db: None) -> None:
    from tenants.models import Municipality

    template_ensure()
    assert not Municipality.objects.filter(schema_name=TEMPLATE_SCHEMA).exists()
