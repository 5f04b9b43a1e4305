"""Access control on paths a first look passes by: old generations after a field's
sensitivity was raised, excluded sub-fields, sub-fields of masked groups, writes to masked
fields (an equality oracle), and what a search-only grant's writes answer."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.access.services import grants_replace
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import field_add, field_update, ledger_create
from ledgers.exceptions import RecordInvalid
from ledgers.records.models import Record
from ledgers.records.services import record_bulk_update, record_create
from tests.api.conftest import ADDRESS, DV_DOCUMENT, Api, records_url

VALUES = {
    "name": {"kanji": "鈴木 一子", "kana": "スズキ イチコ"}, "birth_date": "1980-01-02",
    "address": {"postal_code": "181-0013", "text": ADDRESS}, "amount": 1000,
    "disclosure": {"shimin": True, "shiminzei": True},  # 市民税課 may see it (clearance: personal)
    "offenders": [{"name": {"kanji": "鈴木 次郎", "kana": "スズキ ジロウ"}, "relation": "配偶者"}],
}  # fmt: skip


def _record(city: dict[str, Any], ledger: Any = None, **extra: Any) -> Any:
    with schema_context("mitaka"):
        return record_create(
            actor=city["people"]["clerk"],
            ledger=ledger or city["ledger"],
            values={**VALUES, **extra},
        )


def _ledger(city: dict[str, Any], code: str, change: Any, grants: list[dict[str, Any]]) -> Any:
    doc = copy.deepcopy(DV_DOCUMENT)
    doc["code"] = code
    change(doc)
    with schema_context("mitaka"):
        ledger = ledger_create(actor=city["people"]["designer"], **doc)
        grants_replace(actor=city["people"]["designer"], ledger=ledger, grants=grants)
        return Ledger.objects.get(pk=ledger.pk)


# -------------------------------------------------------------------------------------
def test_a_raised_sensitivity_masks_every_generation_as_of_versions_and_diffs(
    api: Any, city: dict[str, Any]
) -> None:
    record = _record(city)
    zei, clerk = api("zei"), api("clerk")
    assert (
        api("designer")
        .patch("/api/v1/ledgers/dv/fields/amount/", {"sensitivity": "special_care"})
        .status_code
        == 200
    )
    assert zei.get(records_url(record.pk)).json()["values"]["amount"] == {"masked": True}
    as_of = zei.get(records_url(record.pk), {"as_of": timezone.now().isoformat()}).json()
    v1 = zei.get(records_url(record.pk, "versions/1/")).json()
    clerk.patch(records_url(record.pk), {"values": {"amount": 2000}}, HTTP_IF_MATCH='"1"')
    diff = zei.get(records_url(record.pk, "diff/"), {"from": 1, "to": 2}).json()
    leaks = [as_of["values"]["amount"], v1["values"]["amount"], diff["changes"]["amount"]["from"]]
    assert leaks == [{"masked": True}] * 3, leaks


# -------------------------------------------------------------------------------------
def test_an_excluded_sub_field_is_taken_out_of_its_group_in_results(
    api: Any, city: dict[str, Any]
) -> None:
    def screen(doc: dict[str, Any]) -> None:
        doc["search_screens"] = [{
            "code": "win", "name": "窓口", "generations": "current",
            "criteria": [{"field": "name", "match": "contains"}],
            "excluded_fields": ["address", "offenders.name"],  # result_fields: the default
        }]  # fmt: skip

    ledger = _ledger(city, "dv2", screen, [
        {"department": "shimin", "capabilities": ["view", "search", "create"], "clearance": "special_care"},
    ])  # fmt: skip
    _record(city, ledger)
    body = api("clerk").post("/api/v1/ledgers/dv2/search/win/", {"criteria": {"name": "鈴木"}})
    assert body.status_code == 200
    assert "下連雀" not in body.content.decode()  # excluded top-level field: hidden
    assert "次郎" not in body.content.decode(), body.json()["results"][0]["values"]["offenders"]


# -------------------------------------------------------------------------------------
def test_a_sub_field_of_a_masked_group_is_no_search_criterion(
    api: Any, city: dict[str, Any]
) -> None:
    def sensitive_group(doc: dict[str, Any]) -> None:
        group = next(f for f in doc["fields"] if f["key"] == "offenders")
        group["sensitivity"] = "special_care"
        for sub in group["fields"]:
            sub.pop("sensitivity", None)  # sub-fields at the default (internal)

    ledger = _ledger(city, "dv3", sensitive_group, [
        {"department": "shimin", "capabilities": ["view", "search", "create"], "clearance": "special_care"},
        {"department": "shiminzei", "capabilities": ["view", "search"], "clearance": "personal"},
    ])  # fmt: skip
    record = _record(city, ledger)
    zei = api("zei")
    assert zei.get(f"/api/v1/ledgers/dv3/records/{record.pk}/").json()["values"]["offenders"] == {
        "masked": True
    }

    def hits(name: str) -> Any:
        r = zei.post(
            "/api/v1/ledgers/dv3/search/offender/",
            {"criteria": {"offenders.name": name}, "reason": "確認"},
        )
        return r.status_code, len(r.json().get("results", []))

    assert hits("次郎") == hits("三郎") == (400, 0)


# -------------------------------------------------------------------------------------
def test_a_masked_field_cannot_be_written_whatever_the_guess(
    api: Any, city: dict[str, Any]
) -> None:
    record = _record(city)
    zei = api("zei")  # personal clearance, update capability: address is masked
    assert zei.get(records_url(record.pk)).json()["values"]["address"] == {"masked": True}
    right = zei.patch(
        records_url(record.pk), {"values": {"address": VALUES["address"]}}, HTTP_IF_MATCH='"1"'
    )
    wrong = zei.patch(
        records_url(record.pk),
        {"values": {"address": {"text": "東京都三鷹市井口一丁目"}}},
        HTTP_IF_MATCH='"1"',
    )
    # before: a right guess answered ETag "1" (nothing written), a wrong one "2" (overwritten)
    assert (right.status_code, wrong.status_code) == (403, 403)
    assert right.json() == wrong.json()
    assert wrong.json()["detail"]["fields"] == ["address"]
    with schema_context("mitaka"):
        stored = Record.objects.get(pk=record.pk)
    assert (stored.generation, stored.data["address"]["text"]) == (1, ADDRESS)
    # A group with a masked sub-field is written whole: refused too; a readable field is not.
    assert (
        zei.patch(
            records_url(record.pk), {"values": {"amount": 5}}, HTTP_IF_MATCH='"1"'
        ).status_code
        == 200
    )


# -------------------------------------------------------------------------------------
def test_a_search_only_grant_s_write_answers_without_values(api: Any, city: dict[str, Any]) -> None:
    with schema_context("mitaka"):
        dept = Department.objects.create(code="kodomo", name="子ども家庭課")
        user = get_user_model().objects.create_user(username="kodomo1", password="S3cret!pass-api")
        Membership.objects.create(
            user=user, department=dept, role=Role.EDITOR, valid_from=date(2026, 4, 1)
        )
        designer = city["people"]["designer"]
        field_update(actor=designer, ledger=city["ledger"], key="disclosure",
                     changes={"options": {"departments": ["shimin", "shiminzei", "kodomo"]}})  # fmt: skip
        ledger = Ledger.objects.get(pk=city["ledger"].pk)
        grants_replace(actor=designer, ledger=ledger, grants=[
            {"department": "shimin", "capabilities": ["view", "search", "create"], "clearance": "special_care"},
            {"department": "kodomo", "capabilities": ["search", "update"], "clearance": "special_care"},
        ])  # fmt: skip
    record = _record(city, ledger, disclosure={"shimin": True, "kodomo": True})
    k = Api(user)
    hit = k.post(
        "/api/v1/ledgers/dv/search/offender/",
        {"criteria": {"offenders.name": "次郎"}, "reason": "確認"},
    )
    assert hit.status_code == 200
    assert "下連雀" not in hit.content.decode()  # the screen excludes it
    assert k.get(records_url(record.pk)).status_code == 403  # no view
    patched = k.patch(records_url(record.pk), {"values": {}}, HTTP_IF_MATCH='"1"')
    assert patched.status_code == 200
    assert patched.json()["values"] == {}
    # A write by one who may not read is always a generation: the same one back would
    # tell that the values sent were already the record's (a guess confirmed).
    assert patched["ETag"] == '"2"'


def test_restoring_a_generation_keeps_what_the_restorer_cannot_see(
    api: Any, city: dict[str, Any]
) -> None:
    record = _record(city)
    clerk, zei = api("clerk"), api("zei")
    moved = {"postal_code": "181-0001", "text": "東京都三鷹市井の頭一丁目1番1号"}
    assert (
        clerk.patch(
            records_url(record.pk),
            {"values": {"address": moved, "amount": 2000}},
            HTTP_IF_MATCH='"1"',
        ).status_code
        == 200
    )
    restored = zei.post(records_url(record.pk, "restore/"), {"generation": 1}, HTTP_IF_MATCH='"2"')
    assert restored.status_code == 200
    with schema_context("mitaka"):
        stored = Record.objects.get(pk=record.pk)
    assert stored.generation == 3
    assert stored.data["amount"] == 1000  # readable: back to generation 1
    assert stored.data["address"]["text"] == moved["text"]  # masked to 市民税課: as it was


def test_a_bulk_update_refuses_masked_fields_and_records_out_of_sight(
    city: dict[str, Any],
) -> None:
    hidden = _record(city, disclosure={"shimin": True, "shiminzei": False})
    shown = _record(city)
    zei = city["people"]["zei"]
    with pytest.raises(RecordInvalid) as refused:
        record_bulk_update(
            actor=zei, ledger=city["ledger"],
            changes=[(shown.pk, 1, {"address": {"text": "東京都"}}), (hidden.pk, 1, {"amount": 1})],
        )  # fmt: skip
    assert refused.value.item_errors == {
        0: {"address": ["閲覧できない項目は変更できません。"]},
        1: {"id": ["記録が見つかりません。"]},
    }
    with schema_context("mitaka"):
        assert {r.generation for r in Record.objects.filter(pk__in=[hidden.pk, shown.pk])} == {1}


def _shared_with_zei(api: Any, city: dict[str, Any]) -> tuple[Api, Api, Any]:
    """The fixture's record, opened to 市民税課 (personal clearance) as generation 2."""
    clerk, zei, record_id = api("clerk"), api("zei"), city["record"].pk
    opened = clerk.patch(
        records_url(record_id), {"values": {"disclosure": {"shimin": True, "shiminzei": True}}},
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert opened.status_code == 200
    return clerk, zei, record_id


def test_a_restore_never_names_a_hidden_old_value(api: Any, city: dict[str, Any]) -> None:
    designer = city["people"]["designer"]
    with schema_context("mitaka"):
        field_add(
            actor=designer, ledger=Ledger.objects.get(code="dv"),
            field={"key": "status", "label": "状況", "type": "choice", "sensitivity": "special_care",
                   "options": {"choices": ["一時保護中", "転居済", "終了"]}},
        )  # fmt: skip
    clerk, zei, record_id = _shared_with_zei(api, city)
    assert (
        clerk.patch(
            records_url(record_id), {"values": {"status": "一時保護中"}}, HTTP_IF_MATCH='"2"'
        ).status_code
        == 200
    )
    with schema_context("mitaka"):
        field_update(
            actor=designer, ledger=Ledger.objects.get(code="dv"), key="status",
            changes={"options": {"choices": ["転居済", "終了"]}},
        )  # fmt: skip
    assert (
        clerk.patch(
            records_url(record_id), {"values": {"status": "転居済"}}, HTTP_IF_MATCH='"3"'
        ).status_code
        == 200
    )
    restored = zei.post(records_url(record_id, "restore/"), {"generation": 3}, HTTP_IF_MATCH='"4"')
    assert "一時保護中" not in restored.content.decode()
    assert restored.status_code == 200, restored.content
    with schema_context("mitaka"):
        assert Record.objects.get(pk=record_id).data["status"] == "転居済"  # kept as it is now


def test_a_restore_is_not_refused_for_a_hidden_field_made_required(
    api: Any, city: dict[str, Any]
) -> None:
    designer = city["people"]["designer"]
    clerk, zei, record_id = _shared_with_zei(api, city)
    with schema_context("mitaka"):
        field_add(
            actor=designer, ledger=Ledger.objects.get(code="dv"),
            field={"key": "shelter", "label": "保護施設", "type": "text", "sensitivity": "special_care"},
        )  # fmt: skip
    assert (
        clerk.patch(
            records_url(record_id),
            {"values": {"shelter": "A施設", "amount": 3}},
            HTTP_IF_MATCH='"2"',
        ).status_code
        == 200
    )
    with schema_context("mitaka"):
        field_update(
            actor=designer, ledger=Ledger.objects.get(code="dv"), key="shelter",
            changes={"required": True},
        )  # fmt: skip
    restored = zei.post(records_url(record_id, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"3"')
    assert restored.status_code == 200, restored.content
    with schema_context("mitaka"):
        data = Record.objects.get(pk=record_id).data
    assert (data["shelter"], data["amount"]) == ("A施設", 1000)


def test_a_restore_needs_if_match(api: Any, city: dict[str, Any]) -> None:
    clerk, record_id = api("clerk"), city["record"].pk
    assert (
        clerk.patch(
            records_url(record_id), {"values": {"amount": 2000}}, HTTP_IF_MATCH='"1"'
        ).status_code
        == 200
    )
    unnamed = clerk.post(records_url(record_id, "restore/"), {"generation": 1})
    assert unnamed.status_code == 428
    stale = clerk.post(records_url(record_id, "restore/"), {"generation": 1}, HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    with schema_context("mitaka"):
        assert Record.objects.get(pk=record_id).generation == 2


def test_undeleting_by_a_generation_needs_the_delete_capability(
    api: Any, city: dict[str, Any]
) -> None:
    clerk, zei, record_id = _shared_with_zei(api, city)
    assert (
        clerk.delete(records_url(record_id), {"reason": "誤登録"}, HTTP_IF_MATCH='"2"').status_code
        == 200
    )
    assert zei.post(records_url(record_id, "restore/"), {}, HTTP_IF_MATCH='"3"').status_code == 403
    by_generation = zei.post(
        records_url(record_id, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"3"'
    )
    assert by_generation.status_code == 403
    with schema_context("mitaka"):
        assert Record.objects.get(pk=record_id).deleted_at is not None


def test_a_diff_tells_of_a_change_inside_a_masked_sub_field(api: Any, city: dict[str, Any]) -> None:
    clerk, _zei, record_id = _shared_with_zei(api, city)
    offenders = [{"name": {"kanji": "鈴木 一郎", "kana": "スズキ イチロウ"}, "relation": "配偶者"}]
    assert (
        clerk.patch(
            records_url(record_id), {"values": {"offenders": offenders}}, HTTP_IF_MATCH='"2"'
        ).status_code
        == 200
    )
    with schema_context("mitaka"):
        grants_replace(
            actor=city["people"]["designer"], ledger=Ledger.objects.get(code="dv"),
            grants=[
                {"department": "shimin", "capabilities": ["view", "search", "create", "update", "delete"],
                 "clearance": "special_care"},
                {"department": "shiminzei", "capabilities": ["view", "search"], "clearance": "internal"},
            ],
        )  # fmt: skip
    changes = (
        api("zei").get(records_url(record_id, "diff/"), {"from": 2, "to": 3}).json()["changes"]
    )
    assert changes == {"offenders": {"from": {"masked": True}, "to": {"masked": True}}}


def test_a_diff_does_not_call_a_value_changed_when_only_its_sensitivity_was(
    api: Any, city: dict[str, Any]
) -> None:
    clerk, zei, record_id = _shared_with_zei(api, city)
    with schema_context("mitaka"):
        field_update(
            actor=city["people"]["designer"], ledger=Ledger.objects.get(code="dv"),
            key="address", changes={"sensitivity": "personal"},
        )  # fmt: skip
    assert (
        clerk.patch(
            records_url(record_id), {"values": {"amount": 7}}, HTTP_IF_MATCH='"2"'
        ).status_code
        == 200
    )
    changes = zei.get(records_url(record_id, "diff/"), {"from": 2, "to": 3}).json()["changes"]
    assert set(changes) == {"amount"}


def test_a_create_cannot_write_a_field_above_the_clearance(api: Any, city: dict[str, Any]) -> None:
    values = {
        "name": {"kanji": "佐藤 一郎", "kana": "サトウ イチロウ"},
        "address": {"postal_code": "181-0013", "text": "東京都三鷹市某所"},
        "disclosure": {"shiminzei": True},
    }
    zei = api("zei")  # personal clearance: address is special_care
    single = zei.post(records_url(), {"values": values})
    assert single.status_code == 403
    assert single.json()["detail"]["fields"] == ["address"]
    bulk = zei.post("/api/v1/ledgers/dv/records/bulk/", {"records": [{"values": values}]})
    assert bulk.status_code == 400
    assert bulk.json()["detail"]["items"]["0"] == {
        "address": ["閲覧できない項目には値を入れられません。"]
    }
    with schema_context("mitaka"):
        assert Record.objects.filter(ledger=city["ledger"]).count() == 1  # the fixture's only
    without = {k: v for k, v in values.items() if k != "address"}
    assert zei.post(records_url(), {"values": without}).status_code == 201


def test_a_method_a_view_does_not_have_is_405(api: Any, city: dict[str, Any]) -> None:
    answer = api("admin").put(records_url(city["record"].pk), {"values": {}})
    assert answer.status_code == 405
    assert answer.json()["code"] == "ERROR_METHOD_NOT_ALLOWED"


def test_a_hidden_field_reads_masked_whether_it_is_filled_or_not(
    api: Any, city: dict[str, Any]
) -> None:
    """市民税課 (cleared to personal data) cannot tell from any output whether a record holds
    an address: a marker only where a value is would tell it, and a diff from nothing to
    a value would say when one was first written."""
    clerk, zei = api("clerk"), api("zei")
    created = clerk.post(
        records_url(),
        {"values": {"name": {"kanji": "川田 一子", "kana": "カワダ イチコ"},
                    "disclosure": {"shimin": True, "shiminzei": True}}},
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    record_id = created.json()["id"]
    first = zei.get(records_url(record_id)).json()
    assert first["values"]["address"] == {"masked": True}
    assert zei.get(records_url(record_id, "versions/1/")).json()["values"]["address"] == {
        "masked": True
    }
    listed = zei.get(records_url(), {"name__contains": "川田"}).json()["results"]
    assert [r["values"]["address"] for r in listed] == [{"masked": True}]
    clerk.patch(
        records_url(record_id), {"values": {"address": {"text": ADDRESS}}}, HTTP_IF_MATCH='"1"'
    )
    second = zei.get(records_url(record_id)).json()
    assert second["values"] == first["values"]
    diff = zei.get(records_url(record_id, "diff/"), {"from": 1, "to": 2}).json()["changes"]
    assert diff == {"address": {"from": {"masked": True}, "to": {"masked": True}}}
    assert "下連雀" not in json.dumps(zei.get(records_url(record_id)).json(), ensure_ascii=False)
    # The clerk, cleared for it, sees the empty first generation as empty.
    assert "address" not in clerk.get(records_url(record_id, "versions/1/")).json()["values"]


def test_a_hidden_result_field_of_a_search_is_masked_whether_it_is_filled_or_not(
    api: Any, city: dict[str, Any]
) -> None:
    """市民税課 (cleared to personal data) ran 本人検索（最新）, whose results show the address
    (special care): it read {"masked": true} where a record held one and nothing where it
    did not, so every search told it which victims' addresses the city knows."""
    clerk, zei = api("clerk"), api("zei")
    for name, address in [("川田 一子", None), ("川田 二子", ADDRESS)]:
        values: dict[str, Any] = {
            "name": {"kanji": name, "kana": "カワダ"},
            "disclosure": {"shimin": True, "shiminzei": True},
        }
        if address:
            values["address"] = {"text": address}
        assert clerk.post(records_url(), {"values": values}).status_code == 201
    found = zei.post(
        "/api/v1/ledgers/dv/search/latest/", {"criteria": {"name": "川田"}, "reason": "窓口"}
    )
    assert found.status_code == 200, found.json()
    shown = [r["values"] for r in found.json()["results"]]
    assert [v["address"] for v in shown] == [{"masked": True}] * 2, shown
    # Still the screen's result fields only (its birth_date is empty, and readable).
    assert [sorted(v) for v in shown] == [["address", "name"]] * 2


def _written_while_special_care(api: Any, record_id: Any, later: dict[str, Any]) -> None:
    """Generation 2 holds a birth date (1990-01-01) written while the field was special
    care, disclosed to 市民税課 too; the field is then lowered to personal and generation 3
    writes ``later``."""
    designer, clerk = api("designer"), api("clerk")

    def sensitivity(level: str) -> None:
        changed = designer.patch("/api/v1/ledgers/dv/fields/birth_date/", {"sensitivity": level})
        assert changed.status_code == 200, changed.json()

    sensitivity("special_care")
    written = clerk.patch(
        records_url(record_id),
        {"values": {"birth_date": "1990-01-01", "disclosure": {"shimin": True, "shiminzei": True}}},
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert written.status_code == 200, written.json()
    sensitivity("personal")
    third = clerk.patch(records_url(record_id), {"values": later}, HTTP_IF_MATCH='"2"')
    assert third.status_code == 200, third.json()


def test_a_past_search_cannot_match_values_the_history_shows_masked(
    api: Any, city: dict[str, Any]
) -> None:
    """A birth date written while the field was special care stays masked in that
    generation for 市民税課 (cleared to personal data) after the sensitivity is lowered
    again; 本人検索（過去） matched it all the same and said in which generation: a guessing
    oracle for the masked value. Over every generation, a field is judged by the strictest
    sensitivity it ever had."""
    clerk, zei, record_id = api("clerk"), api("zei"), city["record"].pk
    _written_while_special_care(api, record_id, {"birth_date": "2000-01-01"})
    assert zei.get(records_url(record_id, "versions/2/")).json()["values"]["birth_date"] == {
        "masked": True
    }
    past = zei.post(
        "/api/v1/ledgers/dv/search/past/",
        {"criteria": {"birth_date": {"from": "1990-01-01", "to": "1990-01-01"}}, "reason": "窓口での確認"},
    )  # fmt: skip
    assert past.status_code in {400, 403}, past.json()
    assert "birth_date" in past.json()["detail"]["criteria"]
    # The current generation's search judges by the sensitivity now: zei may use it there.
    latest = zei.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"birth_date": {"from": "2000-01-01", "to": "2000-01-01"}}, "reason": "窓口での確認"},
    )  # fmt: skip
    assert latest.status_code == 200, latest.json()
    assert [r["id"] for r in latest.json()["results"]] == [str(record_id)]
    # The clerk, cleared for special care data, still finds the old value in the past.
    found = clerk.post(
        "/api/v1/ledgers/dv/search/past/",
        {"criteria": {"birth_date": {"from": "1990-01-01", "to": "1990-01-01"}}, "reason": "窓口での確認"},
    )  # fmt: skip
    assert found.status_code == 200, found.json()
    assert [m["generation"] for m in found.json()["results"][0]["matched"]] == [2]


def test_a_restore_cannot_bring_back_a_value_its_generation_shows_masked(
    api: Any, city: dict[str, Any]
) -> None:
    """A birth date written while the field was special care stays masked in that
    generation for 市民税課 (cleared to personal data) after the sensitivity is lowered
    again. A restore of that generation by 市民税課 (update) made it the current value,
    which it then read as plain: the history's mask undone by one POST. What the restorer
    cannot see in the generation (by the stricter of then and now) stays as it is now."""
    clerk, zei, record_id = api("clerk"), api("zei"), city["record"].pk
    _written_while_special_care(api, record_id, {"birth_date": "2000-01-01", "amount": 5})
    assert zei.get(records_url(record_id, "versions/2/")).json()["values"]["birth_date"] == {
        "masked": True
    }
    restored = zei.post(records_url(record_id, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"3"')
    assert restored.status_code == 200, restored.json()
    assert "1990" not in restored.content.decode()
    now = zei.get(records_url(record_id)).json()["values"]
    assert now["birth_date"] == "2000-01-01"  # kept as it is now
    assert now["amount"] == 1000  # readable in generation 2: back as it was
    # The clerk, cleared for special care data, restores it as before.
    again = clerk.post(records_url(record_id, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"4"')
    assert again.status_code == 200, again.json()
    assert again.json()["values"]["birth_date"] == "1990-01-01"
