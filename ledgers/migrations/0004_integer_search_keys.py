"""Search keys stored as integers (``ledgers.search.keys.stored_key``) instead of text, and
prefixed with their ledger (``key_prefix``).

The columns change type and every record's keys, current and past, are computed again from
the stored values by the same code that indexes new writes.
"""

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import migrations, models

BATCH = 2000

TO_INTEGER = """
ALTER TABLE ledgers_record ALTER COLUMN search_keys TYPE integer[] USING '{}';
ALTER TABLE ledgers_searchvalue ALTER COLUMN keys TYPE integer[] USING '{}';
ALTER TABLE ledgers_record ALTER COLUMN search_keys SET STATISTICS 1000;
ALTER TABLE ledgers_searchvalue ALTER COLUMN keys SET STATISTICS 1000;
"""


REWRITES = {
    "records": (
        "CREATE TEMP TABLE _reindex (id uuid, keys integer[])",
        "UPDATE ledgers_record AS t SET search_keys = r.keys FROM _reindex AS r WHERE t.id = r.id",
    ),
    "values": (
        "CREATE TEMP TABLE _reindex (id bigint, keys integer[])",
        "UPDATE ledgers_searchvalue AS t SET keys = r.keys FROM _reindex AS r WHERE t.id = r.id",
    ),
}


def _rewrite(cursor: Any, which: str, rows: Any) -> None:
    """Set the keys from ``(id, keys literal)`` rows: COPY into a temporary table, then one
    UPDATE (Django's bulk_update builds a CASE per row: minutes per hundred thousand)."""
    create, update = REWRITES[which]
    cursor.execute(create)
    with cursor.copy("COPY _reindex FROM STDIN") as copy_in:
        for row in rows:
            copy_in.write_row(row)
    cursor.execute(update)
    cursor.execute("DROP TABLE _reindex")


def reindex(apps: Any, schema_editor: Any) -> None:
    from django.db import connection

    from ledgers.search.index import Indexer

    ledger_model = apps.get_model("ledgers", "Ledger")
    record_model = apps.get_model("ledgers", "Record")
    value_model = apps.get_model("ledgers", "SearchValue")
    database = schema_editor.connection if schema_editor is not None else connection
    for ledger in ledger_model.objects.all():
        indexer = Indexer(ledger.definition.get("fields", []), ledger.pk)
        records = record_model.objects.filter(ledger_id=ledger.pk).values_list("id", "data")
        record_rows = [
            (record_id, indexer.index(data).keys_sql)
            for record_id, data in records.iterator(chunk_size=BATCH)
        ]
        values = value_model.objects.filter(ledger_id=ledger.pk).values_list("id", "path", "value")
        value_rows = [
            (value_id, "{" + ",".join(map(str, indexer.value_keys(path, text))) + "}")
            for value_id, path, text in values.iterator(chunk_size=BATCH)
        ]
        with database.cursor() as cursor:
            _rewrite(cursor, "records", record_rows)
            _rewrite(cursor, "values", value_rows)


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0003_search_value_past_only")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(TO_INTEGER)],
            state_operations=[
                migrations.AlterField(
                    model_name="record",
                    name="search_keys",
                    field=ArrayField(
                        base_field=models.IntegerField(), default=list, verbose_name="検索キー"
                    ),
                ),
                migrations.AlterField(
                    model_name="searchvalue",
                    name="keys",
                    field=ArrayField(
                        base_field=models.IntegerField(), default=list, verbose_name="検索キー"
                    ),
                ),
            ],
        ),
        migrations.RunPython(reindex, migrations.RunPython.noop),
    ]
