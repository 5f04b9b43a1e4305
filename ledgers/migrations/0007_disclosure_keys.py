"""Department disclosure flags are found through the search keys' GIN index.

Each record whose department flags say 可 for a department carries that department's
``disclosure_key`` among its search keys (the indexer adds it from now on); the access
filter asks the index for them and rechecks the flags. The whole-document GIN index on
``data`` (``jsonb_path_ops``), which served that filter alone, is dropped: every record
write paid for its ~20 entries.

The backfill is one UPDATE per ledger and department, while the old index still serves it.
"""

import json

from django.db import migrations

from ledgers.search.keys import disclosure_key


def add_disclosure_keys(apps, schema_editor):
    Ledger = apps.get_model("ledgers", "Ledger")
    with schema_editor.connection.cursor() as cursor:
        for ledger in Ledger.objects.all():
            for field in ledger.definition.get("fields", []):
                if field.get("type") != "department_flags" or field.get("removed"):
                    continue
                for code in (field.get("options") or {}).get("departments", []):
                    key = disclosure_key(ledger.pk, field["key"], code)
                    cursor.execute(
                        "UPDATE ledgers_record SET search_keys = search_keys || ARRAY[%s]::integer[]"
                        " WHERE ledger_id = %s AND data @> %s::jsonb"
                        " AND NOT search_keys @> ARRAY[%s]::integer[]",
                        [key, ledger.pk, json.dumps({field["key"]: {code: True}}), key],
                    )


class Migration(migrations.Migration):
    dependencies = [
        ("ledgers", "0006_search_keys_pending_list_limit"),
    ]

    operations = [
        migrations.RunPython(add_disclosure_keys, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="record", name="record_data_gin"),
    ]
