"""What a write answers: values only to one who may read them, and a PATCH that changes
nothing is a read, audited as one (found by a review of the Idempotency-Key change)."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from tests.api.conftest import ADDRESS, records_url


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
    answer = api("clerk").patch(records_url(record.pk), {"values": {}}, HTTP_IF_MATCH='"1"')
    assert answer.status_code == 200
    assert answer.json()["values"]["address"]["text"] == ADDRESS
    assert answer.json()["generation"] == 1
    assert _views(record.pk) == [
        {"actor_id": city["people"]["clerk"].pk, "generation": 1, "details": {"via": "patch"}}
    ]


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
