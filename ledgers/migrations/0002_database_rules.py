"""What the ORM cannot say: the audit trail is append-only, and search statistics.

- The same function refuses UPDATE and DELETE (row triggers) and TRUNCATE (statement
  trigger) on the audit events and their seals, in each city's schema.
- Search keys get a large statistics target: at the default, every key rarer than the
  1,000 most common is estimated alike and rare 1–2 character queries get a slow plan
  (SEARCH_NOTES.md, pitfall 2). Nothing here rewrites a table or grows with the data.
"""

from django.db import migrations

APPEND_ONLY_SQL = """
CREATE FUNCTION ledgers_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit trail is append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING DETAIL = '監査ログは追記のみです。変更・削除・切り詰めはできません。',
              HINT = 'Audit events and seals are kept for ever; see docs/audit.md.';
END;
$$;
CREATE TRIGGER ledgers_auditevent_append_only BEFORE UPDATE OR DELETE ON ledgers_auditevent
    FOR EACH ROW EXECUTE FUNCTION ledgers_audit_append_only();
CREATE TRIGGER ledgers_auditevent_no_truncate BEFORE TRUNCATE ON ledgers_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION ledgers_audit_append_only();
CREATE TRIGGER ledgers_auditseal_append_only BEFORE UPDATE OR DELETE ON ledgers_auditseal
    FOR EACH ROW EXECUTE FUNCTION ledgers_audit_append_only();
CREATE TRIGGER ledgers_auditseal_no_truncate BEFORE TRUNCATE ON ledgers_auditseal
    FOR EACH STATEMENT EXECUTE FUNCTION ledgers_audit_append_only();
"""

APPEND_ONLY_REVERSE_SQL = """
DROP TRIGGER ledgers_auditseal_no_truncate ON ledgers_auditseal;
DROP TRIGGER ledgers_auditseal_append_only ON ledgers_auditseal;
DROP TRIGGER ledgers_auditevent_no_truncate ON ledgers_auditevent;
DROP TRIGGER ledgers_auditevent_append_only ON ledgers_auditevent;
DROP FUNCTION ledgers_audit_append_only();
"""

STATISTICS_SQL = """
ALTER TABLE ledgers_record ALTER COLUMN search_keys SET STATISTICS 1000;
ALTER TABLE ledgers_searchvalue ALTER COLUMN keys SET STATISTICS 1000;
"""

STATISTICS_REVERSE_SQL = """
ALTER TABLE ledgers_record ALTER COLUMN search_keys SET STATISTICS -1;
ALTER TABLE ledgers_searchvalue ALTER COLUMN keys SET STATISTICS -1;
"""


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0001_initial")]

    operations = [
        migrations.RunSQL(APPEND_ONLY_SQL, reverse_sql=APPEND_ONLY_REVERSE_SQL),
        migrations.RunSQL(STATISTICS_SQL, reverse_sql=STATISTICS_REVERSE_SQL),
    ]
