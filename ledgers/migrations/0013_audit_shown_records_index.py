"""An index of the records that searches and lists showed, for the audit trail's record filter.

``search.run`` and ``record.list`` events name the records on their page in ``details``
(``results`` / ``records``, lists of ids), not in ``record_id``: the auditor's question "who
looked this person up" (``audit_events(record_id=…)``) now reads them too, through this
partial GIN index (only those two actions: the other events, one per bulk-created record
among them, pay nothing for it).
"""

from django.db import migrations

INDEX_SQL = """
CREATE INDEX audit_shown_records ON ledgers_auditevent
    USING gin ((coalesce(details -> 'results', details -> 'records')) jsonb_path_ops)
    WHERE action IN ('search.run', 'record.list');
"""


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0012_audit_insert_guard_per_schema_sequence")]

    operations = [
        migrations.RunSQL(INDEX_SQL, reverse_sql="DROP INDEX audit_shown_records;"),
    ]
