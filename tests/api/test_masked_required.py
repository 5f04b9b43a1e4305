"""A required field the writer sees masked tells nothing by a write's answer: the field is
``{"masked": true}`` whether filled or not (``LedgerPolicy.mask(complete=True)``), and a
change or a restore of a record where it was empty (made required after the record was
written) answered 400 「「現住所」は必須です。」 to a 市民税課 clerk, who learnt that the DV
record holds no current address, and could write nothing on it. Found by the review of the
write paths (2026-11-30)."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import field_update
from ledgers.records.models import Record
from ledgers.records.services import record_bulk_update, record_create
from tests.api.conftest import ADDRESS, records_url

NAME = {"kanji": "鈴木 一子", "kana": "スズキ イチコ"}


@pytest.mark.parametrize("write", ["patch", "restore"])
def test_a_write_answers_alike_whether_a_masked_required_field_is_empty(
    api: Any, city: dict[str, Any], write: str
) -> None:
    clerk, zei = api("clerk"), api("zei")
    people = city["people"]
    with schema_context("mitaka"):
        records = {
            filled: record_create(
                actor=people["clerk"],
                ledger=city["ledger"],
                values={
                    "name": NAME,
                    "amount": 1,
                    "disclosure": {"shimin": True, "shiminzei": True},
                    **({"address": {"postal_code": "181-0013", "text": ADDRESS}} if filled else {}),
                },
            )
            for filled in (True, False)
        }
    for record in records.values():
        changed = clerk.patch(
            records_url(record.pk), {"values": {"amount": 2}}, HTTP_IF_MATCH='"1"'
        )
        assert changed.status_code == 200
    with schema_context("mitaka"):
        field_update(
            actor=people["designer"], ledger=Ledger.objects.get(code="dv"), key="address",
            changes={"required": True},
        )  # fmt: skip
    for filled, record in records.items():
        assert zei.get(records_url(record.pk)).json()["values"]["address"] == {"masked": True}
        if write == "patch":
            answer = zei.patch(
                records_url(record.pk), {"values": {"amount": 3}}, HTTP_IF_MATCH='"2"'
            )
        else:
            answer = zei.post(
                records_url(record.pk, "restore/"), {"generation": 1}, HTTP_IF_MATCH='"2"'
            )
        # before: 400 「「現住所」は必須です。」 for the record without an address only
        assert answer.status_code == 200, (filled, answer.content.decode())
        assert answer.json()["generation"] == 3
        with schema_context("mitaka"):
            data = Record.objects.get(pk=record.pk).data
        assert ("address" in data) is filled  # kept as it was
    # One who sees the field is asked for it, as before.
    asked = clerk.patch(
        records_url(records[False].pk), {"values": {"amount": 4}}, HTTP_IF_MATCH='"3"'
    )
    assert asked.status_code == 400
    assert asked.json()["detail"]["errors"] == {"address": ["「現住所」は必須です。"]}


def test_a_bulk_update_keeps_a_masked_required_field_as_it_is(city: dict[str, Any]) -> None:
    """The service alone (no route writes in bulk): the same rule per item."""
    people = city["people"]
    with schema_context("mitaka"):
        record = record_create(
            actor=people["clerk"], ledger=city["ledger"],
            values={"name": NAME, "disclosure": {"shimin": True, "shiminzei": True}},
        )  # fmt: skip
        ledger = field_update(
            actor=people["designer"], ledger=city["ledger"], key="address",
            changes={"required": True},
        )  # fmt: skip
        # before: RecordInvalid {0: {"address": ["「現住所」は必須です。"]}}
        written = record_bulk_update(
            actor=people["zei"], ledger=ledger, changes=[(record.pk, 1, {"amount": 5})]
        )
        assert written == [(record.pk, 2)]
        assert "address" not in Record.objects.get(pk=record.pk).data
