"""Webhook deliveries leave a few per city at a time (ledgers/webhooks/dispatch.py).

``dispatched_until``: a delivery handed to the queue is not handed out again until then
(a nullable column without default: a change of the catalogue only).

Open deliveries are found per subscription: each city's dispatch reads every active
subscription's oldest due deliveries, which the index on next_attempt_at alone gave only
by reading past a paused subscription's backlog, or past one subscription's whole backlog
before another's first.

Built and dropped CONCURRENTLY when the migration runs on its own (``migrate_schemas``,
outside a transaction): record writes, which insert deliveries, are not held back while
the table is read, however many deliveries a city has kept. Inside a transaction (the
template schema, migrated when a city is provisioned, holds no rows) the plain statements
run. A concurrent build cut short leaves an invalid index, which a second run drops and
builds again. The new index is made before the old one goes.
"""

from typing import Any

from django.db import migrations, models

NEW = "webhook_delivery_open_sub_idx"
OLD = "webhook_delivery_due_idx"
CREATE = {
    NEW: 'CREATE INDEX{how} "{name}" ON "ledgers_webhookdelivery" ("subscription_id",'
    " \"next_attempt_at\") WHERE \"status\" IN ('pending', 'failed')",
    OLD: 'CREATE INDEX{how} "{name}" ON "ledgers_webhookdelivery" ("next_attempt_at")'
    " WHERE \"status\" IN ('pending', 'failed')",
}


def _replace(schema_editor: Any, *, make: str, drop: str) -> None:
    connection = schema_editor.connection
    how = "" if connection.in_atomic_block else " CONCURRENTLY"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
            [make],
        )
        found = cursor.fetchone()
        if found is not None and not found[0]:
            cursor.execute(f'DROP INDEX{how} "{make}"')
        if found is None or not found[0]:
            cursor.execute(CREATE[make].format(how=how, name=make))
        cursor.execute(f'DROP INDEX{how} IF EXISTS "{drop}"')


def forwards(apps: Any, schema_editor: Any) -> None:
    _replace(schema_editor, make=NEW, drop=OLD)


def backwards(apps: Any, schema_editor: Any) -> None:
    _replace(schema_editor, make=OLD, drop=NEW)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("ledgers", "0022_bulk_create_audit_names_api_token")]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="dispatched_until",
            field=models.DateTimeField(null=True, verbose_name="送信処理の期限"),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.AddIndex(
                    model_name="webhookdelivery",
                    index=models.Index(
                        fields=["subscription", "next_attempt_at"],
                        condition=models.Q(status__in=["pending", "failed"]),
                        name=NEW,
                    ),
                ),
                migrations.RemoveIndex(model_name="webhookdelivery", name=OLD),
            ],
        ),
    ]
