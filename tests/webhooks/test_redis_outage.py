"""A record write while Redis fails: its deliveries wait in the database for the beat's
round (``deliver_due_webhooks_all_cities``, every minute), and the write is not held up
asking a Redis that does not answer (tests/conftest.py ``hung_redis``)."""

from __future__ import annotations

import time
from typing import Any

from django_tenants.utils import schema_context

from ledgers.webhooks.models import WebhookDelivery
from tests.api.conftest import records_url
from tests.conftest import SilentServer


def test_a_write_while_redis_hangs_leaves_its_deliveries_to_the_round(
    api: Any, subscribe: Any, hung_redis: SilentServer, django_capture_on_commit_callbacks: Any
) -> None:
    """Found by the review of degraded dependencies: a write's commit kicked the city's
    dispatch through Redis (a mark, then the broker), and against a Redis that hangs the
    answer waited out the socket timeout first (redis-py's 5 s), after the write had
    committed. Once Redis failed the process (``daicho.caching.redis_skipped``) the kick is
    left to the beat's round, which finds the delivery in the database."""
    subscription = subscribe("clerk")
    clerk = api("clerk")
    clerk.get(records_url())  # meets the hang
    sent, started = hung_redis.received, time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        created = clerk.post(records_url(), {"values": {"name": "連携 花子"}})
    assert created.status_code == 201
    assert hung_redis.received == sent
    assert time.monotonic() - started < 0.5
    with schema_context("mitaka"):
        delivery = WebhookDelivery.objects.get(
            subscription=subscription, record_id=created.json()["id"]
        )
    assert (delivery.event, delivery.status) == ("record.created", "pending")
