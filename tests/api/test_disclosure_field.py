"""Which 照会可否 flags disclose a record: those of a department listed since they were
written (a department taken off the list and added back starts from 不可), and those of
the ledger's one disclosure field, whatever the order of its fields."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from ledgers.definitions.models import Ledger
from ledgers.records.services import record_create
from tests.api.conftest import Api, records_url

FIELD = "/api/v1/ledgers/dv/fields/disclosure/"
LEDGER = "/api/v1/ledgers/dv/"


def _both_flagged(city: dict[str, Any]) -> str:
    """A record 可 for 市民課 and 市民税課."""
    with schema_context("mitaka"):
        record = record_create(
            actor=city["people"]["clerk"], ledger=city["ledger"],
            values={"name": {"kanji": "鈴木 一子", "kana": "スズキ イチコ"},
                    "disclosure": {"shimin": True, "shiminzei": True}},
        )  # fmt: skip
    return str(record.pk)


def _list_departments(designer: Api, departments: list[str]) -> None:
    changed = designer.patch(FIELD, {"options": {"departments": departments}})
    assert changed.status_code == 200, changed.content


def test_a_department_added_back_does_not_regain_the_records_of_its_old_flags(
    api: Any, city: dict[str, Any]
) -> None:
    """Found by a review: 市民課 taken off the 照会可否 list saw no record (rightly), and
    added back saw again every record flagged 可 for it before, the flags stored then
    being still in the records: a decision taken before its removal came back unasked.
    Added back, it starts from 不可 on the records written before."""
    clerk, designer = api("clerk"), api("designer")
    record_id = str(city["record"].pk)
    assert clerk.get(records_url(record_id)).status_code == 200
    _list_departments(designer, ["shiminzei"])
    assert clerk.get(records_url(record_id)).status_code == 404
    _list_departments(designer, ["shimin", "shiminzei"])
    assert clerk.get(records_url(record_id)).status_code == 404
    assert clerk.get(records_url(), {"count": "true"}).json()["count"] == 0
    searched = clerk.post(
        "/api/v1/ledgers/dv/search/latest/", {"criteria": {"name": "山田"}, "reason": "本人確認"}
    )
    assert searched.json()["results"] == []
    # A record registered since is disclosed as its flags say.
    created = clerk.post(records_url(), {"values": {
        "name": {"kanji": "佐藤 二郎", "kana": "サトウ ジロウ"}, "disclosure": {"shimin": True}}})  # fmt: skip
    assert created.status_code == 201, created.content
    assert clerk.get(records_url(created.json()["id"])).status_code == 200


def test_an_old_flag_is_shown_and_kept_as_fuka_through_later_writes(
    api: Any, city: dict[str, Any]
) -> None:
    """The records' outputs show the flag in force (不可), and a write of other values, or a
    restore of a generation from before, does not turn the old 可 into a new one."""
    clerk, zei, designer = api("clerk"), api("zei"), api("designer")
    record_id = _both_flagged(city)
    _list_departments(designer, ["shiminzei"])
    _list_departments(designer, ["shimin", "shiminzei"])
    read = zei.get(records_url(record_id))
    assert read.json()["values"]["disclosure"] == {"shimin": False, "shiminzei": True}
    changed = zei.patch(records_url(record_id), {"values": {"amount": 5}}, HTTP_IF_MATCH='"1"')
    assert changed.status_code == 200, changed.content
    assert changed.json()["values"]["disclosure"] == {"shimin": False, "shiminzei": True}
    assert clerk.get(records_url(record_id)).status_code == 404
    restored = zei.post(records_url(record_id, "restore/"), {"generation": 1}, HTTP_IF_MATCH='"2"')
    assert restored.status_code == 200, restored.content
    assert clerk.get(records_url(record_id)).status_code == 404
    # Flagged 可 again, by someone who decides so now: disclosed.
    regranted = zei.patch(
        records_url(record_id), {"values": {"disclosure": {"shimin": True, "shiminzei": True}}},
        HTTP_IF_MATCH='"3"',
    )  # fmt: skip
    assert regranted.status_code == 200, regranted.content
    assert clerk.get(records_url(record_id)).status_code == 200


def test_an_echoed_definition_does_not_move_the_point_a_department_was_added_back(
    api: Any, city: dict[str, Any]
) -> None:
    """The point is the server's: a definition read and written back whole (PUT), or one
    naming a point of its own, leaves it where it was."""
    clerk, designer = api("clerk"), api("designer")
    record_id = str(city["record"].pk)
    _list_departments(designer, ["shiminzei"])
    _list_departments(designer, ["shimin", "shiminzei"])
    document = designer.get(LEDGER).json()
    document["disclosure"] = {"field": "disclosure", "listed_since": {"shimin": 1}}
    assert designer.put(LEDGER, document).status_code == 200
    assert clerk.get(records_url(record_id)).status_code == 404


def _with_second_flags_field(api: Any, city: dict[str, Any]) -> tuple[Api, str]:
    """A second 照会可否-typed field (通知先: whom to notify), added after the first; one
    record 可 for 市民課 in the disclosure field and for 市民税課 only in the other."""
    designer = api("designer")
    added = designer.post(LEDGER + "fields/", {
        "key": "notify", "label": "通知先", "type": "department_flags",
        "options": {"departments": ["shimin", "shiminzei"]}})  # fmt: skip
    assert added.status_code == 201, added.content
    with schema_context("mitaka"):
        city["ledger"].refresh_from_db()
        record = record_create(
            actor=city["people"]["clerk"], ledger=city["ledger"],
            values={"name": {"kanji": "田中 三子", "kana": "タナカ ミツコ"},
                    "disclosure": {"shimin": True}, "notify": {"shiminzei": True}},
        )  # fmt: skip
    return designer, str(record.pk)


@pytest.mark.parametrize("written_before", [False, True], ids=["named", "written-before"])
def test_reordering_two_flags_fields_does_not_change_which_one_discloses(
    api: Any, city: dict[str, Any], written_before: bool
) -> None:
    """Found by a review: the first department_flags field in the definition's order
    decided disclosure, so putting 通知先 before 照会可否 (a change of order, nothing else)
    disclosed every record to the departments 通知先 names and hid it from those
    照会可否 names. The field that discloses is the ledger's first one, kept whatever the
    order."""
    designer, record_id = _with_second_flags_field(api, city)
    if written_before:
        # A definition written before the disclosure field was named in it.
        with schema_context("mitaka"):
            ledger = Ledger.objects.get(code="dv")
            definition = {k: v for k, v in ledger.definition.items() if k != "disclosure"}
            Ledger.objects.filter(pk=ledger.pk).update(definition=definition)
    clerk, zei = api("clerk"), api("zei")
    assert clerk.get(records_url(record_id)).status_code == 200
    assert zei.get(records_url(record_id)).status_code == 404
    document = designer.get(LEDGER).json()
    fields = document["fields"]
    document["fields"] = [f for f in fields if f["key"] == "notify"] + [
        f for f in fields if f["key"] != "notify"
    ]
    reordered = designer.put(LEDGER, document)
    assert reordered.status_code == 200, reordered.content
    assert reordered.json()["fields"][0]["key"] == "notify"
    assert clerk.get(records_url(record_id)).status_code == 200
    assert zei.get(records_url(record_id)).status_code == 404
    assert zei.get(records_url(), {"count": "true"}).json()["count"] == 0


def test_a_flags_field_added_at_the_top_does_not_take_over_disclosure(
    api: Any, city: dict[str, Any]
) -> None:
    """The same through a field added in first position: the records, which hold no value
    of it, all vanished for every department."""
    designer, clerk = api("designer"), api("clerk")
    document = designer.get(LEDGER).json()
    document["fields"] = [
        {"key": "notify", "label": "通知先", "type": "department_flags",
         "options": {"departments": ["shimin", "shiminzei"]}},
        *document["fields"],
    ]  # fmt: skip
    assert designer.put(LEDGER, document).status_code == 200
    assert clerk.get(records_url(city["record"].pk)).status_code == 200


def test_a_restore_does_not_reopen_a_department_the_record_is_closed_to(
    api: Any, city: dict[str, Any]
) -> None:
    """市民課 closed the record to 市民税課 (the person moved, and a relative of the
    perpetrator works there); a later restore of generation 1, to undo an unrelated error,
    opened it to 市民税課 again with the old address, unasked: disclosure is granted, never
    assumed. The restore keeps every department closed now closed (and says which in its
    audit event); one open now and closed in that generation is closed, as it was."""
    clerk, zei = api("clerk"), api("zei")
    record_id = city["record"].pk
    opened = clerk.patch(
        records_url(record_id),
        {"values": {"disclosure": {"shimin": True, "shiminzei": True}}},
        HTTP_IF_MATCH='"1"',
    )
    assert opened.status_code == 200, opened.content
    closed = clerk.patch(
        records_url(record_id),
        {"values": {"disclosure": {"shimin": True, "shiminzei": False}, "amount": 7}},
        HTTP_IF_MATCH='"2"',
    )
    assert closed.status_code == 200, closed.content
    restored = clerk.post(
        records_url(record_id, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"3"'
    )
    assert restored.status_code == 200, restored.content
    values = restored.json()["values"]
    assert values["amount"] == 1000  # the generation's values came back
    assert values["disclosure"] == {"shimin": True, "shiminzei": False}
    assert zei.get(records_url(record_id)).status_code == 404
    with schema_context("mitaka"):
        event = AuditEvent.objects.filter(action="record.restore", record_id=record_id).latest(
            "seq"
        )
    assert event.details["disclosure_kept_closed"] == ["shiminzei"]
    # Opened on purpose, then a restore of generation 1 (closed to 市民税課 then) closes it.
    reopened = clerk.patch(
        records_url(record_id),
        {"values": {"disclosure": {"shimin": True, "shiminzei": True}}},
        HTTP_IF_MATCH='"4"',
    )
    assert reopened.status_code == 200, reopened.content
    back = clerk.post(records_url(record_id, "restore/"), {"generation": 1}, HTTP_IF_MATCH='"5"')
    assert back.status_code == 200, back.content
    assert back.json()["values"]["disclosure"] == {"shimin": True, "shiminzei": False}
