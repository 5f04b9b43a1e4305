"""Idempotency-Key on POST records/ and records/bulk/: a retried create answers what the
first one did, never creating twice; another body under the same key is refused."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from daicho.accounts.models import Department, Membership, Role
from ledgers.api.idempotency.models import IdempotentRequest
from ledgers.api.idempotency.services import _lock_id, idempotency_purge
from ledgers.api.tokens.services import token_issue
from ledgers.audit.models import AuditEvent
from ledgers.definitions.services import ledger_create
from ledgers.records.models import Record
from tenants.services import municipality_provision
from tests.api.conftest import records_url
from workers.celery import app

BULK = records_url() + "bulk/"


def _records() -> int:
    with schema_context("mitaka"):
        return Record.objects.count()


def _bulk(names: list[str]) -> dict[str, Any]:
    return {"records": [{"values": {"name": n, "disclosure": {"shimin": True}}} for n in names]}


def test_a_retried_bulk_create_answers_the_first_ids_and_creates_nothing_more(api: Any) -> None:
    clerk = api("clerk")
    first = clerk.post(BULK, _bulk(["鈴木 一", "鈴木 二"]), HTTP_IDEMPOTENCY_KEY="job-7/row-1")
    assert first.status_code == 201, first.json()
    assert "Idempotent-Replayed" not in first
    count = _records()
    again = clerk.post(BULK, _bulk(["鈴木 一", "鈴木 二"]), HTTP_IDEMPOTENCY_KEY="job-7/row-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert _records() == count


def test_a_retried_single_create_answers_the_record_read_anew_and_audited(
    api: Any, city: dict[str, Any]
) -> None:
    clerk = api("clerk")
    body = {"values": {"name": "佐藤 花子", "disclosure": {"shimin": True}, "amount": 5}}
    first = clerk.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="a1")
    assert first.status_code == 201, first.json()
    record_id = first.json()["id"]
    count = _records()
    again = clerk.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="a1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again["ETag"] == '"1"'
    assert again.json()["id"] == record_id
    assert again.json()["values"]["amount"] == 5
    assert _records() == count
    with schema_context("mitaka"):
        # The replay showed values: a read, in the trail like any other.
        assert AuditEvent.objects.filter(
            action="record.view", record_id=record_id, actor_id=city["people"]["clerk"].pk
        ).exists()


def test_a_replay_shows_the_record_as_it_is_now(api: Any) -> None:
    clerk = api("clerk")
    body = {"values": {"name": "佐藤 花子", "disclosure": {"shimin": True}, "amount": 5}}
    record_id = clerk.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="now").json()["id"]
    changed = clerk.patch(records_url(record_id), {"values": {"amount": 6}}, HTTP_IF_MATCH='"1"')
    assert changed.status_code == 200
    again = clerk.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="now")
    assert again.status_code == 201
    assert again["ETag"] == '"2"'
    assert again.json()["generation"] == 2
    assert again.json()["values"]["amount"] == 6


def test_a_replay_for_a_caller_who_cannot_see_the_record_now_carries_no_values(
    api: Any,
) -> None:
    """市民税課 may create DV records but sees only those whose 照会可否 lets it: the first
    answer is its own write, a replay later is a read and shows nothing it may not see."""
    zei = api("zei")
    body = {"values": {"name": "佐藤 花子", "amount": 5, "disclosure": {"shiminzei": False}}}
    first = zei.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="zei-1")
    assert first.status_code == 201, first.json()
    assert zei.get(records_url(first.json()["id"])).status_code == 404
    again = zei.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="zei-1")
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["values"] == {}


@pytest.mark.parametrize(
    ("second_url", "second_body"),
    [
        (BULK, _bulk(["鈴木 一", "鈴木 三"])),  # another body
        (records_url(), {"values": {"name": "鈴木 一", "disclosure": {"shimin": True}}}),
    ],
    ids=["another-body", "another-path"],
)
def test_the_same_key_for_another_request_is_refused_and_writes_nothing(
    api: Any, second_url: str, second_body: dict[str, Any]
) -> None:
    clerk = api("clerk")
    assert clerk.post(BULK, _bulk(["鈴木 一"]), HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    count = _records()
    refused = clerk.post(second_url, second_body, HTTP_IDEMPOTENCY_KEY="k")
    assert refused.status_code == 422
    assert refused.json()["code"] == "ERROR_IDEMPOTENCY_KEY_REUSED"
    assert _records() == count


def test_keys_belong_to_one_account(api: Any) -> None:
    """Another account's request under the same key is its own."""
    first = api("clerk").post(BULK, _bulk(["鈴木 一"]), HTTP_IDEMPOTENCY_KEY="shared")
    other = api("zei").post(BULK, _bulk(["鈴木 一"]), HTTP_IDEMPOTENCY_KEY="shared")
    assert first.status_code == other.status_code == 201
    assert "Idempotent-Replayed" not in other
    assert other.json()["results"][0]["id"] != first.json()["results"][0]["id"]


def test_every_token_of_an_account_shares_its_keys(api: Any) -> None:
    first = api("clerk").post(BULK, _bulk(["鈴木 一"]), HTTP_IDEMPOTENCY_KEY="robot")
    again = api("clerk").post(BULK, _bulk(["鈴木 一"]), HTTP_IDEMPOTENCY_KEY="robot")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


@pytest.mark.parametrize(
    "key",
    ["", "two words", "x" * 256, "キー", "tab\there"],
    ids=["empty", "space", "long", "kana", "tab"],
)
def test_a_malformed_key_is_refused_before_anything_is_written(api: Any, key: str) -> None:
    count = _records()
    response = api("clerk").post(BULK, _bulk(["鈴木 一"]), HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["code"] == "ERROR_IDEMPOTENCY_KEY_INVALID"
    assert _records() == count
    with schema_context("mitaka"):
        assert not IdempotentRequest.objects.exists()


def test_a_failed_create_keeps_no_key_and_its_corrected_retry_runs(api: Any) -> None:
    clerk = api("clerk")
    count = _records()
    bad = {"records": [{"values": {"birth_date": "2020-02-30"}}]}
    failed = clerk.post(BULK, bad, HTTP_IDEMPOTENCY_KEY="fix-me")
    assert failed.status_code == 400
    with schema_context("mitaka"):
        assert not IdempotentRequest.objects.filter(key="fix-me").exists()
    fixed = clerk.post(BULK, _bulk(["鈴木 一"]), HTTP_IDEMPOTENCY_KEY="fix-me")
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed
    assert _records() == count + 1


def test_a_key_past_its_lifetime_is_a_new_request_and_is_purged(api: Any, settings: Any) -> None:
    clerk = api("clerk")
    first = clerk.post(BULK, _bulk(["鈴木 一"]), HTTP_IDEMPOTENCY_KEY="old")
    kept = clerk.post(BULK, _bulk(["鈴木 九"]), HTTP_IDEMPOTENCY_KEY="young")
    assert first.status_code == kept.status_code == 201
    with schema_context("mitaka"):
        IdempotentRequest.objects.filter(key="old").update(
            created_at=timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS, minutes=1)
        )
    count = _records()
    again = clerk.post(BULK, _bulk(["鈴木 一"]), HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.json() != first.json()
    assert _records() == count + 1
    with schema_context("mitaka"):
        IdempotentRequest.objects.filter(key="old").update(
            created_at=timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS, minutes=1)
        )
        assert idempotency_purge() == 1
        assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["young"]


def test_the_purge_runs_hourly_for_every_city() -> None:
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    entry = next(
        e for e in app.conf.beat_schedule.values() if "purge_idempotency_keys" in e["task"]
    )
    assert entry["task"] in app.tasks
    assert "ledgers.api.idempotency.tasks.purge_idempotency_keys" in app.tasks


def test_the_kept_outcome_holds_the_answer_without_values(api: Any) -> None:
    api("clerk").post(
        records_url(), {"values": {"name": "佐藤 花子", "disclosure": {"shimin": True}}},
        HTTP_IDEMPOTENCY_KEY="ids-only",
    )  # fmt: skip
    with schema_context("mitaka"):
        held = IdempotentRequest.objects.get(key="ids-only")
    assert held.status == 201
    assert set(held.result) == {"id", "generation", "state", "created_at", "updated_at", "deleted"}
    assert "佐藤" not in str(held.result)


def test_a_replay_tells_one_who_cannot_see_the_record_nothing_of_what_happened_since(
    api: Any,
) -> None:
    """Found by a review: the replay read the row past the policy and told 市民税課 that a
    record it may not see had been moved and deleted (state, generation, ETag)."""
    zei, clerk = api("zei"), api("clerk")
    body = {"values": {"name": "佐藤 花子", "disclosure": {"shiminzei": False, "shimin": True}}}
    first = zei.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="zei-2")
    record_id = first.json()["id"]
    moved = clerk.patch(
        records_url(record_id), {"values": {}, "state": "転出"}, HTTP_IF_MATCH='"1"'
    )
    assert moved.status_code == 200
    gone = clerk.delete(records_url(record_id), {"reason": "転出のため"}, HTTP_IF_MATCH='"2"')
    assert gone.status_code == 200
    again = zei.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="zei-2")
    assert again.status_code == 201
    assert again.json() == {**first.json(), "values": {}}
    assert again["ETag"] == '"1"'


def test_a_replay_to_a_token_without_records_read_reads_nothing(api: Any) -> None:
    """Found by a review: a write-only token, refused a GET, read a colleague's later values
    through a replay."""
    robot = api("clerk", scopes=["records:write"])
    body = {"values": {"name": "佐藤 花子", "disclosure": {"shimin": True}}}
    first = robot.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="robot-1")
    record_id = first.json()["id"]
    address = {"postal_code": "181-0013", "text": "東京都三鷹市下連雀一丁目2番3号"}
    changed = api("clerk").patch(
        records_url(record_id), {"values": {"address": address}}, HTTP_IF_MATCH='"1"'
    )
    assert changed.status_code == 200
    assert robot.get(records_url(record_id)).status_code == 403
    again = robot.post(records_url(), body, HTTP_IDEMPOTENCY_KEY="robot-1")
    assert again.status_code == 201
    assert again.json() == {**first.json(), "values": {}}
    assert "下連雀" not in again.content.decode()


def test_the_schema_documents_the_header(api: Any) -> None:
    schema = APIClient(HTTP_HOST="mitaka.localhost").get("/api/schema/?format=json").json()
    for path in ("/api/v1/ledgers/{code}/records/", "/api/v1/ledgers/{code}/records/bulk/"):
        parameters = schema["paths"][path]["post"]["parameters"]
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in parameters)
        responses = schema["paths"][path]["post"]["responses"]
        assert {"409", "413", "422"} <= set(responses)
        assert "Idempotent-Replayed" in responses["201"]["headers"]


# --- two retries at once -------------------------------------------------------------


@pytest.fixture(scope="module")
def committed(django_db_setup: None, django_db_blocker: Any) -> dict[str, Any]:
    """A city of its own whose ledger and token are committed, for truly concurrent requests."""
    with django_db_blocker.unblock():
        municipality_provision(
            actor=None, slug="kodaira", name="小平市", code="132110",
            domain="kodaira.localhost", admin_username="admin", admin_password="x" * 16,
        )  # fmt: skip
        with schema_context("kodaira"):
            user = get_user_model().objects.create_user(username="robot", password="x" * 12)
            Membership.objects.create(
                user=user,
                department=Department.objects.create(code="soumu", name="総務課"),
                role=Role.LEDGER_ADMIN,
                valid_from=date(2020, 4, 1),
            )
            ledger_create(
                actor=user, code="race", name="競合",
                fields=[{"key": "n", "label": "n", "type": "integer"}],
            )  # fmt: skip
            token = token_issue(actor=user, user=user, scopes=["*"]).token
        connection.set_schema_to_public()
    return {"token": token, "user_id": user.pk}


def _send(token: str, key: str, rows: int = 50) -> Any:
    client = APIClient(HTTP_HOST="kodaira.localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post(
        "/api/v1/ledgers/race/records/bulk/",
        {"records": [{"values": {"n": i}} for i in range(rows)]},
        format="json", HTTP_IDEMPOTENCY_KEY=key,
    )  # fmt: skip


def test_two_requests_with_one_key_at_once_create_once(
    committed: dict[str, Any], django_db_blocker: Any
) -> None:
    """The second either finds the first running (409, come back) or done (its replay):
    never a second set of records."""
    with django_db_blocker.unblock(), schema_context("kodaira"):
        before = Record.objects.count()
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def send() -> None:
        with django_db_blocker.unblock():
            barrier.wait(timeout=10)
            answers.append(_send(committed["token"], "at-once"))
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([201, 201], [201, 409])
    created = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a]
    assert len(created) == 1
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["code"] == "ERROR_IDEMPOTENCY_KEY_IN_PROGRESS"
            assert answer["Retry-After"] == "1"
        elif answer is not created[0]:
            assert answer.json() == created[0].json()
    with django_db_blocker.unblock(), schema_context("kodaira"):
        assert Record.objects.count() == before + 50


def test_a_retry_while_the_first_request_runs_is_told_to_come_back_not_kept_waiting(
    committed: dict[str, Any], django_db_blocker: Any
) -> None:
    """Found by a review: a retry waited on the key's unique index for as long as the first
    request ran, holding a worker and a connection. The first request is played here by
    another connection holding the key's lock."""
    with django_db_blocker.unblock():
        with schema_context("kodaira"):
            lock = _lock_id(committed["user_id"], "slow")
            before = Record.objects.count()
        holder = psycopg.connect(**_connection_params(), autocommit=True)
        try:
            holder.execute("SELECT pg_advisory_lock(%s)", [lock])
            busy = _send(committed["token"], "slow")
            assert busy.status_code == 409
            assert busy.json()["code"] == "ERROR_IDEMPOTENCY_KEY_IN_PROGRESS"
            assert busy["Retry-After"] == "1"
            with schema_context("kodaira"):
                assert Record.objects.count() == before
            holder.execute("SELECT pg_advisory_unlock(%s)", [lock])
            done = _send(committed["token"], "slow")
            assert done.status_code == 201
            assert "Idempotent-Replayed" not in done
        finally:
            holder.close()
            connection.close()


def _connection_params() -> dict[str, Any]:
    settings = connection.settings_dict
    return {
        "dbname": settings["NAME"], "user": settings["USER"], "password": settings["PASSWORD"],
        "host": settings["HOST"], "port": settings["PORT"] or 5432,
    }  # fmt: skip


def test_an_expired_key_being_taken_over_is_in_progress_whatever_the_body(
    committed: dict[str, Any], django_db_blocker: Any, settings: Any
) -> None:
    """An expired key while another request takes it over: come back (409), not "reused
    for another request" (422), which it is not any more."""
    with django_db_blocker.unblock():
        assert _send(committed["token"], "aged", rows=1).status_code == 201
        with schema_context("kodaira"):
            IdempotentRequest.objects.filter(key="aged").update(
                created_at=timezone.now()
                - timedelta(hours=settings.API_IDEMPOTENCY_HOURS, minutes=1)
            )
            lock = _lock_id(committed["user_id"], "aged")
        holder = psycopg.connect(**_connection_params(), autocommit=True)
        try:
            holder.execute("SELECT pg_advisory_lock(%s)", [lock])
            busy = _send(committed["token"], "aged", rows=2)  # another body
            assert busy.status_code == 409
            assert busy.json()["code"] == "ERROR_IDEMPOTENCY_KEY_IN_PROGRESS"
        finally:
            holder.close()
            connection.close()
