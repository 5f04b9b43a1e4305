"""``SearchValue`` keeps only the values a record no longer holds (its current values are
in ``Record.search_keys``): one generation per row, the last that held the value."""

from django.db import migrations, models

# Rows of values still current are dropped: the current index answers for them.
DROP_CURRENT = r"""
DELETE FROM ledgers_searchvalue AS sv
USING ledgers_record AS r
WHERE sv.record_id = r.id
  AND strpos(r.search_text ->> sv.path, E'\x1f' || sv.value || E'\x1f') > 0
"""


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0002_database_rules")]

    operations = [
        migrations.RunSQL(DROP_CURRENT, reverse_sql=migrations.RunSQL.noop),
        migrations.RemoveField(model_name="searchvalue", name="first_generation"),
        migrations.RenameField(
            model_name="searchvalue", old_name="last_generation", new_name="generation"
        ),
        migrations.AlterField(
            model_name="searchvalue",
            name="generation",
            field=models.PositiveIntegerField(verbose_name="最後に保持した世代"),
        ),
        migrations.AlterModelOptions(
            name="searchvalue",
            options={
                "verbose_name": "検索値（過去の世代）",
                "verbose_name_plural": "検索値（過去の世代）",
            },
        ),
    ]
