"""A record read refused by the caller's disclosure (or of an id no record of the ledger has)
is answered exactly as a missing record, and audited as ``record.refused``: a colleague of
a 不可 department probing record ids of the DV ledger is what its auditors must see."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.access.services import grants_replace
from tests.api.conftest import Api, records_url, subsidy_ledger

EVENTS = "/api/v1/audit/events/"


def _get(path: str, query: str = "") -> Any:
    return lambda client, rid: client.get(records_url(rid, path) + query)


#: Each way to address one record, and the action a successful one is audited as.
ATTEMPTS: dict[str, tuple[str, Any]] = {
    "read": ("record.view", _get("")),
    "head": ("record.view", lambda client, rid: client.head(records_url(rid))),
    "as_of": ("record.view", _get("", "?as_of=2026-11-30T00:00:00%2B09:00")),
    "versions": ("record.versions", _get("versions/")),
    "version": ("record.version_view", _get("versions/1/")),
    "diff": ("record.diff", _get("diff/", "?from=1&to=1")),
    "update": (
        "record.update",
        lambda client, rid: client.patch(
            records_url(rid), {"values": {"amount": 1}}, HTTP_IF_MATCH='"1"'
        ),
    ),
    "delete": (
        "record.delete",
        lambda client, rid: client.delete(
            records_url(rid), {"reason": "誤登録"}, HTTP_IF_MATCH='"1"'
        ),
    ),
    "restore": (
        "record.restore",
        lambda client, rid: client.post(
            records_url(rid, "restore/"), {"generation": 1}, HTTP_IF_MATCH='"1"'
        ),
    ),
}


def _shiminzei_may_delete(city: dict[str, Any]) -> None:
    with schema_context("mitaka"):
        grants_replace(
            actor=city["people"]["designer"], ledger=city["ledger"],
            grants=[
                {"department": "soumu", "capabilities": ["view", "search", "design", "audit"], "clearance": "special_care"},
                {"department": "shimin", "capabilities": ["view", "search", "create", "update", "delete"], "clearance": "special_care"},
                {"department": "shiminzei", "capabilities": ["view", "search", "create", "update", "delete"], "clearance": "personal"},
                {"role": "auditor", "capabilities": ["view", "search", "audit"], "clearance": "personal"},
            ],
        )  # fmt: skip


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_a_read_outside_the_disclosure_is_audited_and_answered_as_a_missing_record(
    api: Any, city: dict[str, Any], attempt: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by a review: 市民税課 (不可) asking for the DV record got the missing record's
    404, rightly, and nothing in the audit trail; its auditors could not tell a colleague
    probing record ids from one who never tried."""
    action, send = ATTEMPTS[attempt]
    _shiminzei_may_delete(city)
    zei = api("zei")
    hidden, missing = str(city["record"].pk), str(uuid.uuid4())
    with caplog.at_level(logging.DEBUG):
        answers = [send(zei, hidden), send(zei, missing)]
    assert answers[0].status_code == 404
    # Byte for byte the same answer, the id aside.
    assert answers[0].content.replace(hidden.encode(), b"ID") == answers[1].content.replace(
        missing.encode(), b"ID"
    )
    refused = api("auditor").get(EVENTS, {"action": "record.refused"}).json()["results"]
    token = {"id": zei.token.split("_")[1]}  # the token the probes were made with
    assert [(e["actor"], e["ledger"], e["record_id"], e["details"]) for e in refused] == [
        ("zei", "dv", hidden, {"attempted": action, "exists": True, "api_token": token}),
        ("zei", "dv", missing, {"attempted": action, "exists": False, "api_token": token}),
    ]
    # The probe's values are nowhere: not in the events, not in the logs.
    assert "山田" not in str(refused)
    assert "山田" not in caplog.text


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_a_read_by_id_refused_for_want_of_the_capability_is_audited_too(
    api: Any, city: dict[str, Any], attempt: str
) -> None:
    """A 窓口 desk allowed 加害者検索 only (search, no view, no change) asking for the DV
    record by its id was refused with a 403 before the record was looked at, and nothing
    reached the audit trail, where the same probe by a 不可 department (a 404) and a look
    into the history of a record the desk may only search (a 403) each leave
    ``record.refused``: the desk trying the id of a person it may not read was invisible to
    auditors. The answer stays the 403 it was, the same for any id."""
    action, send = ATTEMPTS[attempt]
    with schema_context("mitaka"):
        grants_replace(
            actor=city["people"]["designer"], ledger=city["ledger"],
            grants=[
                {"department": "soumu", "capabilities": ["view", "search", "design", "audit"], "clearance": "special_care"},
                {"department": "shimin", "capabilities": ["search"], "search_screens": ["offender"], "clearance": "special_care"},
                {"role": "auditor", "capabilities": ["view", "search", "audit"], "clearance": "personal"},
            ],
        )  # fmt: skip
    desk = api("clerk")
    shown, missing = str(city["record"].pk), str(uuid.uuid4())
    answers = [send(desk, shown), send(desk, missing)]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].content == answers[1].content
    assert "下連雀".encode() not in answers[0].content
    refused = api("auditor").get(EVENTS, {"action": "record.refused"}).json()["results"]
    token = {"id": desk.token.split("_")[1]}
    assert [(e["actor"], e["ledger"], e["record_id"], e["details"]) for e in refused] == [
        ("clerk", "dv", shown, {"attempted": action, "exists": True, "api_token": token}),
        ("clerk", "dv", missing, {"attempted": action, "exists": False, "api_token": token}),
    ]


def test_an_auditor_finds_the_probes_of_one_record_by_its_id(
    api: Any, city: dict[str, Any]
) -> None:
    record_id = str(city["record"].pk)
    api("zei").get(records_url(record_id))
    listed = api("auditor").get(EVENTS, {"record": record_id}).json()["results"]
    assert ("zei", "record.refused") in [(e["actor"], e["action"]) for e in listed]


def test_an_id_of_another_ledger_s_record_is_not_said_to_exist(
    api: Any, city: dict[str, Any]
) -> None:
    """``exists`` is about the ledger asked through: the DV record's id asked through another
    ledger is missing there, and the event (read by that ledger's auditors) says so."""
    subsidy_ledger(
        city, [{"department": "shiminzei", "capabilities": ["view"], "clearance": "internal"}]
    )
    dv_id = str(city["record"].pk)
    zei = api("zei")
    assert zei.get(f"/api/v1/ledgers/subsidy/records/{dv_id}/").status_code == 404
    refused = api("admin").get(EVENTS, {"action": "record.refused"}).json()["results"]
    token = {"id": zei.token.split("_")[1]}
    assert [(e["ledger"], e["record_id"], e["details"]) for e in refused] == [
        ("subsidy", dv_id, {"attempted": "record.view", "exists": False, "api_token": token})
    ]


def test_a_malformed_id_is_audited_without_its_text(api: Any, city: dict[str, Any]) -> None:
    """A record address that is no id (a name typed where the id goes, say) is a refused
    read too; the text itself is not kept (it may be personal data)."""
    zei = api("zei")
    answer = zei.get("/api/v1/ledgers/dv/records/yamada-hanako/")
    assert answer.status_code == 404
    refused = api("admin").get(EVENTS, {"action": "record.refused"}).json()["results"]
    token = {"id": zei.token.split("_")[1]}
    assert [(e["record_id"], e["details"]) for e in refused] == [
        (None, {"attempted": "record.view", "exists": False, "api_token": token})
    ]
    assert "yamada" not in str(refused)


def test_a_read_within_the_disclosure_writes_no_refusal(api: Any, city: dict[str, Any]) -> None:
    clerk = api("clerk")
    assert clerk.get(records_url(city["record"].pk)).status_code == 200
    assert api("admin").get(EVENTS, {"action": "record.refused"}).json()["results"] == []


def test_a_retried_create_the_caller_may_no_longer_read_is_not_a_probe(
    api: Any, city: dict[str, Any]
) -> None:
    """A create retried with its Idempotency-Key reads the record it made: not a refusal,
    whatever the record's flags say now."""
    clerk: Api = api("clerk")
    body = {"values": {"name": {"kanji": "佐藤 一郎", "kana": "サトウ イチロウ"},
                       "disclosure": {"shiminzei": True}}}  # fmt: skip
    first = clerk.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = clerk.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert api("admin").get(EVENTS, {"action": "record.refused"}).json()["results"] == []
