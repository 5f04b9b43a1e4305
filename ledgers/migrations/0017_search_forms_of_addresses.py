"""Search forms recomputed after the normalisation learnt 霞が関 = 霞ケ関 (ケ・ヶ・が・ガ between
kanji) and address numbering (三丁目 = 3丁目, 3丁目1番2号 = 3-1-2, 1番地の2 = 1-2), and the
variant table four more pairs (桧 = 檜, 淺 = 浅, 靑 = 青, 驛 = 駅).

A record's recheck texts (``search_text``) and keys, and a past value's normalised text and
keys, were written with the old forms: an address typed 3-1-2 would not find a record
stored as 3丁目1番2号 until it was written again. Only rows whose forms change are written
(each at most once), by the same code that indexes new writes, as ``0004`` did. A past
value's stored text is already normalised; the new normalisation applied to it gives the
new form (every fold is idempotent and the new ones act on normalised text). Two past
values of one record and field that now have one form become one row, with the later
generation.
"""

import json
from typing import Any

from django.db import migrations

BATCH = 2000

REWRITES = {
    "records": (
        "CREATE TEMP TABLE _reforms (id uuid, keys integer[], texts jsonb)",
        "UPDATE ledgers_record AS t SET search_keys = r.keys, search_text = r.texts"
        " FROM _reforms AS r WHERE t.id = r.id",
    ),
    "values": (
        "CREATE TEMP TABLE _reforms (id bigint, value text, keys integer[], generation integer)",
        "UPDATE ledgers_searchvalue AS t SET value = r.value, keys = r.keys,"
        " generation = r.generation FROM _reforms AS r WHERE t.id = r.id",
    ),
}


def _rewrite(cursor: Any, which: str, rows: list[tuple[Any, ...]]) -> None:
    """COPY the new forms into a temporary table, then one UPDATE (as 0004)."""
    if not rows:
        return
    create, update = REWRITES[which]
    cursor.execute(create)
    with cursor.copy("COPY _reforms FROM STDIN") as copy_in:
        for row in rows:
            copy_in.write_row(row)
    cursor.execute(update)
    cursor.execute("DROP TABLE _reforms")


def _keys_sql(keys: Any) -> str:
    return "{" + ",".join(map(str, keys)) + "}"


def reform(apps: Any, schema_editor: Any) -> None:
    from django.db import connection

    from ledgers.search.index import MAX_VALUE, Indexer, normaliser_for, path_types

    ledger_model = apps.get_model("ledgers", "Ledger")
    record_model = apps.get_model("ledgers", "Record")
    value_model = apps.get_model("ledgers", "SearchValue")
    database = schema_editor.connection if schema_editor is not None else connection
    for ledger in ledger_model.objects.all():
        fields = ledger.definition.get("fields", [])
        indexer = Indexer(fields, ledger.pk)
        types = path_types(fields)
        record_rows = []
        records = record_model.objects.filter(ledger_id=ledger.pk).values_list(
            "id", "data", "search_text"
        )
        for record_id, data, texts in records.iterator(chunk_size=BATCH):
            index = indexer.index(data)
            if index.texts != texts:
                record_rows.append((record_id, index.keys_sql, json.dumps(index.texts)))
        # Past values: the new form of each, one row per (record, path, form).
        groups: dict[tuple[Any, str, str], list[tuple[int, str, int]]] = {}
        values = value_model.objects.filter(ledger_id=ledger.pk).values_list(
            "id", "record_id", "path", "value", "generation"
        )
        for value_id, record_id, path, text, generation in values.iterator(chunk_size=BATCH):
            form = normaliser_for(types.get(path, "text"))(text)[:MAX_VALUE] or text
            groups.setdefault((record_id, path, form), []).append((value_id, text, generation))
        value_rows = []
        delete: list[int] = []
        for (_record, path, form), rows in groups.items():
            if len(rows) == 1 and rows[0][1] == form:
                continue  # the usual case: nothing changes
            # Keep the row that already holds the form, if any (no unique conflict).
            rows.sort(key=lambda row: row[1] != form)
            (keep, text, generation), *others = rows
            latest = max(row[2] for row in rows)
            delete.extend(row[0] for row in others)
            if text != form or latest != generation:
                keys = _keys_sql(indexer.value_keys(path, form))
                value_rows.append((keep, form, keys, latest))
        with database.cursor() as cursor:
            _rewrite(cursor, "records", record_rows)
            if delete:
                cursor.execute("DELETE FROM ledgers_searchvalue WHERE id = ANY(%s)", [delete])
            _rewrite(cursor, "values", value_rows)


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0016_webhook_owner_is_creator")]

    operations = [migrations.RunPython(reform, migrations.RunPython.noop)]
