"""A bulk create's audit events name the API token the request acted with.

The trigger of 0010 writes one ``record.create`` event per record with the details
``{"bulk": true}``. ``record_bulk_create`` now puts the API token the request acts with
(``ledgers.audit.context``: ``{"id": <prefix>}``, and ``"issued_via"`` for a token a server
operator issued) into the batch it sets in ``daicho.bulk_create``, under ``api_token``; the
trigger copies it into each event's details, as every other writer of events does. The
details are built once per statement (a variable), not per row; a batch without the key
(a screen's import, a session) writes ``{"bulk": true}`` as before. Only the function is
replaced: no table is touched.
"""

from django.db import migrations

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION ledgers_record_bulk_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch jsonb := current_setting('daicho.bulk_create')::jsonb;
    event_details jsonb := CASE WHEN batch ? 'api_token'
        THEN jsonb_build_object('bulk', true, 'api_token', batch->'api_token')
        ELSE '{"bulk": true}'::jsonb END;
BEGIN
    INSERT INTO ledgers_recordversion (record_id, data, generation, action, actor_id, at,
        reason, definition_version, state, deleted, diff)
    SELECT id, data, generation, 'create', created_by_id, created_at, batch->>'reason',
        definition_version, state, false, NULL
    FROM created;
    INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, record_id, generation,
        details)
    SELECT created_by_id, 'record.create', batch->>'ledger_code', id, generation, event_details
    FROM created;
    RETURN NULL;
END;
$$;
"""

# 0010's function.
REVERSE_SQL = """
CREATE OR REPLACE FUNCTION ledgers_record_bulk_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch jsonb := current_setting('daicho.bulk_create')::jsonb;
BEGIN
    INSERT INTO ledgers_recordversion (record_id, data, generation, action, actor_id, at,
        reason, definition_version, state, deleted, diff)
    SELECT id, data, generation, 'create', created_by_id, created_at, batch->>'reason',
        definition_version, state, false, NULL
    FROM created;
    INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, record_id, generation,
        details)
    SELECT created_by_id, 'record.create', batch->>'ledger_code', id, generation,
        '{"bulk": true}'::jsonb
    FROM created;
    RETURN NULL;
END;
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0021_search_forms_of_old_kana")]

    operations = [migrations.RunSQL(FUNCTION_SQL, reverse_sql=REVERSE_SQL)]
