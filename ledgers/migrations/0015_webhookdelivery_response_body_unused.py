"""Webhook deliveries no longer keep the receiver's answer: a receiver that echoed the
payload (in an error as much as in a success) showed record values to the ledger's
designers, who read the delivery log and may not view records.

The field leaves the model; its column stays until a later release, with a database
default so that the new code's inserts (which no longer name it) and a previous release's
(which still do, during a rolling update) both work. Nothing is rewritten: setting a
column default is a catalogue change in every city. The bodies already kept are no longer
shown by the application; they stay in the column (and in backups) until a later release
drops it.
"""

from django.db import migrations

SET_DEFAULT = "ALTER TABLE ledgers_webhookdelivery ALTER COLUMN response_body SET DEFAULT ''"
DROP_DEFAULT = "ALTER TABLE ledgers_webhookdelivery ALTER COLUMN response_body DROP DEFAULT"


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0014_idempotent_request")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(SET_DEFAULT, reverse_sql=DROP_DEFAULT)],
            state_operations=[
                migrations.RemoveField(model_name="webhookdelivery", name="response_body")
            ],
        )
    ]
