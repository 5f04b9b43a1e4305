"""An audit event's number and time are the database's, never the inserter's.

The append-only triggers (0002) guard UPDATE, DELETE and TRUNCATE; ``seq`` and ``at`` were
column defaults, which an INSERT may override. A role allowed to insert (the application's,
or one that gets its rights through an injection) could then write an event dated last year
into a gap of the sequence (a rolled-back transaction's number, below events already
sealed), and sealing, which links every event it has not seen yet, would link it: verification
passed, and the trail said someone looked somebody up when nobody did.

This trigger refuses an INSERT that names its own ``at`` (it must be the transaction's time,
the default, ``statement_timestamp()``) or its own ``seq`` (it must be the number the sequence just gave this row: the
sequence's ``currval`` in this session, which an explicit number is not, or is a number
already taken). Bypassing it needs the table owner's rights (``ALTER TABLE … DISABLE
TRIGGER``), the boundary docs/audit.md draws.
"""

from django.db import migrations

GUARD_SQL = """
CREATE FUNCTION ledgers_audit_insert_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    given bigint;
BEGIN
    IF NEW.at IS DISTINCT FROM statement_timestamp() THEN  -- the default (Django's Now())
        RAISE EXCEPTION 'audit events are dated by the database'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Leave ledgers_auditevent.at to its default; see docs/audit.md.';
    END IF;
    BEGIN
        given := currval(pg_get_serial_sequence(
            quote_ident(TG_TABLE_SCHEMA) || '.ledgers_auditevent', 'seq'));
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        given := NULL;  -- no number drawn in this session: this row's was given by hand
    END;
    IF given IS DISTINCT FROM NEW.seq THEN
        RAISE EXCEPTION 'audit events are numbered by the database'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Leave ledgers_auditevent.seq to its default; see docs/audit.md.';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER ledgers_auditevent_insert_guard BEFORE INSERT ON ledgers_auditevent
    FOR EACH ROW EXECUTE FUNCTION ledgers_audit_insert_guard();
"""

GUARD_REVERSE_SQL = """
DROP TRIGGER ledgers_auditevent_insert_guard ON ledgers_auditevent;
DROP FUNCTION ledgers_audit_insert_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0010_bulk_create_history_trigger")]

    operations = [migrations.RunSQL(GUARD_SQL, reverse_sql=GUARD_REVERSE_SQL)]
