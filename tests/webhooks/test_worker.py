"""End to end through Redis and a real Celery worker: commit → task → signed POST.

The worker thread has its own database connection, so it sees only committed data: this
module works in a city of its own whose rows are committed (the other tests roll back).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from ledgers.api.tokens.services import token_issue
from ledgers.webhooks.models import WebhookDelivery
from ledgers.webhooks.services import webhook_events_enqueue, webhook_subscription_create
from ledgers.webhooks.signing import verify_signature
from tenants.services import municipality_provision
from tests.conftest import ADMIN_PASSWORD
from tests.webhooks.conftest import Answer, Receiver, notice_ledger
from workers.audit_tasks import seal_city
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
            ledger, record, subscription = notice_ledger(module_receiver.url, note="府中の記録")
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


def test_one_citys_slow_deliveries_do_not_hold_back_another_citys_audit_sealing(
    committed: dict[str, Any],
    worker: object,
    module_receiver: Receiver,
    cities: dict[str, Any],
    django_db_blocker: Any,
) -> None:
    """Found by the cross-city review: webhook deliveries and the beat's per-city tasks
    shared one queue, taken in order by workers every city shares. One city's staff
    (here 府中市, through its own host) pointing a subscription at a receiver that answers
    slowly, then writing records, queued deliveries of up to 5 s each (thousands from one
    bulk write) ahead of every other city's audit sealing, daily anchor and key purge:
    三鷹市's chain went unsealed and unanchored for as long as the backlog lasted.
    Deliveries now have a queue of their own, which a worker takes in turn with the other."""
    burst, slow = 5, 1.5
    with django_db_blocker.unblock():
        with schema_context(SLUG):
            designer = get_user_model().objects.get(username="designer")
            webhook_subscription_create(
                actor=designer, ledger=committed["ledger"], url=module_receiver.url,
                events=["record.created"],
            )  # fmt: skip
            token = token_issue(actor=designer, user=designer, scopes=["*"]).token
        connection.set_schema_to_public()
        already = len(module_receiver.received)
        module_receiver.answer(*[Answer(delay=slow)] * burst)
        fuchu = APIClient(HTTP_HOST="fuchu.localhost")
        fuchu.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        items = [{"values": {"note": f"府中の記録{n}"}} for n in range(burst)]
        written = fuchu.post(
            "/api/v1/ledgers/notice/records/bulk/", {"records": items}, format="json"
        )
        connection.set_schema_to_public()
        assert written.status_code == 201, written.content
        assert module_receiver.wait_for(already + 1, timeout=20)  # the worker is on them
        started = time.monotonic()
        with schema_context(cities["mitaka"].slug):
            sealing = seal_city.delay()  # as the beat sends it every 30 s
        assert sealing.get(timeout=60)["schema"] == "mitaka"
        waited = time.monotonic() - started
        assert waited < 2 * slow, f"三鷹市の封印が {waited:.1f} 秒待たされた"
        assert len(module_receiver.received) < already + burst
        # The rest of 府中市's deliveries still go out.
        assert module_receiver.wait_for(already + burst, timeout=30)
