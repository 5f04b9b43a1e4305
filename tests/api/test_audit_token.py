"""Every audit event written while a request acts with an API token names the token
(``details["api_token"]``, ``ledgers.audit.context``).

A token acts as its owner, and the trail named the staff member only: an auditor could not
tell what a server operator's token (``manage.py issue_api_token``) did from what the staff
member did themself, nor which of a staff member's tokens did it. The event now names the
token by its public id (the prefix its owner and the city's administrators see listed),
and its origin when its owner did not issue it; never its secret. Screens (a session) are
unchanged.
"""

from __future__ import annotations

import re
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from ledgers.api.tokens.models import ApiToken
from ledgers.audit.context import audit_token, audit_token_scope, audit_token_set
from ledgers.audit.services import AuditEntry, audit_record_many, audit_verify
from ledgers.management.commands.issue_api_token import COMMAND
from ledgers.records.models import Record
from ledgers.records.services import record_bulk_update
from tests.api.conftest import HOST, audit_events_since, audit_last_seq, records_url

REPO_ROOT = Path(__file__).resolve().parents[2]
# A record the clerk (市民課) may see: its department is on the 照会可否 list.
VALUES = {"name": {"kanji": "佐藤 一郎", "kana": "サトウ イチロウ"}, "disclosure": {"shimin": True}}


def _operator_token(username: str) -> tuple[APIClient, str]:
    """A token a server operator issued for ``username`` with ``issue_api_token``."""
    out = StringIO()
    call_command(
        "issue_api_token", "--schema", "mitaka", "--username", username, "--scopes", "*",
        stdout=out,
    )  # fmt: skip
    token = out.getvalue().strip()
    client = APIClient(HTTP_HOST=HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client, token.split("_")[1]


def _every_writer(client: Any, city: dict[str, Any]) -> set[str]:
    """Through ``client``, an act of every kind that writes its audit event its own way
    (``audit_record``, a statement writing record and event at once, the bulk create's
    trigger, a search's statement, a refused read); the actions written."""
    created = client.post(records_url(), {"values": VALUES}, format="json")
    assert created.status_code == 201
    record_id = created.json()["id"]
    assert client.get(records_url(record_id)).status_code == 200  # record.view
    changed = client.patch(
        records_url(record_id), {"values": {"amount": 5}, "reason": "更新"}, format="json",
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert changed.status_code == 200
    assert client.get(records_url()).status_code == 200  # record.list
    bulk = client.post(
        records_url() + "bulk/", {"records": [{"values": VALUES}] * 3}, format="json"
    )
    assert bulk.status_code == 201
    found = client.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"name": "佐藤"}, "reason": "窓口での本人確認のため"}, format="json",
    )  # fmt: skip
    assert found.status_code == 200
    assert client.get(records_url(uuid.uuid4())).status_code == 404  # record.refused
    assert client.get(records_url("not-an-id")).status_code == 404  # record.refused, no query
    deleted = client.delete(
        records_url(record_id) + "?reason=誤登録", HTTP_IF_MATCH='"2"'
    )  # fmt: skip
    assert deleted.status_code in {200, 204}
    restored = client.post(
        records_url(record_id, "restore/"), {"generation": 2}, format="json", HTTP_IF_MATCH='"3"'
    )
    assert restored.status_code == 200
    return {
        "record.create", "record.view", "record.update", "record.list", "search.run",
        "record.refused", "record.delete", "record.restore",
    }  # fmt: skip


def test_every_event_through_an_operators_token_names_it_and_its_origin(
    city: dict[str, Any],
) -> None:
    client, prefix = _operator_token("clerk")
    before = audit_last_seq()
    actions = _every_writer(client, city)
    events = audit_events_since(before)
    assert {e.action for e in events} == actions
    clerk = city["people"]["clerk"]
    for event in events:
        assert event.actor_id == clerk.pk, event.action  # the staff member, as before
        assert event.details["api_token"] == {"id": prefix, "issued_via": COMMAND}, event.action
    # The bulk create's trigger wrote one event per record, each naming it.
    bulk = [e for e in events if e.action == "record.create" and e.details.get("bulk")]
    assert len(bulk) == 3
    # Never the secret.
    with schema_context("mitaka"):
        secret_hash = ApiToken.objects.get(prefix=prefix).key_hash
    assert all(secret_hash not in str(e.details) for e in events)


def test_an_event_through_the_staff_members_own_token_names_the_token(
    api: Any, city: dict[str, Any]
) -> None:
    clerk = api("clerk")
    prefix = clerk.token.split("_")[1]
    before = audit_last_seq()
    assert clerk.get(records_url(city["record"].pk)).status_code == 200
    (event,) = audit_events_since(before)
    assert event.action == "record.view"
    assert event.details == {"api_token": {"id": prefix}}


def test_a_screens_act_names_no_token_even_after_a_token_on_the_same_thread(
    api: Any, city: dict[str, Any]
) -> None:
    """A session's request served by the thread that just served a token's names none: the
    token is the request's, not the thread's (``ApiTokenAuditScopeMiddleware``); nor does
    code run after the request (a service called directly)."""
    api("clerk").get(records_url(city["record"].pk))
    assert audit_token() is None
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(city["people"]["clerk"])
    before = audit_last_seq()
    assert browser.get(records_url(city["record"].pk)).status_code == 200
    assert browser.get(records_url()).status_code == 200
    events = audit_events_since(before)
    assert [e.action for e in events] == ["record.view", "record.list"]
    assert all("api_token" not in e.details for e in events)


def test_the_chain_verifies_and_the_auditor_reads_the_token(api: Any, city: dict[str, Any]) -> None:
    client, prefix = _operator_token("clerk")
    _every_writer(client, city)
    result = audit_verify(schema="mitaka")
    assert result.ok, result.reason
    out = StringIO()
    call_command("audit_verify", "--schema", "mitaka", stdout=out)
    assert out.getvalue().startswith("OK ")
    listed = api("auditor").get("/api/v1/audit/events/", {"actor": "clerk", "action": "record."})
    assert listed.status_code == 200
    named = [e for e in listed.json()["results"] if "api_token" in e["details"]]
    assert {e["action"] for e in named} >= {"record.create", "record.view", "record.update"}
    assert all(e["details"]["api_token"] == {"id": prefix, "issued_via": COMMAND} for e in named)
    assert api("auditor").post("/api/v1/audit/verify/").json()["ok"] is True


@pytest.mark.parametrize("issued_via", ["", COMMAND])
def test_the_writers_no_request_of_the_api_reaches_name_the_token_too(
    city: dict[str, Any], issued_via: str
) -> None:
    """``audit_record_many`` and the bulk update (imports) read the same request scope."""
    with schema_context("mitaka"):
        token = ApiToken(prefix="0a1b2c3d4e5f", issued_via=issued_via)
        expected = {"id": "0a1b2c3d4e5f", **({"issued_via": issued_via} if issued_via else {})}
        record = city["record"]
        before = audit_last_seq()
        with audit_token_scope():
            audit_token_set(token)
            audit_record_many(
                actor=city["people"]["clerk"],
                entries=[AuditEntry(action="record.export", ledger_code="dv", details={"n": 1})],
            )
            record_bulk_update(
                actor=city["people"]["clerk"], ledger=city["ledger"],
                changes=[(record.pk, record.generation, {"amount": 7})], reason="一括",
            )  # fmt: skip
        assert audit_token() is None
        events = audit_events_since(before)
        assert [e.action for e in events] == ["record.export", "record.update"]
        assert events[0].details == {"n": 1, "api_token": expected}
        assert events[1].details == {"bulk": True, "api_token": expected}
        assert Record.objects.get(pk=record.pk).data["amount"] == 7
        with connection.cursor() as cursor:  # nothing of the scope is left in the database
            cursor.execute("SELECT current_setting('daicho.bulk_create', true)")
            assert cursor.fetchone()[0] in {None, ""}


#: Every place that writes audit events, reviewed to name the request's API token: each
#: reads ``ledgers.audit.context`` (``audit_record``/``audit_record_many``, the statements
#: sending ``audit_details_json``) or, for the bulk create's trigger, gets it in its batch.
REVIEWED_WRITERS = {
    "ledgers/audit/services.py": 2,  # audit_record, audit_record_many
    "ledgers/records/services.py": 3,  # create, update, bulk update (bulk create: trigger)
    "ledgers/search/services.py": 1,  # search.run with its search
    "ledgers/access/policy.py": 2,  # record.refused, record.view with the read
    "ledgers/records/references.py": 1,  # record.refused of a write's references
}
_WRITES_EVENTS = re.compile(r"(INSERT INTO|COPY) ledgers_auditevent\b")


def test_every_writer_of_audit_events_is_one_that_names_the_token() -> None:
    """A new statement that writes ``ledgers_auditevent`` itself must send its details
    through ``audit_details_json`` (then be added here): its events would otherwise not
    name the token of the request."""
    found: dict[str, int] = {}
    for package in ("ledgers", "platform", "tenants", "workers", "template_market"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            count = len(_WRITES_EVENTS.findall(path.read_text(encoding="utf-8")))
            if count:
                found[str(path.relative_to(REPO_ROOT))] = count
    assert found == REVIEWED_WRITERS
