"""Definition changes as a designer's probe: what a change of a field makes the records'
writes answer about values the writer may not read."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from ledgers.definitions.models import Ledger
from ledgers.exceptions import RecordInvalid
from ledgers.records.models import Record
from ledgers.records.services import record_bulk_update
from tests.api.conftest import ADDRESS, DV_DOCUMENT, records_url

FIELDS_URL = "/api/v1/ledgers/dv/fields/"


def _two_records(api: Any) -> tuple[str, str]:
    """Two records disclosed to 市民税課 (personal clearance): one whose special-care 保護施設
    holds a value, one whose does not (filled id, empty id)."""
    designer, clerk = api("designer"), api("clerk")
    added = designer.post(
        FIELDS_URL,
        {"key": "shelter", "label": "保護施設", "type": "text", "sensitivity": "special_care"},
    )
    assert added.status_code == 201, added.content
    ids = []
    for shelter in ("A施設", None):
        created = clerk.post(
            records_url(),
            {"values": {"name": {"kanji": "山田 花子", "kana": "ヤマダ ハナコ"}, "amount": 1,
                        "disclosure": {"shimin": True, "shiminzei": True},
                        **({"shelter": shelter} if shelter else {})}},
        )  # fmt: skip
        assert created.status_code == 201, created.content
        ids.append(created.json()["id"])
    return ids[0], ids[1]


def _made_required(api: Any) -> None:
    """The designer makes 保護施設 required through the fields API."""
    designer = api("designer")
    etag = designer.get(FIELDS_URL + "shelter/")["ETag"]
    made = designer.patch(FIELDS_URL + "shelter/", {"required": True}, HTTP_IF_MATCH=etag)
    assert made.status_code == 200, made.content


def test_a_change_does_not_tell_whether_a_hidden_field_made_required_is_empty(
    api: Any, city: dict[str, Any]
) -> None:
    """A designer made a special-care field required; a 市民税課 clerk (personal clearance)
    then changed another field of each record. The record whose hidden field was empty
    answered 400 「「保護施設」は必須です。」, the one that held a value 200: one write (or
    an empty one, which writes nothing) per record told who has a 保護施設 recorded, which
    the records themselves show masked whether filled or not."""
    filled, empty = _two_records(api)
    _made_required(api)
    zei = api("zei")
    answers = {}
    for record_id in (filled, empty):
        answers[record_id] = [
            zei.patch(records_url(record_id), {"values": values}, HTTP_IF_MATCH='"1"')
            for values in ({}, {"amount": 2})
        ]
    for record_id in (filled, empty):
        nothing, changed = answers[record_id]
        assert "保護施設" not in nothing.content.decode() + changed.content.decode()
        assert (nothing.status_code, changed.status_code) == (200, 200), changed.content
    with schema_context("mitaka"):
        stored = {str(r.pk): r for r in Record.objects.filter(pk__in=[filled, empty])}
    assert "shelter" not in stored[empty].data  # left as it was: not the writer's to fill
    assert stored[filled].data["shelter"] == "A施設"


def test_a_restore_does_not_tell_whether_a_hidden_field_made_required_is_empty(
    api: Any, city: dict[str, Any]
) -> None:
    filled, empty = _two_records(api)
    clerk, zei = api("clerk"), api("zei")
    for record_id in (filled, empty):
        assert (
            clerk.patch(
                records_url(record_id), {"values": {"amount": 5}}, HTTP_IF_MATCH='"1"'
            ).status_code
            == 200
        )
    _made_required(api)
    for record_id in (filled, empty):
        restored = zei.post(
            records_url(record_id, "restore/"), {"generation": 1}, HTTP_IF_MATCH='"2"'
        )
        assert "保護施設" not in restored.content.decode()
        assert restored.status_code == 200, restored.content


def test_a_bulk_change_does_not_tell_whether_a_hidden_field_made_required_is_empty(
    api: Any, city: dict[str, Any]
) -> None:
    filled, empty = _two_records(api)
    _made_required(api)
    with schema_context("mitaka"):
        try:
            record_bulk_update(
                actor=city["people"]["zei"], ledger=Ledger.objects.get(code="dv"),
                changes=[(UUID(filled), 1, {"amount": 7}), (UUID(empty), 1, {"amount": 7})],
            )  # fmt: skip
        except RecordInvalid as refused:
            pytest.fail(f"refused: {refused.item_errors}")
        assert {r.data["amount"] for r in Record.objects.filter(pk__in=[filled, empty])} == {7}


def test_a_writer_who_may_write_the_required_field_must_still_fill_it(
    api: Any, city: dict[str, Any]
) -> None:
    """市民課 (special-care clearance) sees 保護施設 empty and is still held to fill it."""
    _filled, empty = _two_records(api)
    _made_required(api)
    refused = api("clerk").patch(records_url(empty), {"values": {"amount": 2}}, HTTP_IF_MATCH='"1"')
    assert refused.status_code == 400
    assert refused.json()["detail"]["errors"] == {"shelter": ["「保護施設」は必須です。"]}


def _last_event(action: str) -> Any:
    with schema_context("mitaka"):
        return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def test_a_field_change_is_audited_with_what_it_was_and_became(
    api: Any, city: dict[str, Any]
) -> None:
    """A designer lowered the address to 庁内 (then every record's address read plain) and
    added its own 総務課 to the 照会可否 list: the trail said 「項目「address」を変更」 and
    「項目「disclosure」を変更」 with the version number only."""
    designer = api("designer")
    etag = designer.get(FIELDS_URL)["ETag"]
    lowered = designer.patch(
        FIELDS_URL + "address/", {"sensitivity": "internal"}, HTTP_IF_MATCH=etag
    )
    assert lowered.status_code == 200, lowered.content
    details = _last_event("ledger.change").details
    assert details["before"] == {"fields": {"address": {**details["before"]["fields"]["address"]}}}
    assert details["before"]["fields"]["address"]["sensitivity"] == "special_care"
    assert details["after"]["fields"]["address"]["sensitivity"] == "internal"
    assert ADDRESS not in str(details)  # no record values
    assert "山田" not in str(details)
    listed = designer.patch(
        FIELDS_URL + "disclosure/",
        {"options": {"departments": ["shimin", "shiminzei", "soumu"]}},
        HTTP_IF_MATCH=lowered["ETag"],
    )
    assert listed.status_code == 200, listed.content
    details = _last_event("ledger.change").details
    assert details["before"]["fields"]["disclosure"]["options"]["departments"] == [
        "shimin", "shiminzei",
    ]  # fmt: skip
    assert details["after"]["fields"]["disclosure"]["options"]["departments"] == [
        "shimin", "shiminzei", "soumu",
    ]  # fmt: skip
    assert details["after"]["disclosure"]["listed_since"] == {"soumu": details["version"]}


def test_a_search_screen_change_and_a_removal_are_audited_with_before_and_after(
    api: Any, city: dict[str, Any]
) -> None:
    designer = api("designer")
    document = designer.get("/api/v1/ledgers/dv/")
    body = document.json()
    screens = body["search_screens"]
    offender = next(s for s in screens if s["code"] == "offender")
    offender["result_fields"] = ["name", "address"]
    offender["excluded_fields"] = []
    put = designer.put(
        "/api/v1/ledgers/dv/",
        {k: body[k] for k in ("name", "description", "category", "retention_years",
                              "sensitivity", "fields", "layout", "search_screens")},
        HTTP_IF_MATCH=document["ETag"],
    )  # fmt: skip
    assert put.status_code == 200, put.content
    details = _last_event("ledger.change").details
    assert set(details["before"]) == {"search_screens"}
    assert details["before"]["search_screens"]["offender"]["result_fields"] == ["name"]
    assert details["after"]["search_screens"]["offender"]["result_fields"] == ["name", "address"]
    removed = designer.delete(FIELDS_URL + "amount/", HTTP_IF_MATCH=put["ETag"])
    assert removed.status_code == 204, removed.content
    details = _last_event("ledger.change").details
    assert "removed" not in details["before"]["fields"]["amount"]
    assert details["after"]["fields"]["amount"]["removed"] is True


def test_a_ledger_update_is_audited_with_what_it_changed(api: Any, city: dict[str, Any]) -> None:
    designer = api("designer")
    etag = designer.get("/api/v1/ledgers/dv/")["ETag"]
    changed = designer.patch(
        "/api/v1/ledgers/dv/",
        {"retention_years": 1, "name": "DV等支援措置台帳"},
        HTTP_IF_MATCH=etag,
    )
    assert changed.status_code == 200, changed.content
    details = _last_event("ledger.update").details
    assert (details["before"], details["after"]) == ({"retention_years": 5}, {"retention_years": 1})


def test_a_ledger_creation_is_audited_with_the_definition_it_made(
    api: Any, city: dict[str, Any]
) -> None:
    """A new ledger's event said ``{"version": 1}``: the trail did not show which fields it
    was made with, at which sensitivity, nor what its search screens show, though every
    later change is kept as before and after. The auditor reads it as a change from
    nothing."""
    document = {**DV_DOCUMENT, "code": "dv2", "name": "DV台帳（試行）", "retention_years": 3}
    created = api("designer").post("/api/v1/ledgers/", document)
    assert created.status_code == 201, created.content
    details = _last_event("ledger.create").details
    assert details["version"] == 1
    assert set(details["before"]["fields"].values()) == {None}  # none was there before
    after = details["after"]
    assert set(after["fields"]) == {f["key"] for f in DV_DOCUMENT["fields"]}
    assert after["fields"]["address"]["sensitivity"] == "special_care"
    assert "address" in after["search_screens"]["offender"]["excluded_fields"]
    assert after["disclosure"]["field"] == "disclosure"  # the server's 照会可否 section
    assert (after["name"], after["retention_years"]) == ("DV台帳（試行）", 3)
