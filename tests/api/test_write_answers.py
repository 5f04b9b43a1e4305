"""What a write answers: values only to one who may read them, and a PATCH that changes
nothing is a read, audited as one (found by a review of the Idempotency-Key change)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.access.models import Grant
from ledgers.access.services import grant_describe, grants_replace
from ledgers.audit.models import AuditEvent
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import field_add, field_update
from ledgers.records.models import Record
from ledgers.records.services import record_bulk_update, record_create
from tests.api.conftest import ADDRESS, Api, records_url, subsidy_ledger


def _views(record_id: Any) -> list[dict[str, Any]]:
    with schema_context("mitaka"):
        return list(
            AuditEvent.objects.filter(action="record.view", record_id=record_id).values(
                "actor_id", "generation", "details"
            )
        )


def test_a_patch_that_changes_nothing_is_audited_as_the_read_it_is(
    api: Any, city: dict[str, Any]
) -> None:
    """With If-Match (a 412 tells the generation), a PATCH of no values answered every value
    of the record and left no trace: no new generation, no record.update, no record.view."""
    record = city["record"]
    clerk = api("clerk")
    answer = clerk.patch(records_url(record.pk), {"values": {}}, HTTP_IF_MATCH='"1"')
    assert answer.status_code == 200
    assert answer.json()["values"]["address"]["text"] == ADDRESS
    assert answer.json()["generation"] == 1
    token = {"id": clerk.token.split("_")[1]}
    assert _views(record.pk) == [
        {"actor_id": city["people"]["clerk"].pk, "generation": 1,
         "details": {"via": "patch", "api_token": token}}
    ]  # fmt: skip


def test_a_patch_that_changes_something_is_audited_as_the_change_only(
    api: Any, city: dict[str, Any]
) -> None:
    record = city["record"]
    answer = api("clerk").patch(
        records_url(record.pk), {"values": {"amount": 2000}}, HTTP_IF_MATCH='"1"'
    )
    assert answer.status_code == 200
    assert answer.json()["generation"] == 2
    assert _views(record.pk) == []
    with schema_context("mitaka"):
        assert AuditEvent.objects.filter(action="record.update", record_id=record.pk).count() == 1


@pytest.mark.parametrize("write", ["create", "patch", "delete", "restore"])
def test_a_token_that_may_only_write_is_answered_without_values(
    api: Any, city: dict[str, Any], write: str
) -> None:
    """A records:write token is refused a GET; a PATCH answered every field of the record
    (not only those written), so such a token read what its scopes refuse."""
    robot = api("clerk", scopes=["records:write"])
    record = city["record"]
    assert robot.get(records_url(record.pk)).status_code == 403
    if write == "create":
        answer = robot.post(records_url(), {"values": {"name": "佐藤 花子", "amount": 1}})
    elif write == "patch":
        answer = robot.patch(records_url(record.pk), {"values": {"amount": 5}}, HTTP_IF_MATCH='"1"')
    elif write == "delete":
        answer = robot.delete(records_url(record.pk), {"reason": "重複"}, HTTP_IF_MATCH='"1"')
    else:
        changed = robot.patch(
            records_url(record.pk), {"values": {"amount": 5}}, HTTP_IF_MATCH='"1"'
        )
        assert changed.status_code == 200
        answer = robot.post(
            records_url(record.pk, "restore/"), {"generation": 1}, HTTP_IF_MATCH='"2"'
        )
    assert answer.status_code in {200, 201}, answer.json()
    assert answer.json()["values"] == {}
    assert ADDRESS not in answer.content.decode()
    assert "山田" not in answer.content.decode()


def test_a_token_that_may_read_and_write_is_answered_with_values(
    api: Any, city: dict[str, Any]
) -> None:
    both = api("clerk", scopes=["records:read", "records:write"])
    answer = both.patch(
        records_url(city["record"].pk), {"values": {"amount": 5}}, HTTP_IF_MATCH='"1"'
    )
    assert answer.status_code == 200
    assert answer.json()["values"]["address"]["text"] == ADDRESS


def _search_and_update_only(city: dict[str, Any], *, generation: int = 1) -> Api:
    """こども課: may search the DV ledger and update records, not view them (the 加害者検索
    kind of grant), and the record (at ``generation``) is disclosed to it."""
    with schema_context("mitaka"):
        department = Department.objects.create(code="kodomo", name="こども課")
        user = get_user_model().objects.create_user(username="kodomo1", password="x" * 12)
        Membership.objects.create(
            user=user, department=department, role=Role.EDITOR, valid_from=date(2026, 4, 1)
        )
        designer, ledger = city["people"]["designer"], city["ledger"]
        field_update(
            actor=designer, ledger=ledger, key="disclosure",
            changes={"options": {"departments": ["shimin", "shiminzei", "kodomo"]}},
        )  # fmt: skip
        grants = [grant_describe(g) for g in Grant.objects.filter(ledger=ledger)]
        grants.append({"department": "kodomo", "capabilities": ["search", "update"],
                       "clearance": "special_care"})  # fmt: skip
        grants_replace(actor=designer, ledger=Ledger.objects.get(pk=ledger.pk), grants=grants)
    disclosed = Api(city["people"]["clerk"]).patch(
        records_url(city["record"].pk),
        {"values": {"disclosure": {"shimin": True, "shiminzei": False, "kodomo": True}}},
        HTTP_IF_MATCH=f'"{generation}"',
    )
    assert disclosed.status_code == 200
    return Api(user)


def _searching_here_viewing_elsewhere(city: dict[str, Any], *, generation: int = 1) -> Api:
    """``_search_and_update_only``'s こども課 member, in 市民税課 too (which views the ledger
    up to personal data), and the record disclosed to こども課 alone: on it the member may
    search and update (up to special care), not view (``LedgerPolicy.for_record``)."""
    caller = _search_and_update_only(city, generation=generation)
    with schema_context("mitaka"):
        Membership.objects.create(
            user=caller.user, department=city["departments"]["shiminzei"], role=Role.EDITOR,
            valid_from=date(2026, 4, 1),
        )  # fmt: skip
    closed = Api(city["people"]["clerk"]).patch(
        records_url(city["record"].pk),
        {"values": {"disclosure": {"shimin": False, "shiminzei": False, "kodomo": True}}},
        HTTP_IF_MATCH=f'"{generation + 1}"',
    )
    assert closed.status_code == 200
    return caller


@pytest.mark.parametrize(
    "who", ["write-only token", "search and update grant", "search and update here, view elsewhere"]
)
def test_a_write_by_one_who_may_not_read_never_tells_a_right_guess(
    api: Any, city: dict[str, Any], who: str
) -> None:
    """Found by a review: PATCHing a guessed address answered the same generation when the
    guess was right (nothing changed, nothing audited) and a new one when it was wrong.
    The review of the write paths (2026-11-30) found it again for a member of a department
    the record is disclosed to, which may search and update it, and of one that views the
    ledger but not the record: who may read was asked of the ledger, not of the record."""
    record = city["record"]
    if who == "write-only token":
        caller, generation = api("clerk", scopes=["records:write"]), 1
    elif who == "search and update grant":
        caller, generation = _search_and_update_only(city), 2
    else:
        caller, generation = _searching_here_viewing_elsewhere(city), 3
    assert caller.get(records_url(record.pk)).status_code in {403, 404}
    assert caller.get(records_url(record.pk, "versions/1/")).status_code == 403
    right = {"address": {"postal_code": "181-0013", "text": ADDRESS}}
    answer = caller.patch(
        records_url(record.pk), {"values": right}, HTTP_IF_MATCH=f'"{generation}"'
    )
    assert answer.status_code == 200
    assert answer["ETag"] == f'"{generation + 1}"'  # as a wrong guess would
    assert answer.json()["values"] == {}
    with schema_context("mitaka"):
        update = AuditEvent.objects.filter(action="record.update", record_id=record.pk).latest(
            "seq"
        )
        assert update.generation == generation + 1


def _a_choice_removed_since_generation_2(api: Any, city: dict[str, Any]) -> None:
    """Generation 2 holds 状況 = 一時保護中, a choice the designer has removed since."""
    designer, record_id = city["people"]["designer"], city["record"].pk
    with schema_context("mitaka"):
        field_add(
            actor=designer, ledger=Ledger.objects.get(code="dv"),
            field={"key": "status", "label": "状況", "type": "choice", "sensitivity": "personal",
                   "options": {"choices": ["一時保護中", "転居済", "終了"]}},
        )  # fmt: skip
    first = api("clerk").patch(
        records_url(record_id), {"values": {"status": "一時保護中"}}, HTTP_IF_MATCH='"1"'
    )
    assert first.status_code == 200
    with schema_context("mitaka"):
        field_update(
            actor=designer, ledger=Ledger.objects.get(code="dv"), key="status",
            changes={"options": {"choices": ["転居済", "終了"]}},
        )  # fmt: skip


def test_a_restore_by_one_who_may_not_read_names_no_old_value(
    api: Any, city: dict[str, Any]
) -> None:
    """Found by a review: restoring a generation whose choice was removed since answered
    「一時保護中」は選択肢にありません to a token refused a read of the versions."""
    record_id = city["record"].pk
    clerk = api("clerk")
    _a_choice_removed_since_generation_2(api, city)
    second = clerk.patch(
        records_url(record_id), {"values": {"status": "転居済"}}, HTTP_IF_MATCH='"2"'
    )
    assert second.status_code == 200
    robot = api("clerk", scopes=["records:write"])
    assert robot.get(records_url(record_id, "versions/2/")).status_code == 403
    refused = robot.post(records_url(record_id, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"3"')
    assert refused.status_code == 400
    assert "status" in refused.json()["detail"]["errors"]
    assert "一時保護中" not in refused.content.decode()
    # One who may read the versions is told what is wrong, as before.
    told = clerk.post(records_url(record_id, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"3"')
    assert told.status_code == 400
    assert "一時保護中" in told.content.decode()


def test_a_restore_through_a_department_that_may_not_view_the_record_names_no_old_value(
    api: Any, city: dict[str, Any]
) -> None:
    """Found by the review of the write paths (2026-11-30): a member of こども課 (search and
    update, the record disclosed to it alone) and of 市民税課 (views the ledger, not this
    record) is refused the record's versions, and its restore answered 「一時保護中」は選択肢に
    ありません, the old value, with a record.version_view: who may read was asked of the
    ledger (市民税課's view), not of the record."""
    record_id = city["record"].pk
    _a_choice_removed_since_generation_2(api, city)
    second = api("clerk").patch(
        records_url(record_id), {"values": {"status": "転居済"}}, HTTP_IF_MATCH='"2"'
    )
    assert second.status_code == 200
    caller = _searching_here_viewing_elsewhere(city, generation=3)
    assert caller.get(records_url(record_id, "versions/2/")).status_code == 403
    refused = caller.post(
        records_url(record_id, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"5"'
    )
    assert refused.status_code == 400
    assert "status" in refused.json()["detail"]["errors"]
    assert "一時保護中" not in refused.content.decode()  # before: quoted
    with schema_context("mitaka"):
        assert not AuditEvent.objects.filter(action="record.version_view").exists()


def test_a_restore_refused_with_an_old_value_quoted_is_audited_as_the_read_it_is(
    api: Any, city: dict[str, Any]
) -> None:
    """A restore whose generation no longer validates answers the reader its old values
    (「一時保護中」は選択肢にありません) and wrote no event: a read of that generation left no
    trace (``versions/{n}/`` is audited). It is now a ``record.version_view`` of it, "via"
    restore; one told the fields only (no ``records:read``) read nothing and leaves none."""
    record_id = city["record"].pk
    clerk = api("clerk")
    _a_choice_removed_since_generation_2(api, city)
    robot = api("clerk", scopes=["records:write"])
    assert robot.post(
        records_url(record_id, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"2"'
    ).status_code == 400  # fmt: skip
    with schema_context("mitaka"):
        assert not AuditEvent.objects.filter(action="record.version_view").exists()
    told = clerk.post(records_url(record_id, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"2"')
    assert told.status_code == 400
    assert "一時保護中" in told.content.decode()
    with schema_context("mitaka"):
        [event] = AuditEvent.objects.filter(action="record.version_view")
        assert not AuditEvent.objects.filter(action="record.restore").exists()
    assert (event.actor_id, event.record_id, event.generation, event.ledger_code) == (
        city["people"]["clerk"].pk, record_id, 2, "dv",
    )  # fmt: skip
    assert event.details == {
        "via": "restore",
        "fields": ["status"],
        "api_token": {"id": clerk.token.split("_")[1]},
    }


def test_a_bulk_update_by_one_who_may_not_read_never_tells_a_right_guess(
    city: dict[str, Any],
) -> None:
    """The service alone (no route writes in bulk): an item that changed nothing kept its
    generation, which told a writer granted search and update (no view) that its guess was
    the stored value, where its PATCH writes a generation either way (the review of the
    write paths, 2026-11-30)."""
    people = city["people"]
    ledger = subsidy_ledger(
        city,
        [
            {"department": "shimin", "capabilities": ["view", "create", "update"]},
            {"department": "shiminzei", "capabilities": ["search", "update"]},
        ],
    )
    with schema_context("mitaka"):
        record = record_create(actor=people["clerk"], ledger=ledger, values={"note": "口座変更"})
        right = record_bulk_update(
            actor=people["zei"], ledger=ledger, changes=[(record.pk, 1, {"note": "口座変更"})]
        )
        assert right == [(record.pk, 2)]  # before: (record.pk, 1), nothing written
        assert Record.objects.get(pk=record.pk).generation == 2
        # One who reads the record writes nothing for nothing, as before.
        same = record_bulk_update(
            actor=people["clerk"], ledger=ledger, changes=[(record.pk, 2, {"note": "口座変更"})]
        )
        assert same == [(record.pk, 2)]
