"""``records_from_rows``: records built from a hand-written statement's rows are the
records the ORM builds, deferred columns, state and JSON values included."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection
from django.db.models.signals import post_init

from ledgers.definitions.models import Ledger
from ledgers.records.models import Record
from ledgers.records.rows import records_from_rows
from ledgers.records.services import record_bulk_create

_COLUMNS = ["id", "ledger_id", "data", "generation", "state", "created_by_id", "updated_at"]
_SQL = f"SELECT {', '.join(_COLUMNS)} FROM ledgers_record WHERE ledger_id = %s ORDER BY id"  # noqa: S608


def _read(ledger: Ledger) -> list[Record]:
    with connection.cursor() as cursor:
        cursor.execute(_SQL, [ledger.pk])
        rows = cursor.fetchall()
        columns = [c.name for c in cursor.description]
    return records_from_rows(_SQL, rows, columns)


def _orm(ledger: Ledger) -> list[Record]:
    return list(Record.objects.filter(ledger=ledger).only(*_COLUMNS[1:]).order_by("id"))


def test_the_records_are_the_orm_s(ledger: Ledger, clerk: Any) -> None:
    record_bulk_create(
        actor=clerk, ledger=ledger,
        values_list=[{"name": f"佐藤 {i}", "amount": i, "note": "備考\\n二行"} for i in range(5)],
    )  # fmt: skip
    built, expected = _read(ledger), _orm(ledger)
    assert len(built) == 5
    for record, orm in zip(built, expected, strict=True):
        assert record == orm
        assert [getattr(record, c) for c in _COLUMNS] == [getattr(orm, c) for c in _COLUMNS]
        assert record.get_deferred_fields() == orm.get_deferred_fields()
        assert "search_text" in record.get_deferred_fields()
        assert (record._state.adding, record._state.db) == (False, "default")
        # A deferred column and a foreign key load on access, as the ORM's do.
        assert record.definition_version == orm.definition_version
        assert record.ledger == ledger
        assert record.created_by == clerk
    # Saved like the ORM's instance: an update of the one row, not a second one.
    first = built[0]
    first.state = "審査中"
    first.save(update_fields=["state"])
    assert Record.objects.get(pk=first.pk).state == "審査中"
    assert Record.objects.filter(ledger=ledger).count() == 5


def test_json_values_are_json_s_integers_past_64_bits_included(ledger: Ledger, clerk: Any) -> None:
    """orjson reads the data; what it does not read (an integer past 64 bits, which jsonb
    holds) is read by Django's converter, so the values are the same either way."""
    (record_id, _), = record_bulk_create(
        actor=clerk, ledger=ledger, values_list=[{"name": "鈴木 一", "amount": 1}]
    )  # fmt: skip
    data = {"name": "鈴木 一", "amount": 123456789012345678901234567890, "x": [1.5, None, True]}
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledgers_record SET data = %s::jsonb WHERE id = %s",
                       [json.dumps(data), record_id])  # fmt: skip
    (record,) = _read(ledger)
    assert record.data == data == json.loads(json.dumps(data))
    assert type(record.data["amount"]) is int


def test_a_listener_of_records_init_gets_the_orm_s_path(ledger: Ledger, clerk: Any) -> None:
    """The records are built without ``Model.__init__`` only while nothing listens to
    its signals for records; a listener makes them through ``Model.from_db``."""
    record_bulk_create(actor=clerk, ledger=ledger, values_list=[{"name": "田中 一"}])
    seen: list[Any] = []

    def listener(sender: Any, instance: Record, **kwargs: Any) -> None:
        seen.append(instance.pk)

    post_init.connect(listener, sender=Record)
    try:
        (record,) = _read(ledger)
    finally:
        post_init.disconnect(listener, sender=Record)
    assert seen == [record.pk]
    assert record == _orm(ledger)[0]
