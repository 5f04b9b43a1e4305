"""End to end through Redis and a real Celery worker: commit → task → signed POST.

The worker thread has its own database connection, so it sees only committed data: this
module works in a city of its own whose rows are committed (the other tests roll back).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.access.services import grants_replace
from ledgers.definitions.services import ledger_create
from ledgers.records.services import record_create
from ledgers.webhooks.models import WebhookDelivery
from ledgers.webhooks.services import webhook_events_enqueue, webhook_subscription_create
from ledgers.webhooks.signing import verify_signature
from tenants.services import municipality_provision
from tests.conftest import ADMIN_PASSWORD
from tests.webhooks.conftest import Receiver
from workers.celery import app

SLUG = "fuchu"


@pytest.fixture(scope="module")
def module_receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module")
def committed(
    django_db_setup: None, django_db_blocker: Any, module_receiver: Receiver
) -> dict[str, Any]:
    with django_db_blocker.unblock():
        municipality_provision(
            actor=None, slug=SLUG, name="府中市", code="132063", domain="fuchu.localhost",
            admin_username="admin", admin_password=ADMIN_PASSWORD,
        )  # fmt: skip
        with schema_context(SLUG):
            designer = get_user_model().objects.create_user(username="designer", password="x" * 12)
            department = Department.objects.create(code="soumu", name="総務課")
            Membership.objects.create(
                user=designer, department=department, role=Role.LEDGER_ADMIN,
                valid_from=date(2020, 4, 1),
            )  # fmt: skip
            ledger = ledger_create(
                actor=designer, code="notice", name="通知台帳",
                fields=[{"key": "note", "label": "備考", "type": "text"}],
            )  # fmt: skip
            grants_replace(
                actor=designer, ledger=ledger,
                grants=[{"department": "soumu", "capabilities": ["view", "create", "design"],
                         "clearance": "special_care"}],
            )  # fmt: skip
            record = record_create(actor=designer, ledger=ledger, values={"note": "府中の記録"})
            subscription = webhook_subscription_create(
                actor=designer, ledger=ledger, url=module_receiver.url, events=["record.updated"]
            )
        connection.set_schema_to_public()
    return {"ledger": ledger, "record": record, "subscription": subscription}


@pytest.fixture(scope="module")
def worker(committed: dict[str, Any]) -> Iterator[object]:
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False) as running:
        yield running


def test_a_committed_write_is_delivered_by_the_worker_and_a_rolled_back_one_is_not(
    committed: dict[str, Any], worker: object, module_receiver: Receiver, django_db_blocker: Any
) -> None:
    ledger, record = committed["ledger"], committed["record"]

    class Boom(Exception):
        pass

    def write_then_fail() -> None:
        with transaction.atomic():
            webhook_events_enqueue(ledger=ledger, event="record.updated", records=[(record.pk, 7)])
            raise Boom

    with django_db_blocker.unblock():
        with schema_context(SLUG):
            with pytest.raises(Boom):
                write_then_fail()
            with transaction.atomic():
                webhook_events_enqueue(
                    ledger=ledger, event="record.updated", records=[(record.pk, 8)]
                )
        # The worker (its own connection, the city's schema from the message) sends it.
        assert module_receiver.wait_for(1, timeout=20)
        with schema_context(SLUG):
            [delivery] = WebhookDelivery.objects.all()
            # The receiver answered; the worker records the answer just after.
            for _ in range(100):
                delivery.refresh_from_db()
                if delivery.status == "succeeded":
                    break
                time.sleep(0.05)
        connection.set_schema_to_public()

    [got] = module_receiver.received
    payload = json.loads(got.body)
    assert payload["generation"] == 8
    assert payload["record"]["values"] == {"note": "府中の記録"}
    assert got.headers["X-Daicho-Delivery"] == str(delivery.pk)
    assert verify_signature(
        committed["subscription"].secret, got.headers["X-Daicho-Timestamp"], got.body,
        got.headers["X-Daicho-Signature"],
    )  # fmt: skip
    assert delivery.status == "succeeded"
    assert delivery.generation == 8
