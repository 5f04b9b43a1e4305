"""A link to a record out of the writer's sight is a value the writer sees masked: no write
erases it or brings it back. A group's rows echoed as read are refused (the marker is no
reference), so a client rewrote them without it, and the link was gone; clearing the
field did the same, and a restore overwrote it with whatever that generation held."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.exceptions import RecordInvalid
from ledgers.records.models import Record
from ledgers.records.services import HIDDEN_REFERENCE, record_bulk_update, record_create
from tests.api.conftest import ADDRESS, LINKS_URL, links_ledger, records_url


def _link(record: Any) -> dict[str, str]:
    return {"ledger": "dv", "record": str(record.pk)}


@pytest.fixture
def linked(city: dict[str, Any]) -> dict[str, Any]:
    """A DV record 市民税課 may see (``seen``), the fixture's one it may not (``hidden``),
    and a record of ``links`` by 市民課 naming the hidden one in ``case`` and in a row of
    ``parties``."""
    people = city["people"]
    with schema_context("mitaka"):
        ledger = links_ledger(people["designer"])
        seen = record_create(
            actor=people["clerk"], ledger=city["ledger"],
            values={"name": {"kanji": "鈴木 一子", "kana": "スズキ イチコ"},
                    "disclosure": {"shimin": True, "shiminzei": True}},
        )  # fmt: skip
        hidden = city["record"]  # 市民税課: 不可
        record = record_create(
            actor=people["clerk"], ledger=ledger,
            values={"title": "相談", "case": _link(hidden),
                    "parties": [{"name": "甲", "record": _link(hidden)}, {"name": "乙"}]},
        )  # fmt: skip
    return {"ledger": ledger, "seen": seen, "hidden": hidden, "record": record}


def _stored(record: Any) -> Any:
    with schema_context("mitaka"):
        return Record.objects.get(pk=record.pk)


def test_a_write_cannot_erase_a_link_the_writer_sees_masked(
    api: Any, linked: dict[str, Any]
) -> None:
    zei, clerk = api("zei"), api("clerk")
    url = f"{LINKS_URL}{linked['record'].pk}/"
    rows = zei.get(url).json()["values"]["parties"]
    assert rows[0]["record"] == {"masked": True}
    # What a client can send back: the rows without the marker (as read, they are a 400).
    without = [{k: v for k, v in row.items() if v != {"masked": True}} for row in rows]
    without[1]["name"] = "丙"
    for values, field in (({"parties": without}, "parties"), ({"case": None}, "case")):
        refused = zei.patch(url, {"values": values}, HTTP_IF_MATCH='"1"')
        # before: 200 and a generation 2 without the link (the history alone kept it)
        assert refused.status_code == 403, refused.content
        assert refused.json()["message"] == HIDDEN_REFERENCE
        assert refused.json()["detail"]["fields"] == [field]
    stored = _stored(linked["record"])
    assert stored.generation == 1
    assert stored.data["case"] == _link(linked["hidden"])
    assert stored.data["parties"][0]["record"] == _link(linked["hidden"])
    # The record's other fields stay writable, and one who sees the target changes the link.
    assert zei.patch(url, {"values": {"title": "再相談"}}, HTTP_IF_MATCH='"1"').status_code == 200
    assert clerk.patch(url, {"values": {"case": None}}, HTTP_IF_MATCH='"2"').status_code == 200


def test_a_bulk_update_cannot_erase_a_link_the_writer_sees_masked(
    city: dict[str, Any], linked: dict[str, Any]
) -> None:
    with schema_context("mitaka"), pytest.raises(RecordInvalid) as refused:
        record_bulk_update(
            actor=city["people"]["zei"], ledger=linked["ledger"],
            changes=[(linked["record"].pk, 1, {"title": "x", "parties": [{"name": "丙"}]})],
        )  # fmt: skip
    assert refused.value.item_errors == {0: {"parties": [HIDDEN_REFERENCE]}}
    assert _stored(linked["record"]).generation == 1


@pytest.mark.parametrize("hidden_in", ["now", "then"])
def test_a_restore_keeps_a_link_the_restorer_sees_masked(
    api: Any, city: dict[str, Any], linked: dict[str, Any], hidden_in: str
) -> None:
    """``now``: the current link is hidden from the restorer, the restored generation's is
    not (before: overwritten). ``then``: the other way round (before: a link the restorer
    sees masked in that generation came back). Either way the other values come back."""
    clerk, zei = api("clerk"), api("zei")
    url = f"{LINKS_URL}{linked['record'].pk}/"
    first, second = (
        (linked["seen"], linked["hidden"]) if hidden_in == "now" else (linked["hidden"], linked["seen"])
    )  # fmt: skip
    assert clerk.patch(url, {"values": {"title": "一", "case": _link(first), "parties": None}},
                       HTTP_IF_MATCH='"1"').status_code == 200  # fmt: skip
    assert clerk.patch(url, {"values": {"title": "二", "case": _link(second)}},
                       HTTP_IF_MATCH='"2"').status_code == 200  # fmt: skip
    restored = zei.post(url + "restore/", {"generation": 2}, HTTP_IF_MATCH='"3"')
    assert restored.status_code == 200, restored.content
    stored = _stored(linked["record"])
    assert (stored.generation, stored.data["title"]) == (4, "一")
    assert stored.data["case"] == _link(second)  # as it was: the restorer sees it masked
    # One who sees both brings the link back.
    assert clerk.post(url + "restore/", {"generation": 2}, HTTP_IF_MATCH='"4"').status_code == 200
    assert _stored(linked["record"]).data["case"] == _link(first)


def test_a_create_refused_a_field_above_the_clearance_says_create(
    api: Any, city: dict[str, Any]
) -> None:
    values = {
        "name": {"kanji": "佐藤 一郎", "kana": "サトウ イチロウ"},
        "address": {"postal_code": "181-0013", "text": ADDRESS},
    }
    refused = api("zei").post(records_url(), {"values": values})
    assert refused.status_code == 403
    # before: 「閲覧できない項目は変更できません。」 with capability "update", for a create
    assert refused.json()["message"] == "閲覧できない項目には値を入れられません。"
    assert refused.json()["detail"] == {"capability": "create", "fields": ["address"]}
