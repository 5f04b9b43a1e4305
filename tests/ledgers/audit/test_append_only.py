"""The database itself refuses to change or remove audit events, seals and anchors."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from ledgers.audit.services import audit_anchor, audit_seal
from tests.conftest import City
from tests.ledgers.audit.conftest import record_events

STATEMENTS = {
    "update": "UPDATE {table} SET {column} = {column}",
    "delete": "DELETE FROM {table}",
    "truncate": "TRUNCATE {table} CASCADE",
}


def _refused(statement: str, params: list[object] | None = None) -> str:
    with connection.cursor() as cursor:
        # Check this transaction's deferred foreign keys now: TRUNCATE refuses to run while
        # they are pending, which would hide what the trigger says.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with pytest.raises(DatabaseError) as refused, transaction.atomic():
            cursor.execute(statement, params)
    return str(refused.value)


@pytest.mark.parametrize("operation", sorted(STATEMENTS))
@pytest.mark.parametrize(
    ("table", "column"), [("ledgers_auditevent", "details"), ("ledgers_auditseal", "hash")]
)
def test_events_and_seals_cannot_be_changed_or_removed(
    in_mitaka: City, table: str, column: str, operation: str
) -> None:
    # Unsealed and sealed rows alike: the trigger refuses, not just the seal's foreign key.
    record_events(2)
    audit_seal()
    record_events(1)
    message = _refused(STATEMENTS[operation].format(table=table, column=column))
    assert "append-only" in message
    assert operation.upper() in message


def test_an_unsealed_event_cannot_be_deleted_either(in_mitaka: City) -> None:
    (event,) = record_events(1)
    message = _refused("DELETE FROM ledgers_auditevent WHERE seq = %s", [event.seq])
    assert "audit trail is append-only: DELETE on mitaka.ledgers_auditevent" in message


@pytest.mark.parametrize("operation", sorted(STATEMENTS))
def test_anchors_in_public_cannot_be_changed_or_removed(in_mitaka: City, operation: str) -> None:
    record_events(1)
    audit_anchor()
    with schema_context("public"):
        message = _refused(
            STATEMENTS[operation].format(table="tenants_auditanchor", column="head_hash")
        )
    assert "audit anchors are append-only" in message


def test_an_event_cannot_be_backdated_or_slipped_into_a_gap(in_mitaka: City) -> None:
    """An INSERT may not name its own time or number: an event dated last year, put into the
    number a rolled-back transaction left free below sealed events, would be linked by the
    next sealing pass and pass verification."""
    from ledgers.audit.services import audit_record, audit_verify

    try:
        with transaction.atomic():
            gap = audit_record(actor=None, action="record.view").seq
            raise RuntimeError  # rolled back: its number stays free
    except RuntimeError:
        pass
    record_events(3)
    audit_seal()
    dated = _refused(
        "INSERT INTO ledgers_auditevent (at, action, ledger_code, details)"
        " VALUES ('2025-06-01T10:00:00+09:00', 'record.view', 'dv', '{}')"
    )
    assert "audit events are dated by the database" in dated
    numbered = _refused(
        "INSERT INTO ledgers_auditevent (seq, action, ledger_code, details)"
        " VALUES (%s, 'record.view', 'dv', '{}')",
        [gap],
    )
    assert "audit events are numbered by the database" in numbered
    # What the database numbers and dates itself goes in as before.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledgers_auditevent (action, ledger_code, details)"
            " VALUES ('record.view', 'dv', '{}') RETURNING seq"
        )
        (seq,) = cursor.fetchone()
    assert seq > gap
    audit_seal()
    assert audit_verify().ok


def test_a_sequence_of_the_same_name_elsewhere_cannot_stand_in(in_mitaka: City) -> None:
    """The guard asks its own schema's sequence by its qualified name: a temporary sequence
    of the same name (first in anyone's search path) that has just given the wanted number
    does not make a number given by hand pass."""
    record_events(2)
    audit_seal()
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(seq) FROM ledgers_auditevent")
        (last,) = cursor.fetchone()
        cursor.execute("CREATE TEMPORARY SEQUENCE ledgers_auditevent_seq_seq")
        cursor.execute("SELECT setval('pg_temp.ledgers_auditevent_seq_seq', %s)", [last + 100])
        cursor.execute("SELECT nextval('ledgers_auditevent_seq_seq')")  # the temporary one
    refused = _refused(
        "INSERT INTO ledgers_auditevent (seq, action, ledger_code, details)"
        " VALUES (%s, 'record.view', 'dv', '{}')",
        [last + 101],
    )
    assert "numbered by the database" in refused or "currval" in refused
