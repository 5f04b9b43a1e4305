"""The receivers' answers that migration 0015 stopped keeping leave the database.

0015 took ``response_body`` out of the model but left its column, with a default, so that a
release before it could still insert during a rolling update; the bodies kept until then
(a receiver that echoed the payload, in an error as much as in a success, held record
values there) stayed in every city's table. Every release since 0015 inserts without the
column, so it goes now. The kept bodies are emptied first: ``DROP COLUMN`` only hides a
column, and its values would stay in the table's pages until each row is written again;
the ``UPDATE`` writes those rows again without them (their old versions are vacuumed like
any other). Rows whose body is already empty (every delivery since 0015) are not touched.
"""

from django.db import migrations

FORWARD_SQL = """
UPDATE ledgers_webhookdelivery SET response_body = '' WHERE response_body <> '';
ALTER TABLE ledgers_webhookdelivery DROP COLUMN response_body;
"""

# The column as 0015 left it (empty: the bodies are not brought back).
REVERSE_SQL = (
    "ALTER TABLE ledgers_webhookdelivery ADD COLUMN response_body text NOT NULL DEFAULT ''"
)


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0026_search_forms_of_kanji_numbering")]

    operations = [migrations.RunSQL(FORWARD_SQL, reverse_sql=REVERSE_SQL)]
