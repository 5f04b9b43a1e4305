"""Department disclosure flags are found through the search keys' GIN index.

Each record whose department flags say 可 for a department carries that department's
``disclosure_key`` among its search keys (the indexer adds it from now on); the access
filter asks the index for them and rechecks the flags. The whole-document GIN index on
``data`` (``jsonb_path_ops``), which served that filter alone, is dropped: every record
write paid for its ~20 entries.

The backfill is one UPDATE per ledger (each record written at most once), before the old
index goes.
"""

from django.db import migrations

from ledgers.search.keys import disclosure_key


# Each record at most once: the keys of every department its flags say 可 for and it lacks.
_BACKFILL_SQL = """
UPDATE ledgers_record AS r SET search_keys = r.search_keys || ARRAY(
    SELECT d.key FROM unnest(%(codes)s::text[], %(keys)s::integer[]) AS d(code, key)
    WHERE r.data -> %(field)s -> d.code = 'true'::jsonb AND NOT r.search_keys @> ARRAY[d.key])
WHERE r.ledger_id = %(ledger)s AND EXISTS (
    SELECT 1 FROM unnest(%(codes)s::text[], %(keys)s::integer[]) AS d(code, key)
    WHERE r.data -> %(field)s -> d.code = 'true'::jsonb AND NOT r.search_keys @> ARRAY[d.key])
"""


def add_disclosure_keys(apps, schema_editor):
    Ledger = apps.get_model("ledgers", "Ledger")
    with schema_editor.connection.cursor() as cursor:
        for ledger in Ledger.objects.all():
            for field in ledger.definition.get("fields", []):
                if field.get("type") != "department_flags" or field.get("removed"):
                    continue
                codes = list((field.get("options") or {}).get("departments", []))
                if not codes:
                    continue
                cursor.execute(
                    _BACKFILL_SQL,
                    {
                        "codes": codes,
                        "keys": [disclosure_key(ledger.pk, field["key"], code) for code in codes],
                        "field": field["key"],
                        "ledger": ledger.pk,
                    },
                )


class Migration(migrations.Migration):
    dependencies = [
        ("ledgers", "0006_search_keys_pending_list_limit"),
    ]

    operations = [
        migrations.RunPython(add_disclosure_keys, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="record", name="record_data_gin"),
    ]
