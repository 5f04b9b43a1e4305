"""Webhook delivery tasks: each runs in the city's schema it was sent from (``CityTask``).

A delivery's next try is a task with an ETA of at most ``MAX_HOP``: with Redis as the
broker, a message held longer than the visibility timeout (1 h) would be handed out again,
so a 6-hour backoff travels as a few hops, each checking whether the delivery is due.
``deliver_due_webhooks`` (beat, once a minute per city) picks up deliveries whose task
was lost (broker down at commit time, worker killed mid-send).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils import timezone
from django_tenants.utils import tenant_context

from ledgers.webhooks.selectors import webhook_deliveries_due
from ledgers.webhooks.services import webhook_deliver
from tenants.models import Municipality
from workers.celery import CityTask, app

logger = logging.getLogger(__name__)

MAX_HOP = timedelta(minutes=20)
# More deliveries than this at once go through one fan-out task per chunk, so that a bulk
# write's commit does not wait on thousands of broker round trips.
FAN_OUT_AT = 20
CHUNK = 500
# A delivery still due this long after its time has lost its task.
SWEEP_GRACE = timedelta(minutes=2)


@app.task(base=CityTask, name="ledgers.webhooks.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: str, attempt: int | None = None) -> str:
    """Try one delivery (``attempt`` is the try this message stands for); schedule the next."""
    outcome = webhook_deliver(delivery_id=delivery_id, attempt=attempt)
    if outcome.next_attempt_at is not None:
        schedule_delivery(delivery_id, attempt=outcome.attempts + 1, at=outcome.next_attempt_at)
    return outcome.status


@app.task(
    base=CityTask, name="ledgers.webhooks.tasks.schedule_webhook_deliveries", ignore_result=True
)
def schedule_webhook_deliveries(items: list[list]) -> int:
    """Fan-out: one ``deliver_webhook`` task per ``[delivery id, attempts so far]``."""
    for delivery_id, attempts in items:
        schedule_delivery(str(delivery_id), attempt=int(attempts) + 1)
    return len(items)


@app.task(base=CityTask, name="ledgers.webhooks.tasks.deliver_due_webhooks", ignore_result=True)
def deliver_due_webhooks() -> int:
    """Re-send the city's deliveries that are overdue (their task was lost)."""
    items = webhook_deliveries_due(before=timezone.now() - SWEEP_GRACE)
    schedule_deliveries(items)
    return len(items)


@app.task(name="ledgers.webhooks.tasks.deliver_due_webhooks_all_cities")
def deliver_due_webhooks_all_cities() -> int:
    """Beat's fan-out: one ``deliver_due_webhooks`` per active city; returns how many."""
    sent = 0
    for city in Municipality.objects.exclude(schema_name="public").filter(
        status=Municipality.Status.ACTIVE
    ):
        with tenant_context(city):
            deliver_due_webhooks.delay()
        sent += 1
    return sent


def schedule_delivery(delivery_id: str, *, attempt: int, at: datetime | None = None) -> None:
    """Send the task for try ``attempt`` of a delivery, now or (hop by hop) at ``at``."""
    now = timezone.now()
    if at is not None and at > now:
        deliver_webhook.apply_async(args=[delivery_id, attempt], eta=min(at, now + MAX_HOP))
    else:
        deliver_webhook.apply_async(args=[delivery_id, attempt])


def schedule_deliveries(items: Sequence[tuple[str, int]]) -> None:
    """Send the first (or next) try of each ``(delivery id, attempts so far)`` now."""
    if len(items) <= FAN_OUT_AT:
        for delivery_id, attempts in items:
            schedule_delivery(delivery_id, attempt=attempts + 1)
        return
    for start in range(0, len(items), CHUNK):
        chunk = [[delivery_id, attempts] for delivery_id, attempts in items[start : start + CHUNK]]
        schedule_webhook_deliveries.delay(chunk)
    logger.info("webhook fan-out: deliveries=%s", len(items))
