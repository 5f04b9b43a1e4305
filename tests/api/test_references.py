"""A reference must name a record that exists, is not deleted, and that the writer may
see; a record out of sight answers exactly like one that does not exist."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.exceptions import RecordInvalid
from ledgers.records.models import Record
from ledgers.records.services import record_bulk_create, record_create, record_delete
from tests.api.conftest import LINK_FIELDS, LINKS_URL, Api, links_ledger

FIELDS = LINK_FIELDS
URL = LINKS_URL


@pytest.fixture
def links(city: dict[str, Any]) -> Any:
    """A ledger ``links`` the clerk (市民課) writes, pointing at the DV ledger, where 市民課
    sees records whose flags say so and 市民税課 does not see the fixture's record."""
    people = city["people"]
    with schema_context("mitaka"):
        ledger = links_ledger(people["designer"])
    return ledger


def ref(record: Any, ledger: str = "dv") -> dict[str, str]:
    return {"ledger": ledger, "record": str(record.pk)}


def missing(response: Any, key: str) -> list[str]:
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "ERROR_RECORD_INVALID"
    return response.json()["detail"]["errors"][key]


def test_a_reference_to_a_visible_record_is_written(
    api: Any, city: dict[str, Any], links: Any
) -> None:
    clerk: Api = api("clerk")
    created = clerk.post(URL, {"values": {"title": "a", "case": ref(city["record"])}})
    assert created.status_code == 201, created.content
    assert created.json()["values"]["case"] == ref(city["record"])
    inside = clerk.post(
        URL, {"values": {"parties": [{"name": "b", "record": ref(city["record"])}]}}
    )
    assert inside.status_code == 201, inside.content


@pytest.mark.parametrize(
    "target",
    [
        {"ledger": "nope", "record": "00000000-0000-4000-8000-000000000000"},
        {"ledger": "dv", "record": "00000000-0000-4000-8000-000000000000"},
        {"ledger": "dv", "record": "12345"},
    ],
)
def test_a_reference_to_nothing_is_refused(api: Any, links: Any, target: dict[str, str]) -> None:
    response = api("clerk").post(URL, {"values": {"case": target}})
    assert missing(response, "case") == [
        f"参照先の記録が見つかりません（台帳「{target['ledger']}」、記録「{target['record']}」）。"
    ]
    with schema_context("mitaka"):
        assert not Record.objects.filter(ledger=links).exists()


def test_a_record_out_of_sight_answers_as_a_missing_one(
    api: Any, city: dict[str, Any], links: Any
) -> None:
    # 市民税課 may not see the fixture's record (its flags say 不可 for 市民税課).
    hidden = api("zei").post(URL, {"values": {"case": ref(city["record"])}})
    absent = api("zei").post(
        URL,
        {"values": {"case": {"ledger": "dv", "record": "00000000-0000-4000-8000-000000000000"}}},
    )
    assert missing(hidden, "case")[0].startswith("参照先の記録が見つかりません")
    hidden_id, absent_id = str(city["record"].pk), "00000000-0000-4000-8000-000000000000"
    assert hidden.json()["message"].replace(hidden_id, "?") == absent.json()["message"].replace(
        absent_id, "?"
    )


def test_a_deleted_record_cannot_be_referenced(api: Any, city: dict[str, Any], links: Any) -> None:
    with schema_context("mitaka"):
        record_delete(actor=city["people"]["clerk"], record=city["record"], reason="誤登録")
    response = api("clerk").post(URL, {"values": {"parties": [{"record": ref(city["record"])}]}})
    assert missing(response, "parties")[0].startswith("参照先の記録が見つかりません")


def test_a_kept_reference_to_a_record_deleted_since_does_not_block_other_changes(
    api: Any, city: dict[str, Any], links: Any
) -> None:
    clerk: Api = api("clerk")
    created = clerk.post(URL, {"values": {"title": "a", "case": ref(city["record"])}}).json()
    with schema_context("mitaka"):
        record_delete(actor=city["people"]["clerk"], record=city["record"], reason="誤登録")
    changed = clerk.patch(f"{URL}{created['id']}/", {"values": {"title": "b"}}, HTTP_IF_MATCH='"1"')
    assert changed.status_code == 200, changed.content
    again = clerk.patch(
        f"{URL}{created['id']}/", {"values": {"case": ref(city["record"])}}, HTTP_IF_MATCH='"2"'
    )
    assert missing(again, "case")[0].startswith("参照先の記録が見つかりません")


def test_a_bulk_create_with_one_missing_reference_writes_nothing(
    api: Any, city: dict[str, Any], links: Any
) -> None:
    good = {"values": {"case": ref(city["record"])}}
    bad = {"values": {"case": {"ledger": "dv", "record": "00000000-0000-4000-8000-000000000000"}}}
    response = api("clerk").post(f"{URL}bulk/", {"records": [good] * 999 + [bad]})
    assert response.status_code == 400, response.content
    assert list(response.json()["detail"]["items"]) == ["999"]
    with schema_context("mitaka"):
        assert not Record.objects.filter(ledger=links).exists()


def test_the_services_check_references_too(city: dict[str, Any], links: Any) -> None:
    clerk = city["people"]["clerk"]
    target = {"ledger": "dv", "record": "00000000-0000-4000-8000-000000000000"}
    with schema_context("mitaka"):
        with pytest.raises(RecordInvalid) as single:
            record_create(actor=clerk, ledger=links, values={"case": target})
        assert list(single.value.errors) == ["case"]
        with pytest.raises(RecordInvalid) as bulk:
            record_bulk_create(
                actor=clerk,
                ledger=links,
                values_list=[{"case": ref(city["record"])}, {"case": target}],
            )
        assert list(bulk.value.item_errors) == [1]
        assert not Record.objects.filter(ledger=links).exists()
