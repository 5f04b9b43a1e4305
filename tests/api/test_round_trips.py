"""A client that reads a record and sends its values back (an RPA robot, the web UI) with
``PATCH {"values": …}``, changed or not: what it cannot see stays as it is, and a write
that changes nothing it may write tells it nothing about what it cannot see (found by the
round-trip review, 2026-11-30)."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import field_add, field_remove, field_update
from ledgers.records.models import Record
from ledgers.records.services import record_bulk_update, record_create
from tests.api.conftest import records_url

BOTH = {"shimin": True, "shiminzei": True}


def _shelter_removed(city: dict[str, Any]) -> tuple[Any, Any]:
    """保護施設 (special care) added, one record written with it and one without, then the
    field removed: 市民税課 (personal data) may read neither record's 保護施設, and no
    output names it for either (tests/api/test_removed_field_masks.py)."""
    people = city["people"]
    with schema_context("mitaka"):
        ledger = field_add(
            actor=people["designer"], ledger=city["ledger"],
            field={"key": "shelter", "label": "保護施設", "type": "text", "sensitivity": "special_care"},
        )  # fmt: skip
        base = {"name": {"kanji": "甲 一", "kana": "コウ イチ"}, "amount": 10, "disclosure": BOTH}
        filled = record_create(
            actor=people["clerk"], ledger=ledger, values={**base, "shelter": "みたか荘"}
        )
        empty = record_create(actor=people["clerk"], ledger=ledger, values=base)
        field_remove(
            actor=people["designer"], ledger=Ledger.objects.get(pk=ledger.pk), key="shelter"
        )
    return filled, empty


def test_a_write_of_the_values_as_read_is_no_change_whatever_a_removed_field_held(
    api: Any, city: dict[str, Any]
) -> None:
    """A change that changes nothing keeps the generation. Until 2026-11-30 it wrote one when
    the record still held a value of a removed field (a new generation no longer carries
    it): 市民税課 sent back what it read, or an empty ``{"values": {}}``, and the generation
    it got back told it which records named a shelter it may not see, which the reads hide
    (the field is named for no record)."""
    filled, empty = _shelter_removed(city)
    zei = api("zei")
    for record in (filled, empty):
        read = zei.get(records_url(record.pk))
        assert read.status_code == 200
        # What it read, less the fields it reads masked (a masked field is never writable).
        seen = {k: v for k, v in read.json()["values"].items() if v != {"masked": True}}
        for values in (seen, {}, {"amount": 10}):
            echoed = zei.patch(records_url(record.pk), {"values": values}, HTTP_IF_MATCH='"1"')
            assert echoed.status_code == 200, echoed.content
            assert echoed.json()["generation"] == 1, (record is filled, values)
            assert echoed["ETag"] == '"1"'
    with schema_context("mitaka"):
        assert Record.objects.get(pk=filled.pk).data["shelter"] == "みたか荘"
        assert Record.objects.get(pk=filled.pk).versions.count() == 1


def test_a_change_still_writes_a_generation_without_the_removed_value(
    api: Any, city: dict[str, Any]
) -> None:
    """What a new generation holds is as before: a removed field's value stays in the
    generations that had it, and the change drops it, for every writer alike."""
    filled, _empty = _shelter_removed(city)
    changed = api("zei").patch(
        records_url(filled.pk), {"values": {"amount": 11}}, HTTP_IF_MATCH='"1"'
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["generation"] == 2
    assert "shelter" not in changed.json()["values"]
    with schema_context("mitaka"):
        record = Record.objects.get(pk=filled.pk)
        assert "shelter" not in record.data
        assert record.versions.get(generation=1).data["shelter"] == "みたか荘"


def test_a_bulk_item_that_changes_nothing_keeps_its_generation_likewise(
    city: dict[str, Any],
) -> None:
    filled, empty = _shelter_removed(city)
    with schema_context("mitaka"):
        ledger = Ledger.objects.get(pk=city["ledger"].pk)
        result = record_bulk_update(
            actor=city["people"]["zei"], ledger=ledger,
            changes=[(filled.pk, 1, {"amount": 10}), (empty.pk, 1, {})],
        )  # fmt: skip
        assert sorted(generation for _id, generation in result) == [1, 1]
        assert Record.objects.get(pk=filled.pk).data["shelter"] == "みたか荘"


def test_a_group_sent_back_as_read_is_no_change_whatever_a_dropped_sub_field_held(
    api: Any, city: dict[str, Any]
) -> None:
    """加害者 with a 連絡先 sub-field (special care), filled on one record, then dropped from the
    group: no read shows it (rows show the group's sub-fields now), and 市民税課 may write the
    group again. Sending its rows back as read wrote a generation on the record whose rows
    held a 連絡先 only, until 2026-11-30."""
    people = city["people"]
    offender = {"name": {"kanji": "乙 太郎", "kana": "オツ タロウ"}, "relation": "配偶者"}
    sub_fields = [
        {"key": "name", "label": "氏名", "type": "person_name", "sensitivity": "personal"},
        {"key": "relation", "label": "続柄", "type": "choice",
         "options": {"choices": ["配偶者", "元配偶者", "その他"]}},
    ]  # fmt: skip
    contact = {"key": "contact", "label": "連絡先", "type": "text", "sensitivity": "special_care"}
    with schema_context("mitaka"):
        ledger = field_update(
            actor=people["designer"], ledger=city["ledger"], key="offenders",
            changes={"fields": [*sub_fields, contact]},
        )  # fmt: skip
        base = {"name": {"kanji": "甲 一", "kana": "コウ イチ"}, "disclosure": BOTH}
        filled = record_create(
            actor=people["clerk"], ledger=ledger,
            values={**base, "offenders": [{**offender, "contact": "090-0000-0000"}]},
        )  # fmt: skip
        empty = record_create(
            actor=people["clerk"], ledger=ledger, values={**base, "offenders": [offender]}
        )
        field_update(
            actor=people["designer"], ledger=Ledger.objects.get(pk=ledger.pk), key="offenders",
            changes={"fields": sub_fields},
        )  # fmt: skip
    zei = api("zei")
    for record in (filled, empty):
        rows = zei.get(records_url(record.pk)).json()["values"]["offenders"]
        assert "contact" not in str(rows)
        echoed = zei.patch(
            records_url(record.pk), {"values": {"offenders": rows}}, HTTP_IF_MATCH='"1"'
        )
        assert echoed.status_code == 200, echoed.content
        assert echoed.json()["generation"] == 1, record is filled
    with schema_context("mitaka"):
        assert Record.objects.get(pk=filled.pk).data["offenders"][0]["contact"] == "090-0000-0000"
