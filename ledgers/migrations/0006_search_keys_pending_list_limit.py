"""The search keys' GIN index keeps a pending list of at most 1 MB (was PostgreSQL's 4 MB).

A storage parameter, changed in place (``ALTER INDEX … SET``): the index is not rebuilt.
The model state records the same index with the parameter.
"""

import django.contrib.postgres.indexes
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ledgers", "0005_version_record_without_constraint"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER INDEX record_search_keys_gin SET (gin_pending_list_limit = 1024)",
                    reverse_sql="ALTER INDEX record_search_keys_gin RESET (gin_pending_list_limit)",
                ),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="record", name="record_search_keys_gin"),
                migrations.AddIndex(
                    model_name="record",
                    index=django.contrib.postgres.indexes.GinIndex(
                        fields=["search_keys"],
                        gin_pending_list_limit=1024,
                        name="record_search_keys_gin",
                    ),
                ),
            ],
        ),
    ]
