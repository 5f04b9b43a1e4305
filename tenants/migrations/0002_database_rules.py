"""pg_trgm and unaccent in public (visible to every city), and insert-only audit anchors."""

from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations

APPEND_ONLY_SQL = """
CREATE FUNCTION tenants_auditanchor_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit anchors are append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING DETAIL = '監査ログの控えは追記のみです。変更・削除・切り詰めはできません。';
END;
$$;
CREATE TRIGGER tenants_auditanchor_append_only BEFORE UPDATE OR DELETE ON tenants_auditanchor
    FOR EACH ROW EXECUTE FUNCTION tenants_auditanchor_append_only();
CREATE TRIGGER tenants_auditanchor_no_truncate BEFORE TRUNCATE ON tenants_auditanchor
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_auditanchor_append_only();
"""

APPEND_ONLY_REVERSE_SQL = """
DROP TRIGGER tenants_auditanchor_no_truncate ON tenants_auditanchor;
DROP TRIGGER tenants_auditanchor_append_only ON tenants_auditanchor;
DROP FUNCTION tenants_auditanchor_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        TrigramExtension(),
        UnaccentExtension(),
        migrations.RunSQL(APPEND_ONLY_SQL, reverse_sql=APPEND_ONLY_REVERSE_SQL),
    ]
