"""A write whose reference names a record the writer may not see, or no record, is refused
as before (the same 400 for both, nothing written) and now leaves ``record.refused`` for
each such reference, committed although the write rolls back (found by a review: a
colleague without a grant on the DV ledger tried record ids in a link field of a ledger
they may write, and its auditors saw nothing). A reference that is fine leaves none."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from ledgers.access.services import grants_replace
from ledgers.api.idempotency.models import IdempotentRequest
from ledgers.exceptions import RecordInvalid
from ledgers.records import references
from ledgers.records.models import Record, RecordVersion
from ledgers.records.services import record_bulk_update, record_create
from tests.api.conftest import (
    HOST,
    LINK_FIELDS,
    LINKS_URL,
    Api,
    audit_events_since,
    audit_last_seq,
    links_ledger,
)

FIELDS = LINK_FIELDS
URL = LINKS_URL
EVENTS = "/api/v1/audit/events/"
MISSING = "00000000-0000-4000-8000-0000000000aa"


@pytest.fixture(params=["no_grant", "not_disclosed"])
def links(request: pytest.FixtureRequest, city: dict[str, Any]) -> dict[str, Any]:
    """A ledger ``links`` that 市民課 and 市民税課 write, and a record of it by 市民税課.
    The DV record is out of 市民税課's sight: it has no grant on the DV ledger at all, or
    (the fixture's grants) one whose record's 照会可否 says 不可 for it."""
    people = city["people"]
    with schema_context("mitaka"):
        ledger = links_ledger(people["designer"])
        if request.param == "no_grant":
            grants_replace(
                actor=people["designer"], ledger=city["ledger"],
                grants=[
                    {"department": "soumu", "capabilities": ["view", "search", "design", "audit"], "clearance": "special_care"},
                    {"department": "shimin", "capabilities": ["view", "search", "create", "update"], "clearance": "special_care"},
                    {"role": "auditor", "capabilities": ["view", "search", "audit"], "clearance": "personal"},
                ],
            )  # fmt: skip
        own = record_create(actor=people["zei"], ledger=ledger, values={"title": "住民税の相談"})
    return {"ledger": ledger, "own": own, "hidden": str(city["record"].pk)}


def _ref(record: str, ledger: str = "dv") -> dict[str, str]:
    return {"ledger": ledger, "record": record}


def _written() -> tuple[int, int, int, list[Any]]:
    """Records, versions and idempotency keys in Mitaka, and the links record's values."""
    with schema_context("mitaka"):
        return (
            Record.objects.count(),
            RecordVersion.objects.count(),
            IdempotentRequest.objects.count(),
            list(Record.objects.filter(ledger__code="links").values_list("generation", "data")),
        )


def _token(client: Api) -> dict[str, str]:
    return {"id": client.token.split("_")[1]}


#: Each write that checks the references it writes: how to send it with one reference, and
#: what its events name besides the reference.
WRITES: dict[str, tuple[Callable[[Any, dict[str, Any], dict[str, str]], Any], dict[str, Any]]] = {
    "create": (
        lambda client, links, ref: client.post(URL, {"values": {"title": "a", "case": ref}}),
        {"write": "record.create", "field": "case"},
    ),
    # With an Idempotency-Key the create runs inside the key's transaction, which rolls back
    # too: the events must not go with it.
    "create_with_key": (
        lambda client, links, ref: client.post(
            URL, {"values": {"case": ref}}, HTTP_IDEMPOTENCY_KEY=f"k-{ref['record']}"
        ),
        {"write": "record.create", "field": "case"},
    ),
    "update": (
        lambda client, links, ref: client.patch(
            f"{URL}{links['own'].pk}/",
            {"values": {"parties": [{"name": "b", "record": ref}]}},
            HTTP_IF_MATCH='"1"',
        ),
        {"write": "record.update", "field": "parties.record"},
    ),
    "bulk": (
        lambda client, links, ref: client.post(
            f"{URL}bulk/", {"records": [{"values": {"title": "c"}}, {"values": {"case": ref}}]}
        ),
        {"write": "record.create", "field": "case", "bulk": True},
    ),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_reference_out_of_sight_and_one_to_nothing_each_leave_record_refused(
    api: Any, links: dict[str, Any], write: str
) -> None:
    send, named = WRITES[write]
    zei = api("zei")
    before, written = audit_last_seq(), _written()
    hidden = send(zei, links, _ref(links["hidden"]))
    missing = send(zei, links, _ref(MISSING))
    assert hidden.status_code == missing.status_code == 400, hidden.content
    assert hidden.json()["code"] == "ERROR_RECORD_INVALID"
    # Byte for byte the same answer, the id aside.
    assert hidden.content.replace(links["hidden"].encode(), b"ID") == missing.content.replace(
        MISSING.encode(), b"ID"
    )
    assert _written() == written  # no record, version, or key; the record unchanged
    expected = {"attempted": "record.reference", "from_ledger": "links", **named}
    expected["api_token"] = _token(zei)
    assert [
        (e.actor_id, e.action, e.ledger_code, e.record_id and str(e.record_id), e.generation,
         e.details)
        for e in audit_events_since(before)
    ] == [
        (zei.user.pk, "record.refused", "dv", links["hidden"], None, {**expected, "exists": True}),
        (zei.user.pk, "record.refused", "dv", MISSING, None, {**expected, "exists": False}),
    ]  # fmt: skip
    # The DV ledger's auditors read them, found by the record's id as a direct read is.
    listed = api("auditor").get(EVENTS, {"record": links["hidden"]}).json()["results"]
    assert ("zei", "record.refused", "dv") in [
        (e["actor"], e["action"], e["ledger"]) for e in listed
    ]


def test_a_reference_in_sight_leaves_no_refusal(
    api: Any, city: dict[str, Any], links: dict[str, Any]
) -> None:
    """市民課 sees the DV record (its flag says 可): its links are written, as before, and are
    no probe; only its reference to no record is."""
    clerk = api("clerk")
    before = audit_last_seq()
    created = clerk.post(URL, {"values": {"case": _ref(links["hidden"])}})
    assert created.status_code == 201, created.content
    bulk = clerk.post(
        f"{URL}bulk/",
        {"records": [{"values": {"parties": [{"record": _ref(links["hidden"])}]}}] * 3},
    )
    assert bulk.status_code == 201, bulk.content
    refused = clerk.post(
        f"{URL}bulk/",
        {"records": [{"values": {"case": _ref(links["hidden"])}}, {"values": {"case": _ref(MISSING)}}]},
    )  # fmt: skip
    assert refused.status_code == 400
    events = audit_events_since(before)
    assert [e.action for e in events].count("record.create") == 4
    assert [(e.action, str(e.record_id)) for e in events if e.action != "record.create"] == [
        ("record.refused", MISSING)
    ]


def test_a_bulk_create_leaves_one_event_per_distinct_refused_reference(
    api: Any, links: dict[str, Any]
) -> None:
    """1,000 records naming the hidden record, no record and a text that is no id, over and
    over and in two fields: one event for each (target, id, field), in the order named, and
    nothing written."""
    zei = api("zei")
    other = str(uuid.uuid4())
    cycle = [
        {"case": _ref(links["hidden"])},
        {"case": _ref(MISSING), "parties": [{"record": _ref(links["hidden"])}]},
        {"title": "fine"},
        {"case": _ref("yamada-hanako")},
        {"parties": [{"record": _ref(other, "nope")}, {"record": _ref(links["hidden"])}]},
    ]
    records = [{"values": cycle[i % len(cycle)]} for i in range(1000)]
    before, written = audit_last_seq(), _written()
    response = zei.post(f"{URL}bulk/", {"records": records})
    assert response.status_code == 400, response.content
    assert len(response.json()["detail"]["items"]) == 800
    assert _written() == written
    events = audit_events_since(before)
    common = {"attempted": "record.reference", "write": "record.create", "from_ledger": "links",
              "bulk": True, "api_token": _token(zei)}  # fmt: skip
    assert [(e.action, e.ledger_code, e.record_id and str(e.record_id), e.details) for e in events] == [
        ("record.refused", "dv", links["hidden"], {**common, "field": "case", "exists": True}),
        ("record.refused", "dv", MISSING, {**common, "field": "case", "exists": False}),
        ("record.refused", "dv", links["hidden"], {**common, "field": "parties.record", "exists": True}),
        # A text that is no id: no id kept, nor the text (a name typed where the id goes).
        ("record.refused", "dv", None, {**common, "field": "case", "exists": False}),
        # A ledger of that code there is not: filed where only city administrators read.
        ("record.refused", "-", other, {**common, "field": "parties.record", "exists": False}),
    ]  # fmt: skip
    assert "yamada" not in str([e.details for e in events])
    assert "nope" not in str([e.details for e in events])


def test_a_request_naming_more_refused_references_than_listed_counts_the_rest(
    api: Any, links: dict[str, Any]
) -> None:
    """Each record names two ids no record has (2,000 in all): the first ``REFUSALS_LISTED``
    are events one by one, the rest one event per target ledger saying how many, so that one
    request of 2.5 MB cannot write 50,000 events."""
    ids = [str(uuid.uuid4()) for _ in range(2000)]
    records = [
        {"values": {"case": _ref(ids[2 * i]), "parties": [{"record": _ref(ids[2 * i + 1])}]}}
        for i in range(1000)
    ]
    records[999]["values"]["parties"].append({"record": _ref(str(uuid.uuid4()), "nope")})
    zei = api("zei")
    before = audit_last_seq()
    assert zei.post(f"{URL}bulk/", {"records": records}).status_code == 400
    events, listed = audit_events_since(before), references.REFUSALS_LISTED
    assert len(events) == listed + 2
    assert [str(e.record_id) for e in events[:listed]] == ids[:listed]
    assert [(e.ledger_code, e.record_id, e.details.get("omitted")) for e in events[-2:]] == [
        ("-", None, 1),
        ("dv", None, 2000 - listed),
    ]
    assert "exists" not in events[-1].details


def test_a_write_from_the_screens_leaves_it_too(
    city: dict[str, Any], links: dict[str, Any]
) -> None:
    """Signed in on the screens (a session, no token), the same write is audited alike."""
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(city["people"]["zei"])
    before, written = audit_last_seq(), _written()
    answer = browser.post(
        URL, {"values": {"case": _ref(links["hidden"])}}, content_type="application/json"
    )
    assert answer.status_code == 400, answer.content
    assert _written() == written
    (event,) = audit_events_since(before)
    assert (event.actor_id, event.action, event.ledger_code, str(event.record_id)) == (
        city["people"]["zei"].pk, "record.refused", "dv", links["hidden"],
    )  # fmt: skip
    assert event.details == {
        "attempted": "record.reference", "exists": True, "field": "case",
        "write": "record.create", "from_ledger": "links",
    }  # fmt: skip


def test_the_bulk_update_carries_its_refused_references(
    city: dict[str, Any], links: dict[str, Any]
) -> None:
    """The bulk update (no route of its own) refuses as the others do and hands its refused
    references to whoever audits them."""
    zei, own = city["people"]["zei"], links["own"]
    with schema_context("mitaka"):
        with pytest.raises(RecordInvalid) as raised:
            record_bulk_update(
                actor=zei, ledger=links["ledger"],
                changes=[(own.pk, 1, {"case": _ref(links["hidden"])})],
            )  # fmt: skip
        refusals = raised.value.refused_references
        assert Record.objects.get(pk=own.pk).generation == 1
        before = audit_last_seq()
        references.references_refused_audit(actor=zei, refusals=refusals)
        (event,) = audit_events_since(before)
    assert (event.ledger_code, str(event.record_id)) == ("dv", links["hidden"])
    assert event.details == {
        "attempted": "record.reference", "exists": True, "field": "case",
        "write": "record.update", "from_ledger": "links", "bulk": True,
    }  # fmt: skip
