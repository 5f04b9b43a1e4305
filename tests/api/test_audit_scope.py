"""Who reads which audit events: a ledger's events for whoever its grants give 監査 (the
auditor's role alone no longer opens a ledger it has no grant on), the events of no ledger
for 監査担当, everything for city administrators."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django_tenants.utils import schema_context

from daicho.accounts.models import Role
from ledgers.access.services import grants_replace
from ledgers.definitions.services import field_update
from tests.api.conftest import Api, records_url, subsidy_ledger
from tests.ledgers.conftest import staff


def _auditor_without_grant(city: dict[str, Any]) -> Api:
    with schema_context("mitaka"):
        user = staff("kansa2", city["departments"]["soumu"], Role.AUDITOR)
        grants_replace(
            actor=city["people"]["designer"], ledger=city["ledger"],
            grants=[
                {"department": "soumu", "capabilities": ["design"], "clearance": "internal"},
                {"department": "shimin", "capabilities": ["view", "search", "create", "update"],
                 "clearance": "special_care"},
            ],
        )  # fmt: skip
    return Api(user)


def test_an_auditor_without_a_grant_reads_no_event_of_the_ledger(
    api: Any, city: dict[str, Any]
) -> None:
    api("clerk").post(
        "/api/v1/ledgers/dv/search/offender/",
        {"criteria": {"offenders.name": "ヤマダ タロウ"}, "reason": "加害者からの請求の確認"},
    )
    auditor = _auditor_without_grant(city)
    assert auditor.get("/api/v1/ledgers/dv/").status_code == 404
    listed = auditor.get("/api/v1/audit/events/", {"ledger": "dv"})
    assert listed.status_code == 200
    assert listed.json()["results"] == []
    everything = auditor.get("/api/v1/audit/events/").json()["results"]
    assert {e["ledger"] for e in everything} <= {""}  # sign-ins, staff: the auditor's


def test_a_ledger_administrator_with_audit_reads_that_ledger_s_events(
    api: Any, city: dict[str, Any]
) -> None:
    api("clerk").get(records_url(city["record"].pk))
    listed = api("designer").get("/api/v1/audit/events/", {"ledger": "dv", "action": "record.view"})
    assert listed.status_code == 200
    assert [e["actor"] for e in listed.json()["results"]] == ["clerk"]
    # A clerk, with no 監査 anywhere, reads none.
    assert api("clerk").get("/api/v1/audit/events/").status_code == 403


def test_a_department_taken_off_the_disclosure_list_sees_nothing(
    api: Any, city: dict[str, Any]
) -> None:
    record_id = city["record"].pk
    clerk = api("clerk")
    assert clerk.get(records_url(record_id)).status_code == 200
    changed = api("designer").patch(
        "/api/v1/ledgers/dv/fields/disclosure/", {"options": {"departments": ["shiminzei"]}}
    )
    assert changed.status_code == 200, changed.content
    # The stored flags still say 可 for 市民課; the list no longer names it.
    assert clerk.get(records_url(record_id)).status_code == 404
    assert clerk.get(records_url(), {"count": "true"}).json()["count"] == 0


def test_the_record_filter_finds_the_searches_and_lists_that_showed_it(
    api: Any, city: dict[str, Any]
) -> None:
    """ "Who looked this person up": a search or a list names the records it showed in its
    details, and the record filter finds those events too."""
    record_id = str(city["record"].pk)
    clerk = api("clerk")
    found = clerk.post(
        "/api/v1/ledgers/dv/search/latest/", {"criteria": {"name": "山田"}, "reason": "本人確認"}
    )
    assert [r["id"] for r in found.json()["results"]] == [record_id]
    assert clerk.get(records_url(), {"name__contains": "山田"}).status_code == 200
    clerk.post(
        "/api/v1/ledgers/dv/search/latest/", {"criteria": {"name": "佐藤"}, "reason": "本人確認"}
    )  # showed nothing: not listed
    listed = api("auditor").get("/api/v1/audit/events/", {"record": record_id})
    actions = [(e["actor"], e["action"]) for e in listed.json()["results"]]
    assert ("clerk", "search.run") in actions
    assert ("clerk", "record.list") in actions
    assert actions.count(("clerk", "search.run")) == 1


def test_the_record_filter_reads_any_spelling_of_the_id(api: Any, city: dict[str, Any]) -> None:
    record_id = str(city["record"].pk)
    api("clerk").post(
        "/api/v1/ledgers/dv/search/latest/", {"criteria": {"name": "山田"}, "reason": "本人確認"}
    )
    upper = api("auditor").get("/api/v1/audit/events/", {"record": record_id.upper()})
    assert "search.run" in [e["action"] for e in upper.json()["results"]]


def test_an_auditor_s_query_about_a_ledger_is_shown_only_to_those_who_audit_it(
    api: Any, city: dict[str, Any]
) -> None:
    """Found by a review: an audit.read event named no ledger, so every 監査担当 read which
    DV record another auditor had looked into (its filters name the record)."""
    record_id = str(city["record"].pk)
    asked = api("auditor").get("/api/v1/audit/events/", {"record": record_id})
    assert asked.status_code == 200
    by_ledger = api("auditor").get("/api/v1/audit/events/", {"ledger": "dv"})
    assert by_ledger.status_code == 200
    outsider = _auditor_without_grant(city)
    shown = outsider.get("/api/v1/audit/events/", {"action": "audit.read"}).json()["results"]
    assert record_id not in str(shown)
    assert all(e["actor"] != "auditor" for e in shown)
    # Those who audit the DV ledger (here the city administrator) see both queries, and
    # which ledger they were about.
    read = api("admin").get("/api/v1/audit/events/", {"ledger": "dv", "action": "audit.read"})
    mine = [e for e in read.json()["results"] if e["actor"] == "auditor"]
    assert len(mine) == 2
    assert {e["ledger"] for e in mine} == {"dv"}


def test_a_query_naming_a_record_is_filed_under_the_record_s_ledger_whatever_ledger_says(
    api: Any, city: dict[str, Any]
) -> None:
    """A query naming a DV record and a made-up ledger code was filed under no ledger: every
    監査担当, whatever its grants, read which DV record was being looked into."""
    record_id = str(city["record"].pk)
    asked = api("auditor").get("/api/v1/audit/events/", {"record": record_id, "ledger": "nope"})
    assert asked.status_code == 200
    outsider = _auditor_without_grant(city)
    shown = outsider.get("/api/v1/audit/events/", {"action": "audit.read"}).json()["results"]
    assert record_id not in str(shown)
    read = api("admin").get("/api/v1/audit/events/", {"ledger": "dv", "action": "audit.read"})
    assert [e["details"]["filters"] for e in read.json()["results"]] == [
        {"record": record_id, "ledger": "nope"}
    ]


def test_terms_typed_into_fields_above_the_reader_s_clearance_are_masked(
    api: Any, city: dict[str, Any]
) -> None:
    """An auditor cleared to personal data read a clerk's address search (下連雀) with the
    ids it found: part of an address the records show it masked. The terms and filters on
    such fields are masked for it; who searched, why, and what was found stay."""
    clerk = api("clerk")
    searched = clerk.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"name": "山田", "address": "下連雀"}, "reason": "転入届の確認のため"},
    )
    assert searched.status_code == 200, searched.json()
    listed = clerk.get(records_url(), {"address__contains": "下連雀", "page_size": 5})
    assert listed.status_code == 200, listed.json()
    with schema_context("mitaka"):
        user = staff("kansa3", city["departments"]["shiminzei"], Role.AUDITOR)
    auditor = Api(user)  # a 監査担当 whose grants clear it to personal data on the DV ledger
    runs = auditor.get("/api/v1/audit/events/", {"ledger": "dv", "action": "search.run"})
    (run,) = runs.json()["results"]
    assert run["details"]["terms"] == {"name": "山田", "address": {"masked": True}}
    assert run["details"]["reason"] == "転入届の確認のため"
    assert run["details"]["results"]
    lists = auditor.get("/api/v1/audit/events/", {"ledger": "dv", "action": "record.list"})
    (shown,) = lists.json()["results"]
    assert shown["details"]["filters"] == {"address__contains": {"masked": True}, "page_size": "5"}
    assert "下連雀" not in lists.content.decode() + runs.content.decode()
    # The ledger's designer, cleared for special care data and given 監査, reads them.
    full = api("designer").get("/api/v1/audit/events/", {"ledger": "dv", "action": "search.run"})
    assert full.json()["results"][0]["details"]["terms"]["address"] == "下連雀"


def test_a_group_filter_is_masked_for_an_auditor_not_reading_every_sub_field(
    api: Any, city: dict[str, Any]
) -> None:
    """``offenders__contains`` searches each sub-field the clerk reads, a special care note
    too: an auditor cleared to personal data does not read what was typed."""
    designer, clerk = api("designer"), api("clerk")
    subs = designer.get("/api/v1/ledgers/dv/fields/offenders/").json()["fields"]
    note = {"key": "note", "label": "備考", "type": "text", "sensitivity": "special_care"}
    assert designer.patch(
        "/api/v1/ledgers/dv/fields/offenders/", {"fields": [*subs, note]}
    ).status_code == 200  # fmt: skip
    assert clerk.get(records_url(), {"offenders__contains": "避難先"}).status_code == 200
    with schema_context("mitaka"):
        user = staff("kansa4", city["departments"]["shiminzei"], Role.AUDITOR)
    lists = Api(user).get("/api/v1/audit/events/", {"ledger": "dv", "action": "record.list"})
    (shown,) = lists.json()["results"]
    assert shown["details"]["filters"] == {"offenders__contains": {"masked": True}}
    assert "避難先" not in lists.content.decode()


def _ledger_it_audits(city: dict[str, Any]) -> None:
    """補助金交付台帳, whose grants give 総務課 (the outside auditor's department) 監査."""
    subsidy_ledger(
        city, [{"department": "soumu", "capabilities": ["view", "audit"], "clearance": "internal"}]
    )


@pytest.mark.parametrize(
    "asked",
    [
        pytest.param(lambda rid: {"record": rid}, id="record"),
        pytest.param(lambda rid: {"record": rid, "ledger": "subsidy"}, id="record-own-ledger"),
        pytest.param(lambda rid: {"record": rid, "ledger": "nope"}, id="record-made-up-ledger"),
    ],
)
def test_an_auditor_cannot_tell_a_record_of_a_ledger_it_does_not_audit_from_no_record(
    api: Any, city: dict[str, Any], asked: Any
) -> None:
    """Found by a review: a query naming a record was filed under the record's ledger when
    the record existed and under no ledger (or the ledger it named) when it did not. A
    監査担当 without a grant on the DV ledger asked about an id, then read its own
    ``audit.read`` events: the query was there for an id no record has and missing for a
    DV record's id. Whether a record exists is now no answer to a query about it."""
    _ledger_it_audits(city)
    outsider = _auditor_without_grant(city)
    existing, missing = str(city["record"].pk), str(uuid.uuid4())
    for record_id in (existing, missing):
        answer = outsider.get("/api/v1/audit/events/", asked(record_id))
        assert answer.status_code == 200
        assert answer.json()["results"] == []
    mine = outsider.get("/api/v1/audit/events/", {"action": "audit.read"}).json()["results"]
    named = {e["details"]["filters"]["record"] for e in mine if "record" in e["details"]["filters"]}
    assert (existing in named) == (missing in named)
    # The city administrator sees both queries.
    everything = api("admin").get("/api/v1/audit/events/", {"action": "audit.read"}).json()
    asked_about = [e["details"]["filters"].get("record") for e in everything["results"]]
    assert existing in asked_about
    assert missing in asked_about


def test_an_auditor_cannot_tell_a_ledger_it_does_not_audit_from_no_ledger(
    api: Any, city: dict[str, Any]
) -> None:
    """The same for a ledger: one the asker has no right on is 404 to it everywhere else,
    and its own query about ``dv`` must not vanish where one about ``nope`` shows."""
    outsider = _auditor_without_grant(city)
    for code in ("dv", "nope"):
        assert outsider.get("/api/v1/audit/events/", {"ledger": code}).json()["results"] == []
    mine = outsider.get("/api/v1/audit/events/", {"action": "audit.read"}).json()["results"]
    named = {e["details"]["filters"].get("ledger") for e in mine}
    assert ("dv" in named) == ("nope" in named)


def test_a_term_typed_when_its_field_was_stricter_stays_masked_after_it_is_lowered(
    api: Any, city: dict[str, Any]
) -> None:
    """The address was special care when a clerk searched 「下連雀」 and found the record;
    the person moved, and the address was lowered to personal data later. The record's
    first generation still shows the address masked to an auditor cleared to personal data
    (the stricter of then and now), but the trail gave it 「下連雀」 with the record's id:
    the old address the history hides (found by the search-surface review of 2026-11-30).
    Terms are judged by the strictest sensitivity their field ever had, as the criteria of
    a search over every generation are."""
    clerk = api("clerk")
    searched = clerk.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"address": "下連雀"}, "reason": "転入届の確認のため"},
    )
    assert [r["id"] for r in searched.json()["results"]] == [str(city["record"].pk)]
    moved = clerk.patch(
        records_url(city["record"].pk),
        {"values": {"address": {"postal_code": "181-0011", "text": "東京都三鷹市井口二丁目3番4号"},
                    "disclosure": {"shimin": True, "shiminzei": True}}},
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert moved.status_code == 200, moved.json()
    with schema_context("mitaka"):
        field_update(
            actor=city["people"]["designer"], ledger=city["ledger"], key="address",
            changes={"sensitivity": "personal"},
        )  # fmt: skip
        user = staff("kansa5", city["departments"]["shiminzei"], Role.AUDITOR)
    auditor = Api(user)
    first = auditor.get(records_url(city["record"].pk, "versions/1/"))
    assert first.json()["values"]["address"] == {"masked": True}
    runs = auditor.get("/api/v1/audit/events/", {"ledger": "dv", "action": "search.run"})
    (run,) = runs.json()["results"]
    assert run["details"]["terms"] == {"address": {"masked": True}}
    assert run["details"]["results"] == [str(city["record"].pk)]
    assert "下連雀" not in runs.content.decode()
    # The designer, cleared for special care data, reads it as typed.
    full = api("designer").get("/api/v1/audit/events/", {"ledger": "dv", "action": "search.run"})
    assert full.json()["results"][0]["details"]["terms"] == {"address": "下連雀"}


@pytest.mark.parametrize("lowered_to", ["personal", "internal"])
def test_terms_typed_while_a_field_was_more_sensitive_stay_masked_after_it_is_lowered(
    api: Any, city: dict[str, Any], lowered_to: str
) -> None:
    """A clerk searched the DV ledger by an address (special care data then); the designer
    later lowered 現住所's sensitivity. The record's old generations keep that address
    masked for a reader cleared to personal data (the stricter of then and now); the
    audit trail showed it the typed address, with the ids it found. Typed terms are judged
    by the strictest the field ever was, as a search over every generation is."""
    clerk = api("clerk")
    searched = clerk.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"address": "下連雀"}, "reason": "転入届の確認のため"},
    )
    assert searched.status_code == 200, searched.json()
    assert clerk.get(records_url(), {"address__contains": "下連雀"}).status_code == 200
    lowered = api("designer").patch(
        "/api/v1/ledgers/dv/fields/address/", {"sensitivity": lowered_to}
    )
    assert lowered.status_code == 200, lowered.json()
    with schema_context("mitaka"):
        user = staff("kansa5", city["departments"]["shiminzei"], Role.AUDITOR)
    auditor = Api(user)  # cleared to personal data on the DV ledger
    runs = auditor.get("/api/v1/audit/events/", {"ledger": "dv", "action": "search.run"})
    (run,) = runs.json()["results"]
    assert run["details"]["terms"] == {"address": {"masked": True}}
    lists = auditor.get("/api/v1/audit/events/", {"ledger": "dv", "action": "record.list"})
    (shown,) = lists.json()["results"]
    assert shown["details"]["filters"] == {"address__contains": {"masked": True}}
    assert "下連雀" not in runs.content.decode() + lists.content.decode()


def test_a_read_of_the_trail_names_the_events_it_showed_and_the_record_it_was_about(
    api: Any, city: dict[str, Any]
) -> None:
    """The trail shows what staff typed (a name searched for) and which records they found:
    personal data, and who looked up whom. Its ``audit.read`` named the filters and a count
    only: which events a page showed (a later page's cursor is opaque) could not be told,
    and "who looked into this person" (``?record=``) never found an auditor who read that
    person's trail. It names the events of the page now, and a query about a record names
    the record."""
    record_id = str(city["record"].pk)
    clerk = api("clerk")
    for name in ("山田", "ヤマダ"):
        searched = clerk.post(
            "/api/v1/ledgers/dv/search/latest/", {"criteria": {"name": name}, "reason": "本人確認"}
        )
        assert searched.status_code == 200, searched.json()
    auditor = api("auditor")
    first = auditor.get("/api/v1/audit/events/", {"record": record_id, "page_size": 1}).json()
    second = auditor.get(first["next"]).json()
    shown = [page["results"][0]["seq"] for page in (first, second)]
    reads = api("designer").get("/api/v1/audit/events/", {"action": "audit.read", "ledger": "dv"})
    assert [
        (e["actor"], e["record_id"], e["details"]["events"]) for e in reads.json()["results"]
    ] == [
        ("auditor", record_id, [shown[0]]),
        ("auditor", record_id, [shown[1]]),
    ]
    # "Who looked this person up" finds those reads by the record's id.
    about = api("designer").get(
        "/api/v1/audit/events/", {"record": record_id, "action": "audit.read"}
    )
    assert [e["actor"] for e in about.json()["results"]] == ["auditor", "auditor"]


def test_a_read_of_the_trail_about_no_ledger_names_to_an_auditor_only_the_events_it_audits(
    api: Any, city: dict[str, Any]
) -> None:
    """A city administrator's read of a clerk's trail asks about no ledger: its
    ``audit.read`` is an event of no ledger, which every 監査担当 reads. The DV events it
    showed are not theirs to know of: its ``events`` (and ``count``) name to them only the
    events they read themselves."""
    api("clerk").get(records_url(city["record"].pk))
    auditor = _auditor_without_grant(city)
    own = auditor.get("/api/v1/audit/events/").json()["results"]  # an event of no ledger
    admin = api("admin")
    read = admin.get("/api/v1/audit/events/", {"actor": "clerk"}).json()["results"]
    dv = [e["seq"] for e in read if e["ledger"] == "dv"]
    assert dv  # the clerk's read of the DV record, among others
    mine = auditor.get("/api/v1/audit/events/", {"action": "audit.read", "actor": "admin"})
    (shown,) = mine.json()["results"]
    assert shown["details"]["events"] == [e["seq"] for e in read if e["ledger"] == ""]
    assert shown["details"]["count"] == len(shown["details"]["events"])
    assert not set(dv) & set(shown["details"]["events"])
    assert own  # the auditor's own trail reads as before
    # The administrator reads the whole of it.
    full = admin.get("/api/v1/audit/events/", {"action": "audit.read", "actor": "admin"})
    assert full.json()["results"][0]["details"]["events"] == [e["seq"] for e in read]
