"""Search forms recomputed after the normalisation learnt address numbering in kanji that it
left as written: a numeral right after 番地 (八番地七, a 本籍 in the 戸籍's style, is 8-7) and
before Hokkaido's 条 and 線 and Iwate's 地割 (北三条西四丁目 = 北3条西4丁目, 第一地割 = 第1地割);
the variant table's CJK radicals that a PDF file's text holds for the kanji they show (⻑ =
長, ⻘ = 青 …) and 𣘺 = 橋, 驒 = 騨, 逹 = 達; ヵ, 箇 and 个 between two kanji as the particle
ケ (霞ヵ関 = 霞个関 = 霞が関); the double hyphen between the parts of a foreign name, ゠ or
＝ between two kana, dropped as the middle dot is (マリア＝サントス = マリア・サントス).

It also does what ``0021`` did (superseded by this one; a database where it ran is
recomputed all the same, in one pass where a city ran two otherwise): 旧仮名 ヲ = オ, 乃
between kanji, a person's name with its parts folded alone as a third form, and everything
``0019`` and ``0017`` did before it (spellings of one sound, long vowels, 之・ノ・の between
kanji, addresses without 大字 and 字, address numbering, 霞が関 = 霞ケ関, variant pairs).

A record's recheck texts (``search_text``) and keys are computed again by the code that
indexes new writes, and written only where they change (as ``0004``); a past value's stored
text is already normalised, and its new forms are the forms of that text (the folds act on
normalised text and give what they give on the text as typed: checked by the tests of this
migration), but for the form by parts, which needs the space between a name's parts that a
normalised text no longer has: a past value indexed before ``0021`` is found by its whole
name and by the form as written, not by a given name that needs a fold of its own. Past
values that now share a form become one row with the later generation; a value that now has
two forms gets a row for each. Records are read, and their past values rewritten, 2,000 at a
time (by id, one range of each index), so the memory it takes does not grow with a ledger.
Measured in ``docs/benchmarks.md`` ("Search", for ``0021``, the same code): 56–89 µs a
record when nothing changes, 109–132 µs when every record is rewritten.
"""

import json
from typing import Any

from django.db import migrations

BATCH = 2000

UPDATE_RECORDS = (
    "CREATE TEMP TABLE _reforms (id uuid, keys integer[], texts jsonb)",
    "UPDATE ledgers_record AS t SET search_keys = r.keys, search_text = r.texts"
    " FROM _reforms AS r WHERE t.id = r.id",
)


def _update_records(cursor: Any, rows: list[tuple[Any, ...]]) -> None:
    """COPY the new forms into a temporary table, then one UPDATE (as 0004)."""
    if not rows:
        return
    create, update = UPDATE_RECORDS
    cursor.execute(create)
    with cursor.copy("COPY _reforms FROM STDIN") as copy_in:
        for row in rows:
            copy_in.write_row(row)
    cursor.execute(update)
    cursor.execute("DROP TABLE _reforms")


def _keys_sql(keys: Any) -> str:
    return "{" + ",".join(map(str, keys)) + "}"


def _records(database: Any, batch: list[tuple[Any, ...]], indexer: Any) -> None:
    rows = []
    for record_id, data, texts in batch:
        index = indexer.index(data)
        if index.texts != texts:
            rows.append((record_id, index.keys_sql, json.dumps(index.texts)))
    with database.cursor() as cursor:
        _update_records(cursor, rows)


def _past_values(
    database: Any, values: Any, ledger_id: int, indexer: Any, types: dict[str, str]
) -> None:
    """The past values of a batch of records, each in its new forms."""
    from ledgers.search.index import MAX_VALUE, forms_for

    held: dict[tuple[Any, str, str], tuple[int, int]] = {}
    wanted: dict[tuple[Any, str, str], int] = {}
    for value_id, record_id, path, text, generation in values:
        held[(record_id, path, text)] = (value_id, generation)
        for form in forms_for(types.get(path, "text"))(text):
            key = (record_id, path, form[:MAX_VALUE] or text)
            wanted[key] = max(wanted.get(key, 0), generation)
    if wanted.keys() == held.keys() and all(held[k][1] == g for k, g in wanted.items()):
        return  # the usual case: nothing changes
    delete = [value_id for key, (value_id, _g) in held.items() if key not in wanted]
    moved = [
        (held[key][0], generation)
        for key, generation in wanted.items()
        if key in held and held[key][1] != generation
    ]
    added = [
        (ledger_id, record_id, path, form, _keys_sql(indexer.value_keys(path, form)), generation)
        for (record_id, path, form), generation in wanted.items()
        if (record_id, path, form) not in held
    ]
    with database.cursor() as cursor:
        if delete:
            cursor.execute("DELETE FROM ledgers_searchvalue WHERE id = ANY(%s)", [delete])
        for value_id, generation in moved:  # rare: two past spellings that now meet
            cursor.execute(
                "UPDATE ledgers_searchvalue SET generation = %s WHERE id = %s",
                [generation, value_id],
            )
        if added:
            with cursor.copy(
                "COPY ledgers_searchvalue (ledger_id, record_id, path, value, keys, generation)"
                " FROM STDIN"
            ) as copy_in:
                for row in added:
                    copy_in.write_row(row)


def reform(apps: Any, schema_editor: Any) -> None:
    from django.db import connection

    from ledgers.search.index import Indexer, path_types

    ledger_model = apps.get_model("ledgers", "Ledger")
    record_model = apps.get_model("ledgers", "Record")
    value_model = apps.get_model("ledgers", "SearchValue")
    database = schema_editor.connection if schema_editor is not None else connection
    for ledger in ledger_model.objects.all():
        fields = ledger.definition.get("fields", [])
        indexer = Indexer(fields, ledger.pk)
        types = path_types(fields)
        records = record_model.objects.filter(ledger_id=ledger.pk).order_by("id")
        last = None
        while True:  # a batch of records at a time, by id
            page = records if last is None else records.filter(id__gt=last)
            batch = list(page.values_list("id", "data", "search_text")[:BATCH])
            if not batch:
                break
            _records(database, batch, indexer)
            # Their past values: one range of the (record, path, value) index (which holds
            # other ledgers' records too).
            values = value_model.objects.filter(ledger_id=ledger.pk, record_id__lte=batch[-1][0])
            values = values if last is None else values.filter(record_id__gt=last)
            last = batch[-1][0]
            _past_values(
                database,
                values.values_list("id", "record_id", "path", "value", "generation"),
                ledger.pk,
                indexer,
                types,
            )


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0025_webhook_delivery_withheld")]

    operations = [migrations.RunPython(reform, migrations.RunPython.noop)]
