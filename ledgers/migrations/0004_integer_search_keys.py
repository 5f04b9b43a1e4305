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


def reindex(apps: Any, schema_editor: Any) -> None:
    from ledgers.search.index import Indexer, path_types, value_keys
    from ledgers.search.keys import key_prefix

    ledger_model = apps.get_model("ledgers", "Ledger")
    record_model = apps.get_model("ledgers", "Record")
    value_model = apps.get_model("ledgers", "SearchValue")
    for ledger in ledger_model.objects.all():
        every_field = ledger.definition.get("fields", [])
        live = [f for f in every_field if not f.get("removed")]
        types = path_types(every_field)
        indexer = Indexer(live, ledger.pk)
        records = record_model.objects.filter(ledger_id=ledger.pk).only("id", "data")
        batch = []
        for record in records.iterator(chunk_size=BATCH):
            record.search_keys = indexer.index(record.data).keys
            batch.append(record)
            if len(batch) >= BATCH:
                record_model.objects.bulk_update(batch, ["search_keys"])
                batch = []
        record_model.objects.bulk_update(batch, ["search_keys"])
        values = value_model.objects.filter(ledger_id=ledger.pk).only("id", "path", "value")
        batch = []
        for row in values.iterator(chunk_size=BATCH):
            prefix = key_prefix(ledger.pk, row.path)
            row.keys = list(value_keys(prefix, types.get(row.path, "text"), row.value))
            batch.append(row)
            if len(batch) >= BATCH:
                value_model.objects.bulk_update(batch, ["keys"])
                batch = []
        value_model.objects.bulk_update(batch, ["keys"])


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
