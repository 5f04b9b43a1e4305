"""A django-tenants migration executor that skips cities with nothing pending, and goes on
past a city whose migration fails.

With hundreds of cities, running Django's ``migrate`` in every schema costs about 0.1 s
each even when nothing is pending (it rebuilds the migration state and runs the
post-migrate handlers). This executor reads every city's ``django_migrations`` in one
catalog-light query, then migrates only the schemas that lack a migration. It is the
default (``EXECUTOR=pending``, set in settings); ``--executor=standard`` still works.
``--parallel N`` migrates N cities at a time (forked processes, as django-tenants'
``multiprocessing`` executor).

A city whose migration fails (a row a data migration cannot convert, the check of
``accounts`` 0005) is rolled back to its last complete migration, as Django does, and
named on stderr with its error (a database error as ``daicho.logs`` writes it: no value
PostgreSQL quoted) and the traceback; the other cities are migrated all the same. The run
then ends with a ``CommandError`` naming every failed schema (exit status 1: the Helm
hook Job fails and the upgrade stops). Run again once fixed: only the schemas still
missing a migration run. django-tenants' executors stopped at the first failure, leaving
every later city unmigrated, and its ``multiprocessing`` executor re-raised the error
without naming the schema.
"""

from __future__ import annotations

import functools
import multiprocessing
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.migration_executors.base import MigrationExecutor, run_migrations
from django_tenants.migration_executors.standard import StandardExecutor
from psycopg import sql


@functools.lru_cache(maxsize=1)
def tenant_migrations_expected() -> tuple[frozenset[tuple[str, str]], dict[tuple[str, str], set]]:
    """The migrations a city schema must have applied, and what each squash replaces.

    Loaded without a connection, the graph holds squashed migrations in place of the
    ones they replace; a schema that recorded all the replaced ones satisfies the squash.
    Migrations on disk do not change while a process runs: loaded once per process.
    """
    from django.apps import apps

    tenant_apps = set(settings.TENANT_APPS)
    labels = {c.label for c in apps.get_app_configs() if c.name in tenant_apps}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    expected = frozenset(key for key in loader.graph.nodes if key[0] in labels)
    replaces = {key: set(m.replaces) for key, m in loader.replacements.items()}
    return expected, replaces


def schemas_with_pending_migrations(schemas: list[str]) -> list[str]:
    """The schemas among ``schemas`` that miss at least one expected migration."""
    if not schemas:
        return []
    expected, replaced_by = tenant_migrations_expected()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind = 'r' AND n.nspname = ANY(%s)",
            [schemas],
        )
        with_table = {row[0] for row in cursor.fetchall()}
        applied: dict[str, set[tuple[str, str]]] = {schema: set() for schema in with_table}
        if with_table:
            query = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {literal}, app, name FROM {table}").format(
                    literal=sql.Literal(schema),
                    table=sql.Identifier(schema, "django_migrations"),
                )
                for schema in sorted(with_table)
            )
            cursor.execute(query.as_string(cursor.connection))
            for schema, app, name in cursor.fetchall():
                applied[schema].add((app, name))
    pending = []
    for schema in schemas:
        done = applied.get(schema)
        if done is None:
            pending.append(schema)
            continue
        for key in expected:
            if key in done or (key in replaced_by and replaced_by[key] <= done):
                continue
            pending.append(schema)
            break
    return pending


def city_migrate(
    args: Any, options: dict[str, Any], count: int, item: tuple[int, str]
) -> tuple[str, str | None]:
    """Migrate one city (``item``: its place and schema); ``(schema, None)`` when done,
    ``(schema, what failed)`` when its migration raised: the failure is written to stderr
    here (in the process that ran it) and never raised, so the run goes on."""
    from daicho.logs import format_exception, redacted

    idx, schema = item
    try:
        if connection.in_atomic_block:
            # Called inside a transaction (a test, a caller's block): a failed city is rolled
            # back to here, and the transaction goes on with the next.
            with transaction.atomic():
                run_migrations(args, options, PendingOnlyExecutor.codename, schema,
                               idx=idx, count=count)  # fmt: skip
        else:
            run_migrations(args, options, PendingOnlyExecutor.codename, schema,
                           allow_atomic=False, idx=idx, count=count)  # fmt: skip
    except Exception as exc:
        failure = redacted(exc)
        sys.stdout.flush()
        sys.stderr.write(
            f"\n[pending:{schema}] MIGRATION FAILED (rolled back to its last complete "
            f"migration; the other cities go on): {failure}\n{format_exception(exc)}\n"
        )
        sys.stderr.flush()
        if not connection.in_atomic_block:
            connection.close()
        connection.set_schema_to_public()
        return schema, failure
    return schema, None


class PendingOnlyExecutor(MigrationExecutor):
    codename = "pending"

    def run_migrations(self, tenants: list[str] | None = None) -> None:
        tenants = list(tenants or [])
        public = [s for s in tenants if s == self.PUBLIC_SCHEMA_NAME]
        cities = [s for s in tenants if s != self.PUBLIC_SCHEMA_NAME]
        if public:
            StandardExecutor(self.args, self.options).run_migrations(tenants=public)
        pending = schemas_with_pending_migrations(cities)
        if len(cities) > len(pending) and int(self.options.get("verbosity", 1)) >= 1:
            skipped = len(cities) - len(pending)
            sys.stdout.write(f"[pending] {skipped} of {len(cities)} schemas up to date: skipped\n")
        migrate = functools.partial(city_migrate, self.args, self.options, len(pending))
        parallel = int(self.options.get("parallel") or 1)
        if parallel > 1 and len(pending) > 1 and not connection.in_atomic_block:
            # Forked workers inherit the loaded apps and settings, not the connection.
            connection.close()
            with get_pool_of(parallel) as pool:
                results = list(pool.imap_unordered(migrate, enumerate(pending)))
        else:
            results = [migrate(item) for item in enumerate(pending)]
        failed = sorted(schema for schema, failure in results if failure is not None)
        if failed:
            raise CommandError(
                f"Migrations failed in {len(failed)} of {len(pending)} schemas: "
                f"{', '.join(failed)}. Each is at its last complete migration (its error is "
                "above, under its name); the other schemas are migrated. Fix the cause and run "
                "migrate_schemas --tenant again: only the schemas still missing a migration run."
            )

    def run_multi_type_migrations(self, tenants: list[tuple[str, str]]) -> None:
        StandardExecutor(self.args, self.options).run_multi_type_migrations(tenants)


def get_pool_of(processes: int) -> Any:
    """A pool of ``processes`` forked workers (as django-tenants' ``get_pool``: they rely on
    inheriting the loaded apps and settings)."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return context.Pool(processes=processes)
