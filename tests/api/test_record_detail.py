"""GET/PATCH/DELETE /api/v1/ledgers/{code}/records/{id}/ with ETag and If-Match."""

import threading
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from daicho.accounts.models import Department, Membership, Role
from ledgers.api.tokens.services import token_issue
from ledgers.audit.models import AuditEvent
from ledgers.definitions.services import ledger_create
from ledgers.records.models import Record, RecordVersion
from ledgers.records.services import record_create
from tenants.services import municipality_provision
from tests.api.conftest import records_url
from tests.conftest import ADMIN_PASSWORD


def test_read_gives_etag_and_is_audited(api: Any, city: dict[str, Any]) -> None:
    record = city["record"]
    clerk = api("clerk")
    response = clerk.get(records_url(record.pk))
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    body = response.json()
    assert body["values"]["name"]["kanji"] == "山田 花子"
    assert body["values"]["birth_date"] == "1985-03-03"
    with schema_context("mitaka"):
        event = AuditEvent.objects.get(action="record.view", record_id=record.pk)
    assert event.generation == 1
    assert event.ledger_code == "dv"
    assert event.actor.username == "clerk"
    assert event.details == {"api_token": {"id": clerk.token.split("_")[1]}}  # what read it


def test_patch_needs_if_match_428_and_a_stale_one_is_412(api: Any, city: dict[str, Any]) -> None:
    clerk, url = api("clerk"), records_url(city["record"].pk)
    missing = clerk.patch(url, {"values": {"amount": 5}})
    assert missing.status_code == 428
    assert missing.json()["code"] == "ERROR_PRECONDITION_REQUIRED"
    ok = clerk.patch(url, {"values": {"amount": 5}, "reason": "増額"}, HTTP_IF_MATCH='"1"')
    assert ok.status_code == 200
    assert ok["ETag"] == '"2"'
    stale = clerk.patch(url, {"values": {"amount": 6}}, HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    assert stale.json()["code"] == "ERROR_GENERATION_CONFLICT"


def test_delete_needs_if_match_and_a_reason(api: Any, city: dict[str, Any]) -> None:
    clerk, url = api("clerk"), records_url(city["record"].pk)
    assert clerk.delete(url, {"reason": "誤登録"}).status_code == 428
    assert clerk.delete(url, {}, HTTP_IF_MATCH='"1"').status_code == 400
    deleted = clerk.delete(url + "?reason=重複登録", None, HTTP_IF_MATCH='"1"')
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] is True


def test_a_record_the_caller_may_not_see_is_404_like_a_missing_one(
    api: Any, city: dict[str, Any]
) -> None:
    hidden = api("zei").get(records_url(city["record"].pk))
    missing = api("zei").get(records_url("00000000-0000-4000-8000-000000000000"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    assert api("zei").get(records_url("not-a-uuid")).status_code == 404
    with schema_context("mitaka"):  # nothing was shown, so no read is recorded
        assert not AuditEvent.objects.filter(action="record.view").exists()


@pytest.fixture(scope="module")
def committed(django_db_setup: None, django_db_blocker: Any) -> dict[str, str]:
    """A city of its own whose record and token are committed, for truly concurrent requests."""
    with django_db_blocker.unblock():
        municipality_provision(
            actor=None, slug="tachikawa", name="立川市", code="132021", domain="tachikawa.localhost",
            admin_username="admin", admin_password=ADMIN_PASSWORD,
        )  # fmt: skip
        with schema_context("tachikawa"):
            user = get_user_model().objects.create_user(username="racer", password="x" * 12)
            department = Department.objects.create(code="soumu", name="総務課")
            Membership.objects.create(
                user=user,
                department=department,
                role=Role.LEDGER_ADMIN,
                valid_from=date(2020, 4, 1),
            )
            ledger = ledger_create(
                actor=user,
                code="race",
                name="競合",
                fields=[{"key": "n", "label": "n", "type": "integer"}],
            )
            record = record_create(actor=user, ledger=ledger, values={"n": 1})
            token = token_issue(actor=user, user=user, scopes=["*"]).token
        connection.set_schema_to_public()
    return {"record": str(record.pk), "token": token}


def test_two_concurrent_patches_with_the_same_etag_one_wins(
    committed: dict[str, str], django_db_blocker: Any
) -> None:
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def patch(value: int) -> None:
        with django_db_blocker.unblock():
            client = APIClient(HTTP_HOST="tachikawa.localhost")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {committed['token']}")
            barrier.wait(timeout=10)
            response = client.patch(
                f"/api/v1/ledgers/race/records/{committed['record']}/", {"values": {"n": value}},
                format="json", HTTP_IF_MATCH='"1"',
            )  # fmt: skip
            statuses.append(response.status_code)
            connection.close()

    threads = [threading.Thread(target=patch, args=(n,)) for n in (7, 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 412]


def _racer(token: str) -> APIClient:
    client = APIClient(HTTP_HOST="tachikawa.localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.parametrize(
    "pair", [("delete", "delete"), ("restore", "patch"), ("delete", "restore")]
)
def test_two_concurrent_writes_decided_on_one_generation_one_wins(
    committed: dict[str, str], django_db_blocker: Any, pair: tuple[str, str]
) -> None:
    """Two deletions, or a restore of an old generation and a change (or a deletion), both
    sent with the ETag of one generation: exactly one is written, the other is 412 and
    writes nothing (no second deletion event, no change undone by the restore unasked)."""
    with django_db_blocker.unblock():
        client = _racer(committed["token"])
        created = client.post("/api/v1/ledgers/race/records/", {"values": {"n": 1}}, format="json")
        record_id = created.json()["id"]
        url = f"/api/v1/ledgers/race/records/{record_id}/"
        changed = client.patch(url, {"values": {"n": 2}}, format="json", HTTP_IF_MATCH='"1"')
        assert changed.status_code == 200
        connection.close()
    sends = {
        "delete": lambda c: c.delete(url, {"reason": "重複登録"}, format="json", HTTP_IF_MATCH='"2"'),
        "restore": lambda c: c.post(
            f"{url}restore/", {"generation": 1, "reason": "誤入力"}, format="json",
            HTTP_IF_MATCH='"2"',
        ),
        "patch": lambda c: c.patch(url, {"values": {"n": 3}}, format="json", HTTP_IF_MATCH='"2"'),
    }  # fmt: skip
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def send(kind: str) -> None:
        with django_db_blocker.unblock():
            client = _racer(committed["token"])
            barrier.wait(timeout=10)
            statuses.append(sends[kind](client).status_code)
            connection.close()

    threads = [threading.Thread(target=send, args=(kind,)) for kind in pair]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 412]
    with django_db_blocker.unblock(), schema_context("tachikawa"):
        assert Record.objects.get(pk=record_id).generation == 3
        assert RecordVersion.objects.filter(record_id=record_id).count() == 3
        connection.set_schema_to_public()


@pytest.mark.parametrize(
    ("accept", "status", "content_type"),
    [
        (None, 200, "application/json"),
        ("*/*", 200, "application/json"),
        ("application/json", 200, "application/json"),
        ("application/json; indent=2", 200, "application/json"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", 200, "application/json"),
        ("text/html", 406, "application/json"),
    ],
)
def test_a_read_answers_json_for_what_clients_accept_and_406_for_what_it_cannot(
    api: Any, city: dict[str, Any], accept: str | None, status: int, content_type: str
) -> None:
    """JSON for what API clients send, 406 (an error body, no values) for what no renderer serves."""
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api("clerk").get(records_url(city["record"].pk), **headers)
    assert response.status_code == status
    assert response["Content-Type"] == content_type
    if status == 200:
        assert response.json()["id"] == str(city["record"].pk)
    else:
        assert response.json()["code"].startswith("ERROR_")
        assert "山田" not in response.content.decode()


def test_a_read_with_a_format_override_answers_json_or_406(api: Any, city: dict[str, Any]) -> None:
    """?format= naming a form no renderer serves is 406, as the same Accept is (DRF's 404
    read as "no such record" until 2026-11-30), with an error body and no values."""
    url = records_url(city["record"].pk)
    assert api("clerk").get(url + "?format=json").status_code == 200
    refused = api("clerk").get(url + "?format=xml")
    assert refused.status_code == 406
    assert refused.json()["code"] == "ERROR_NOT_ACCEPTABLE"
    assert "山田" not in refused.content.decode()
