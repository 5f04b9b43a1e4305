"""A grant to register without reading (a create clearance): a reception desk (申請受付)
registers applications of the DV support-measure ledger up to 要配慮 without browsing it.

Before, the clearance counted only from grants with a read capability, so a grant
``{"capabilities": ["create"], "clearance": "special_care"}`` wrote no field at all (every
one, even a public one, 403). A create, a bulk create and an import now write up to the
higher of the read clearance and the clearance of the grants giving that capability; a
change, a restore and every output keep to the read clearance.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.access.policy import policy_for
from ledgers.access.services import grants_replace
from ledgers.definitions.services import ledger_create
from ledgers.exceptions import AccessDenied, RecordInvalid
from ledgers.records.models import Record, RecordVersion
from ledgers.records.services import (
    record_bulk_create,
    record_create,
    record_restore,
    record_update,
)
from tests.api.conftest import ADDRESS, DV_DOCUMENT, Api, audit_events_since, audit_last_seq

URL = "/api/v1/ledgers/shien/records/"
PLACE = {"postal_code": "181-0013", "text": ADDRESS}
NAME = {"kanji": "佐藤 花子", "kana": "サトウ ハナコ"}


@pytest.fixture
def desk(city: dict[str, Any]) -> dict[str, Any]:
    """The ledger ``shien`` (the DV ledger's fields, 氏名 not required, 照会可否 listing 市民課
    and 保護課) and its staff: ``uketsuke`` (申請受付: create only, at 要配慮), ``madoguchi``
    (総合窓口: create only, at 庁内), ``kenmu`` (保護課: view and update at 庁内; and a member
    of 申請受付) and ``torikomi`` (取込係: import only, at 要配慮)."""
    document = copy.deepcopy(DV_DOCUMENT)
    document.update(code="shien", name="DV等支援措置台帳（受付）", search_screens=[])
    for spec in document["fields"]:
        if spec["key"] == "name":
            spec["required"] = False
        if spec["key"] == "disclosure":
            spec["options"] = {"departments": ["shimin", "hogo"]}
    with schema_context("mitaka"):
        departments = {
            code: Department.objects.create(code=code, name=name)
            for code, name in [("uketsuke", "申請受付"), ("madoguchi", "総合窓口"),
                               ("hogo", "保護課"), ("torikomi", "取込係")]
        }  # fmt: skip

        def member(username: str, *codes: str) -> Any:
            user = get_user_model().objects.create_user(
                username=username, password="S3cret!pass-api", display_name=username
            )
            for code in codes:
                Membership.objects.create(
                    user=user, department=departments[code], role=Role.EDITOR,
                    valid_from=date(2026, 4, 1),
                )  # fmt: skip
            return user

        people = {
            "uketsuke": member("uketsuke", "uketsuke"),
            "madoguchi": member("madoguchi", "madoguchi"),
            "kenmu": member("kenmu", "hogo", "uketsuke"),
            "torikomi": member("torikomi", "torikomi"),
        }
        designer = city["people"]["designer"]
        ledger = ledger_create(actor=designer, **document)
        grants_replace(
            actor=designer, ledger=ledger,
            grants=[
                {"department": "shimin", "capabilities": ["view", "search", "create", "update"], "clearance": "special_care"},
                {"department": "uketsuke", "capabilities": ["create"], "clearance": "special_care"},
                {"department": "madoguchi", "capabilities": ["create"], "clearance": "internal"},
                {"department": "hogo", "capabilities": ["view", "update"], "clearance": "internal"},
                {"department": "torikomi", "capabilities": ["import"], "clearance": "special_care"},
            ],
        )  # fmt: skip
    return {"ledger": ledger, "people": {**city["people"], **people}}


def _stored(record_id: Any) -> Record:
    with schema_context("mitaka"):
        return Record.objects.get(pk=record_id)


def _count() -> int:
    with schema_context("mitaka"):
        return Record.objects.filter(ledger__code="shien").count()


# -------------------------------------------------------------------------------------
def test_a_create_only_grant_at_special_care_registers_a_special_care_field(
    desk: dict[str, Any],
) -> None:
    desk_api = Api(desk["people"]["uketsuke"])
    seq = audit_last_seq()
    values = {"name": NAME, "address": PLACE, "amount": 3, "disclosure": {"shimin": True}}
    created = desk_api.post(URL, {"values": values})
    # before: 403 naming every field (amount and the flags too): the grant's clearance
    # counted for nothing without a read capability
    assert created.status_code == 201, created.json()
    # The desk may not read the ledger: its answer shows no value of what it wrote.
    assert created.json()["values"] == {}
    assert ADDRESS not in created.content.decode()
    record = _stored(created.json()["id"])
    assert record.data["address"]["text"] == ADDRESS
    assert record.data["name"]["kanji"] == "佐藤 花子"
    assert record.created_by_id == desk["people"]["uketsuke"].pk
    with schema_context("mitaka"):
        version = RecordVersion.objects.get(record=record)
    assert (version.generation, version.action, version.data) == (1, "create", record.data)
    events = [(e.action, e.actor_id, e.record_id) for e in audit_events_since(seq)]
    assert ("record.create", desk["people"]["uketsuke"].pk, record.pk) in events
    # Registering gave it no read: the record is "not found" to it, as before.
    assert desk_api.get(URL + f"{record.pk}/").status_code in {403, 404}
    # 市民課, who reads at 要配慮, sees what the desk wrote.
    clerk = Api(desk["people"]["clerk"]).get(URL + f"{record.pk}/").json()
    assert clerk["values"]["address"]["text"] == ADDRESS


# -------------------------------------------------------------------------------------
def test_a_create_only_grant_at_internal_is_refused_a_personal_field(
    desk: dict[str, Any],
) -> None:
    window = Api(desk["people"]["madoguchi"])
    seq = audit_last_seq()
    refused = window.post(URL, {"values": {"name": NAME, "amount": 3}})
    assert refused.status_code == 403
    assert refused.json()["message"] == "閲覧できない項目には値を入れられません。"
    assert refused.json()["detail"] == {"capability": "create", "fields": ["name"]}
    assert _count() == 0
    assert not [e for e in audit_events_since(seq) if e.action == "record.create"]
    # Its own clearance it may write (before: 403 for amount, 庁内, too).
    created = window.post(URL, {"values": {"amount": 3, "disclosure": {"shimin": True}}})
    assert created.status_code == 201, created.json()
    assert _stored(created.json()["id"]).data["amount"] == 3


# -------------------------------------------------------------------------------------
def test_a_create_grant_raises_what_a_create_writes_never_what_its_holder_reads(
    desk: dict[str, Any],
) -> None:
    both = Api(desk["people"]["kenmu"])
    values = {"name": NAME, "address": PLACE, "amount": 3, "disclosure": {"hogo": True}}
    created = both.post(URL, {"values": values})
    assert created.status_code == 201, created.json()  # before: 403 naming address, name
    record_id = created.json()["id"]
    assert _stored(record_id).data["address"]["text"] == ADDRESS
    # The answer is masked at its read clearance (庁内), as every other output.
    shown = created.json()["values"]
    assert shown["address"] == shown["name"] == {"masked": True}
    assert shown["amount"] == 3
    read = both.get(URL + f"{record_id}/")
    assert read.json()["values"] == shown
    listed = both.get(URL).json()["results"]
    assert [r["values"]["address"] for r in listed] == [{"masked": True}]
    with schema_context("mitaka"):
        policy = policy_for(desk["people"]["kenmu"], desk["ledger"])
    assert policy.clearance == "internal"
    # A change writes only what its writer reads: no blind overwrite of the address.
    patched = both.patch(URL + f"{record_id}/", {"values": {"address": PLACE}}, HTTP_IF_MATCH='"1"')
    assert patched.status_code == 403
    assert patched.json()["detail"] == {"capability": "update", "fields": ["address"]}
    assert both.patch(URL + f"{record_id}/", {"values": {"amount": 4}}, HTTP_IF_MATCH='"1"').json()[
        "values"
    ] == {**shown, "amount": 4}
    assert _stored(record_id).generation == 2


# -------------------------------------------------------------------------------------
def test_a_bulk_create_writes_up_to_the_create_clearance(desk: dict[str, Any]) -> None:
    item = {"values": {"name": NAME, "address": PLACE, "disclosure": {"hogo": True}}}
    for who in ("uketsuke", "kenmu"):
        created = Api(desk["people"][who]).post(URL + "bulk/", {"records": [item, item]})
        # before: 400, every item refused its fields
        assert created.status_code == 201, created.json()
        for result in created.json()["results"]:
            assert _stored(result["id"]).data["address"]["text"] == ADDRESS
    assert _count() == 4
    refused = Api(desk["people"]["madoguchi"]).post(
        URL + "bulk/", {"records": [{"values": {"amount": 1}}, item]}
    )
    assert refused.status_code == 400
    assert set(refused.json()["detail"]["items"]) == {"1"}
    message = ["閲覧できない項目には値を入れられません。"]
    assert refused.json()["detail"]["items"]["1"] == {"address": message, "name": message}
    assert _count() == 4


# -------------------------------------------------------------------------------------
def test_an_import_writes_up_to_the_import_grants_clearance(desk: dict[str, Any]) -> None:
    people, ledger = desk["people"], desk["ledger"]
    values = {"name": NAME, "address": PLACE, "disclosure": {"hogo": True}}
    with schema_context("mitaka"):
        # before: RecordInvalid, every field of every item refused
        created = record_bulk_create(
            actor=people["torikomi"], ledger=ledger, values_list=[values], capability="import"
        )
        assert Record.objects.get(pk=created[0][0]).data["address"]["text"] == ADDRESS
        # A create grant's clearance is no import grant's: 申請受付 imports nothing, and an
        # import at 庁内 beside a create at 要配慮 imports no address.
        with pytest.raises(AccessDenied):
            record_bulk_create(
                actor=people["uketsuke"], ledger=ledger, values_list=[values], capability="import"
            )
        grants_replace(
            actor=people["admin"], ledger=ledger,
            grants=[
                {"department": "torikomi", "capabilities": ["import"], "clearance": "internal"},
                {"department": "uketsuke", "capabilities": ["create"], "clearance": "special_care"},
            ],
        )  # fmt: skip
        people["torikomi"].memberships.create(
            department=Department.objects.get(code="uketsuke"), role=Role.EDITOR,
            valid_from=date(2026, 4, 1),
        )  # fmt: skip
        with pytest.raises(RecordInvalid) as refused:
            record_bulk_create(
                actor=people["torikomi"], ledger=ledger, values_list=[values], capability="import"
            )
        assert set(refused.value.item_errors[0]) == {"address", "name"}
        assert Record.objects.filter(ledger=ledger).count() == 1
        # The same holder creates it (its create clearance).
        assert record_create(actor=people["torikomi"], ledger=ledger, values=values).data


# -------------------------------------------------------------------------------------
def test_a_create_clearance_never_lets_a_change_or_a_restore_write_above_the_read_one(
    desk: dict[str, Any],
) -> None:
    people, ledger = desk["people"], desk["ledger"]
    with schema_context("mitaka"):
        record = record_create(
            actor=people["kenmu"], ledger=ledger,
            values={"address": PLACE, "amount": 1, "disclosure": {"hogo": True}},
        )  # fmt: skip
        policy = policy_for(people["kenmu"], ledger)
        assert policy.write_clearance("create") == "special_care"
        assert policy.write_clearance("update") == "internal"
        assert policy.closed_fields() == policy.closed_fields(capability="update")
        assert "address" in policy.closed_fields()
        assert "address" not in policy.closed_fields(capability="create")
        with pytest.raises(AccessDenied) as denied:
            record_update(
                actor=people["kenmu"], record=record, values={"address": None},
                expected_generation=1, policy=policy,
            )  # fmt: skip
        assert denied.value.detail["fields"] == ["address"]
        assert Record.objects.get(pk=record.pk).data["address"]["text"] == ADDRESS
        # 市民課 changes the address; restoring generation 1 leaves it as it is now.
        Record.objects.filter(pk=record.pk).update(
            data={**record.data, "disclosure": {"shimin": True, "hogo": True}}
        )
        changed = record_update(
            actor=people["clerk"], record=Record.objects.get(pk=record.pk),
            values={"address": {**PLACE, "text": "東京都三鷹市野崎一丁目1番1号"}},
            expected_generation=1,
        )  # fmt: skip
        restored = record_restore(
            actor=people["kenmu"], record=changed, generation=1, expected_generation=2,
            policy=policy,
        )  # fmt: skip
        assert restored.data["address"]["text"] == "東京都三鷹市野崎一丁目1番1号"
        assert restored.data["amount"] == 1


# -------------------------------------------------------------------------------------
def test_a_create_clearance_is_capped_by_the_role_and_absent_from_a_preview(
    desk: dict[str, Any],
) -> None:
    people, ledger = desk["people"], desk["ledger"]
    with schema_context("mitaka"):
        # A viewer of 申請受付: the role's ceiling takes create away, and its clearance with it.
        viewer = get_user_model().objects.create_user(
            username="etsuran", password="S3cret!pass-api", display_name="etsuran"
        )
        Membership.objects.create(
            user=viewer, department=Department.objects.get(code="uketsuke"), role=Role.VIEWER,
            valid_from=date(2026, 4, 1),
        )  # fmt: skip
        capped = policy_for(viewer, ledger)
        assert (capped.capabilities, capped.entry_clearances) == (frozenset(), ())
        assert capped.write_clearance("create") is None
        # A read-only preview ("view as") of the desk writes nothing, at no clearance.
        preview = policy_for(people["uketsuke"], ledger, viewed_by=people["designer"])
        assert preview.write_clearance("create") is None
        assert policy_for(people["uketsuke"], ledger).write_clearance("create") == "special_care"
