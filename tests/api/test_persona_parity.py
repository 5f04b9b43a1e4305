"""One DV record, every output path, the readers the mission names: each path shows a
reader what the record's own page shows them, and leaves the read in the audit trail.

The readers: a 窓口 clerk (市民課) allowed 加害者検索 only, a colleague of 市民税課 who views
the ledger up to 庁内, the same colleague on a record 市民税課 is 不可 for, an auditor and a
ledger administrator (both of 総務課, which the 照会可否 field does not list). A path that
showed a value the record's page masks, named a record the page answers 404 for, or read
one without an event, would be the leak DESIGN.md §4 forbids ("one policy, every output");
``test_permission_matrix.py`` covers the roles within one department."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.access.services import grants_replace
from ledgers.records.services import record_create, record_update
from tests.api.conftest import ADDRESS, Api, audit_events_since, audit_last_seq, records_url

REASON = "窓口での本人確認のため"
OLD_ADDRESS = "東京都三鷹市井口二丁目1番"
NEW_ADDRESS = "東京都三鷹市大沢一丁目2番"
GRANTS = [
    {"department": "soumu", "capabilities": ["view", "search", "design", "audit"], "clearance": "special_care"},
    {"department": "shimin", "capabilities": ["search"], "search_screens": ["offender"], "clearance": "special_care"},
    {"department": "shiminzei", "capabilities": ["view", "search"], "clearance": "internal"},
    {"role": "auditor", "capabilities": ["view", "search", "audit"], "clearance": "personal"},
]  # fmt: skip


def _search(screen: str, criteria: dict[str, Any]) -> Callable[[Api, Any], Any]:
    return lambda client, _rid: client.post(
        f"/api/v1/ledgers/dv/search/{screen}/", {"criteria": criteria, "reason": REASON}
    )


#: Each output path of a record: (name, call, the action its read is audited as).
PATHS: list[tuple[str, Callable[[Api, Any], Any], str]] = [
    ("record", lambda c, rid: c.get(records_url(rid)), "record.view"),
    ("as_of", lambda c, rid: c.get(records_url(rid), {"as_of": "2100-01-01T00:00:00+09:00"}), "record.view"),
    ("versions", lambda c, rid: c.get(records_url(rid, "versions/")), "record.versions"),
    ("version", lambda c, rid: c.get(records_url(rid, "versions/1/")), "record.version_view"),
    ("diff", lambda c, rid: c.get(records_url(rid, "diff/"), {"from": 1, "to": 2}), "record.diff"),
    ("list", lambda c, _rid: c.get(records_url(), {"count": "true"}), "record.list"),
    ("latest", _search("latest", {"name": "佐藤"}), "search.run"),
    ("past", _search("past", {"name": "佐藤"}), "search.run"),
    ("offender", _search("offender", {"offenders.name": "佐藤"}), "search.run"),
]  # fmt: skip


#: The paths that name no record (a list, the search screens).
BY_SEARCH = {"list", "latest", "past", "offender"}


@pytest.fixture
def shared(city: dict[str, Any]) -> Any:
    """A second record, disclosed to 市民課 and 市民税課, whose address changed once (a
    generation 2), under the grants above; the fixture's record is 市民課's only."""
    people = city["people"]
    with schema_context("mitaka"):
        record = record_create(
            actor=people["clerk"], ledger=city["ledger"],
            values={
                "name": {"kanji": "佐藤 次子", "kana": "サトウ ツギコ"}, "birth_date": "1990-01-02",
                "address": {"postal_code": "181-0015", "text": OLD_ADDRESS}, "amount": 5,
                "disclosure": {"shimin": True, "shiminzei": True},
                "offenders": [{"name": {"kanji": "佐藤 三郎", "kana": "サトウ サブロウ"}, "relation": "配偶者"}],
            },
        )  # fmt: skip
        record = record_update(
            actor=people["clerk"], record=record, expected_generation=1,
            values={"address": {"postal_code": "181-0015", "text": NEW_ADDRESS}},
        )  # fmt: skip
        grants_replace(actor=people["designer"], ledger=city["ledger"], grants=GRANTS)
    return record


def _named(event: Any, record_id: str) -> bool:
    """Whether an audit event names the record (as its subject, or among those shown)."""
    details = event.details or {}
    shown = [*details.get("records", []), *details.get("results", [])]
    return str(event.record_id) == record_id or record_id in shown


@pytest.mark.parametrize(
    ("who", "hidden"),
    [
        # 窓口: 加害者検索 shows the victim's name, never an address nor a birth date.
        ("clerk", [ADDRESS, OLD_ADDRESS, NEW_ADDRESS, "1990-01-02", "1985-03-03", "大沢", "井口"]),
        # 市民税課 up to 庁内: names, birth dates and addresses are masked on the record's page.
        ("zei", [ADDRESS, OLD_ADDRESS, NEW_ADDRESS, "1990-01-02", "次子", "三郎", "花子", "大沢"]),
        # 総務課 is off the 照会可否 list: no record at all, whatever the clearance.
        ("auditor", [ADDRESS, OLD_ADDRESS, NEW_ADDRESS, "次子", "花子", "1990-01-02"]),
        ("designer", [ADDRESS, OLD_ADDRESS, NEW_ADDRESS, "次子", "花子", "1990-01-02"]),
    ],
)
def test_every_output_path_shows_what_the_record_page_shows(
    api: Any, city: dict[str, Any], shared: Any, who: str, hidden: list[str]
) -> None:
    client = api(who)
    closed = str(city["record"].pk)  # 市民課's only: 市民税課 and 総務課 are 不可
    for record_id in (str(shared.pk), closed):
        for name, call, action in PATHS:
            since = audit_last_seq()
            answer = call(client, record_id)
            text = answer.content.decode()
            for secret in hidden:
                assert secret not in text, (who, name, record_id, secret)
            if who != "clerk":
                # The clerk finds 市民課's record through 加害者検索; nobody else may learn of it.
                assert closed not in text, (who, name)
            events = [e for e in audit_events_since(since) if e.actor_id == client.user.pk]
            if answer.status_code == 200 and record_id in text:
                # A path that showed the record left its read, naming it, in the trail.
                assert any(e.action == action and _named(e, record_id) for e in events), (
                    who, name, [e.action for e in events],
                )  # fmt: skip
            elif answer.status_code in (403, 404) and name not in BY_SEARCH:
                # A refused read by id is a probe the ledger's auditors see.
                assert [e.action for e in events] == ["record.refused"], (who, name)


def test_the_colleague_reads_the_shared_record_masked_alike_on_every_path(
    api: Any, shared: Any
) -> None:
    """市民税課 (庁内) sees the record's 庁内 values and the same masks on each path."""
    zei = api("zei")
    page = zei.get(records_url(shared.pk)).json()["values"]
    assert page["amount"] == 5
    assert page["name"] == page["address"] == page["birth_date"] == {"masked": True}
    listed = zei.get(records_url()).json()["results"]
    assert [r["values"] for r in listed] == [page]
    old = zei.get(records_url(shared.pk, "versions/2/")).json()["values"]
    assert old == page
    changes = zei.get(records_url(shared.pk, "diff/"), {"from": 1, "to": 2}).json()["changes"]
    assert changes == {"address": {"from": {"masked": True}, "to": {"masked": True}}}
