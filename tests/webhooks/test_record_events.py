"""Every kind of record write queues its webhook event (through the record services)."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from ledgers.records.services import (
    record_bulk_create,
    record_bulk_update,
    record_create,
    record_delete,
    record_restore,
    record_update,
)
from ledgers.webhooks.models import WebhookDelivery
from ledgers.webhooks.services import _schedule_after_commit


def _events() -> list[tuple[str, int]]:
    return list(
        WebhookDelivery.objects.order_by("created_at", "event").values_list("event", "generation")
    )


def test_each_write_queues_its_event_once(
    city: dict[str, Any], subscribe: Any, django_capture_on_commit_callbacks: Any
) -> None:
    subscribe(
        events=[
            "record.created",
            "record.updated",
            "record.deleted",
            "record.restored",
            "record.workflow_changed",
        ]
    )
    clerk, ledger = city["people"]["clerk"], city["ledger"]
    with schema_context("mitaka"), django_capture_on_commit_callbacks() as callbacks:
        record = record_create(
            actor=clerk, ledger=ledger, values={"name": "佐藤 一郎", "disclosure": {"shimin": True}}
        )
        record = record_update(
            actor=clerk, record=record, values={"amount": 5}, expected_generation=1, state="審査中"
        )
        record = record_delete(actor=clerk, record=record, reason="重複")
        record = record_restore(actor=clerk, record=record)
        created = record_bulk_create(
            actor=clerk,
            ledger=ledger,
            values_list=[
                {"name": "鈴木", "disclosure": {"shimin": True}},
                {"name": "田中", "disclosure": {"shimin": True}},
            ],
        )
        record_bulk_update(actor=clerk, ledger=ledger, changes=[(created[0][0], 1, {"amount": 1})])
        events = _events()
    assert events == [
        ("record.created", 1), ("record.updated", 2), ("record.workflow_changed", 2),
        ("record.deleted", 3), ("record.restored", 4), ("record.created", 1), ("record.created", 1),
        ("record.updated", 2),
    ]  # fmt: skip
    # One delivery scheduling per write, after its commit.
    schedulings = [c for c in callbacks if getattr(c, "func", None) is _schedule_after_commit]
    assert len(schedulings) == 6


def test_a_failed_write_queues_nothing(city: dict[str, Any], subscribe: Any) -> None:
    import pytest

    from ledgers.exceptions import GenerationConflict

    subscribe()
    with schema_context("mitaka"):
        with pytest.raises(GenerationConflict):
            record_update(
                actor=city["people"]["clerk"],
                record=city["record"],
                values={"amount": 9},
                expected_generation=7,
            )
        assert not WebhookDelivery.objects.exists()


def test_a_bulk_create_asks_for_its_listeners_with_its_last_copy(
    city: dict[str, Any], subscribe: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The listeners of ``record.created`` come back with the bulk create's last COPY (no
    statement of their own): an active one gets a delivery per record; a disabled one, or
    one listening to other events, none."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ledgers.records import services
    from ledgers.webhooks.services import webhook_subscription_update

    monkeypatch.setattr(services, "COPY_CHUNK_MIN", 3)
    monkeypatch.setattr(services, "COPY_CHUNK_MAX", 3)
    listening = subscribe(events=["record.created"])
    disabled = subscribe(events=["record.created"])
    subscribe(events=["record.updated"])
    clerk, ledger = city["people"]["clerk"], city["ledger"]
    with schema_context("mitaka"):
        webhook_subscription_update(
            actor=city["people"]["designer"], subscription=disabled, changes={"active": False}
        )
        with django_capture_on_commit_callbacks(), CaptureQueriesContext(connection) as queries:
            created = record_bulk_create(
                actor=clerk, ledger=ledger, values_list=[{"name": f"鈴木 {i}"} for i in range(10)]
            )
        assert not [q for q in queries.captured_queries if "webhooksubscription" in q["sql"]]
        delivered = set(WebhookDelivery.objects.values_list("subscription_id", "record_id"))
    assert delivered == {(listening.pk, record_id) for record_id, _ in created}
    assert len(created) == 10
