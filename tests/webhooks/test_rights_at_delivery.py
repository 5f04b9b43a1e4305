"""What a delivery carries is decided by the owner's rights when it is sent, a retry's
included: a record the owner may not see then is not sent at all, not even its id."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership
from ledgers.access.models import Grant
from ledgers.access.services import grant_describe, grants_replace
from ledgers.audit.models import AuditEvent
from ledgers.definitions.services import field_update
from ledgers.records.services import record_create, record_update
from ledgers.webhooks.models import WebhookDelivery
from ledgers.webhooks.services import webhook_deliver
from tests.webhooks.conftest import Answer, Receiver


def _refresh(delivery: WebhookDelivery) -> WebhookDelivery:
    with schema_context("mitaka"):
        delivery.refresh_from_db()
    return delivery


def test_a_record_out_of_the_owners_sight_is_not_sent_at_all(
    subscribe: Any, enqueue: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    """The DV record is 不可 for 市民税課: its staff must not learn that it exists (the API
    answers 404). A 市民税課 subscription was sent ``{"id", "visible": false}`` with the
    event and generation: that the person's record exists, and when it changes, reached
    the receiving system of a department it is closed to."""
    subscribe("zei")
    [delivery] = enqueue("record.updated", generation=2)
    with schema_context("mitaka"):
        outcome = webhook_deliver(delivery_id=str(delivery.pk))
    assert outcome.status == "withheld"
    assert outcome.next_attempt_at is None
    assert receiver.received == []
    delivery = _refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("withheld", 1, None)
    assert delivery.payload["visible"] is False
    with schema_context("mitaka"):
        assert not AuditEvent.objects.filter(action="webhook.deliver").exists()
        # Nothing was sent, so nothing failed: the count that switches a subscription
        # off is of dead deliveries.
        assert delivery.subscription.failure_count == 0


def _deactivate(city: dict[str, Any]) -> None:
    user = city["people"]["clerk"]
    user.is_active = False
    user.save(update_fields=["is_active"])


def _end_membership(city: dict[str, Any]) -> None:
    yesterday = timezone.localdate() - timedelta(days=1)
    Membership.objects.filter(user=city["people"]["clerk"]).update(
        valid_from=min(date(2026, 4, 1), yesterday), valid_to=yesterday
    )


def _grant_without_view(city: dict[str, Any]) -> None:
    grants = [grant_describe(g) for g in Grant.objects.filter(ledger=city["ledger"])]
    for grant in grants:
        if grant["department"] == "shimin" and not grant["role"]:
            grant["capabilities"] = [c for c in grant["capabilities"] if c != "view"]
    grants_replace(actor=city["people"]["designer"], ledger=city["ledger"], grants=grants)


def _close_disclosure(city: dict[str, Any]) -> None:
    record = city["record"]
    record.refresh_from_db()
    record_update(
        actor=city["people"]["clerk"], record=record,
        values={"disclosure": {"shimin": False, "shiminzei": False}},
        expected_generation=record.generation,
    )  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [_deactivate, _end_membership, _grant_without_view, _close_disclosure],
    ids=["owner deactivated", "membership ended", "grant lost view", "照会可否 closed"],
)
def test_a_retry_after_the_owner_lost_sight_of_the_record_sends_nothing(
    subscribe: Any,
    enqueue: Any,
    receiver: Receiver,
    city: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
) -> None:
    """The first try (the record visible to 市民課's clerk) fails; before the retry, hours
    later, the owner loses sight of the record. The retry sent its id, event and
    generation all the same."""
    subscribe("clerk")
    [delivery] = enqueue("record.updated")
    receiver.answer(Answer(status=500))
    t0 = timezone.now()
    with schema_context("mitaka"):
        first = webhook_deliver(delivery_id=str(delivery.pk), now=t0)
    assert first.status == "failed"
    assert json.loads(receiver.received[0].body)["record"]["visible"] is True

    with schema_context("mitaka"):
        change(city)
        retry = webhook_deliver(delivery_id=str(delivery.pk), now=t0 + timedelta(hours=3))
    assert retry.status == "withheld"
    assert len(receiver.received) == 1  # the first try only
    assert _refresh(delivery).status == "withheld"


def _lower_clearance(city: dict[str, Any]) -> None:
    grants = [grant_describe(g) for g in Grant.objects.filter(ledger=city["ledger"])]
    for grant in grants:
        if grant["department"] == "shiminzei" and not grant["role"]:
            grant["clearance"] = "internal"
    grants_replace(actor=city["people"]["designer"], ledger=city["ledger"], grants=grants)


def _raise_sensitivity(city: dict[str, Any]) -> None:
    field_update(
        actor=city["people"]["designer"], ledger=city["ledger"], key="name",
        changes={"sensitivity": "special_care"},
    )  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [_lower_clearance, _raise_sensitivity],
    ids=["grant's clearance lowered", "field's sensitivity raised"],
)
def test_a_retry_masks_what_the_owner_may_no_longer_read(
    subscribe: Any,
    enqueue: Any,
    receiver: Receiver,
    city: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
) -> None:
    """A retry is built afresh: a field the owner's clearance no longer reaches is masked
    in it, as in the API at that moment (a regression test of the review of 2026-11-30)."""
    subscribe("zei")  # 市民税課: the name (個人情報) but not the address (要配慮)
    with schema_context("mitaka"):
        record = record_create(
            actor=city["people"]["clerk"], ledger=city["ledger"],
            values={"name": {"kanji": "佐藤 一郎", "kana": "サトウ イチロウ"},
                    "disclosure": {"shimin": True, "shiminzei": True}},
        )  # fmt: skip
    [delivery] = enqueue("record.created", record=record)
    receiver.answer(Answer(status=500))
    t0 = timezone.now()
    with schema_context("mitaka"):
        assert webhook_deliver(delivery_id=str(delivery.pk), now=t0).status == "failed"
    assert "佐藤 一郎".encode() in receiver.received[0].body

    with schema_context("mitaka"):
        change(city)
        retry = webhook_deliver(delivery_id=str(delivery.pk), now=t0 + timedelta(hours=3))
    assert retry.status == "succeeded"
    body = receiver.received[1].body
    assert "佐藤".encode() not in body
    assert json.loads(body)["record"]["values"]["name"] == {"masked": True}
