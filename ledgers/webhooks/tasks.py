"""Webhook delivery tasks: each runs in the city's schema it was sent from (``CityTask``).

Deliveries wait in the database and go to the queue a few per city at a time
(``ledgers.webhooks.dispatch``). ``deliver_due_webhooks`` leases the city's due deliveries
into its free slots, sends a task for each and makes the first try itself; each
``deliver_webhook`` gives its slot back when it ends and dispatches the city's next, to the
tail of the queue. A record write's commit, and the beat once a minute for every active
city (``deliver_due_webhooks_all_cities``), send one ``deliver_due_webhooks`` unless one
is waiting for the city already (``deliveries_kick``): it finds new deliveries, retries
that have come due (no task waits for a retry: the row says when it is due), and
deliveries whose task was lost (Redis restarted, a worker killed mid-send) once their lease
has ended.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import connection
from django_tenants.utils import schema_context
from redis.exceptions import RedisError

from daicho.caching import redis_client, redis_failed, redis_skipped
from ledgers.webhooks.dispatch import kick_key, webhook_deliveries_dispatch
from ledgers.webhooks.services import webhook_deliver
from tenants.models import Municipality
from workers.celery import CityTask, app

logger = logging.getLogger(__name__)

# A city's waiting ``deliver_due_webhooks`` is remembered this long at most: a kick whose
# message was lost holds back the next ones no longer than this (the beat's round follows).
KICK_TTL = 60


@app.task(base=CityTask, name="ledgers.webhooks.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: str, attempt: int | None = None, dispatched: bool = False) -> str:
    """Try one delivery (``attempt`` is the try this message stands for; ``dispatched``: sent
    by the city's dispatch, which leased it), then give its slot back and dispatch the
    city's next due deliveries."""
    return _deliver_then_dispatch(delivery_id, attempt, dispatched)


@app.task(base=CityTask, name="ledgers.webhooks.tasks.deliver_due_webhooks", ignore_result=True)
def deliver_due_webhooks() -> int:
    """Dispatch the city's due deliveries into its free slots and try the first here (one
    trip through the queue for a city whose slots were free, not two); returns how many."""
    _kick_clear(connection.schema_name)
    dispatched = webhook_deliveries_dispatch()
    if dispatched:
        send_dispatched(dispatched[1:])
        delivery_id, attempt = dispatched[0]
        _deliver_then_dispatch(delivery_id, attempt, True)
    return len(dispatched)


@app.task(name="ledgers.webhooks.tasks.deliver_due_webhooks_all_cities")
def deliver_due_webhooks_all_cities() -> int:
    """Beat's round: one ``deliver_due_webhooks`` for each active city that has none
    waiting; returns how many cities."""
    cities = 0
    for schema in (
        Municipality.objects.exclude(schema_name="public")
        .filter(status=Municipality.Status.ACTIVE)
        .values_list("schema_name", flat=True)
    ):
        deliveries_kick(schema)
        cities += 1
    return cities


@app.task(
    base=CityTask, name="ledgers.webhooks.tasks.schedule_webhook_deliveries", ignore_result=True
)
def schedule_webhook_deliveries(items: list[list]) -> int:
    """A fan-out message of the release before (one task per delivery): its deliveries are
    rows, due, and go through the city's dispatch like any other."""
    deliveries_kick(connection.schema_name)
    return len(items)


def _deliver_then_dispatch(delivery_id: str, attempt: int | None, dispatched: bool) -> str:
    outcome = None
    try:
        outcome = webhook_deliver(delivery_id=delivery_id, attempt=attempt, dispatched=dispatched)
    finally:
        # A try made (not skipped) found the city active a moment ago.
        tried = outcome is not None and outcome.status != "skipped"
        send_dispatched(webhook_deliveries_dispatch(finished=delivery_id, city_active=tried))
    return outcome.status


def send_dispatched(items: Sequence[tuple[str, int]]) -> None:
    """Send a task for each ``(delivery id, attempt)`` the city's dispatch leased."""
    for delivery_id, attempt in items:
        deliver_webhook.apply_async(args=[delivery_id, attempt, True])


def deliveries_kick(schema: str) -> None:
    """Send one ``deliver_due_webhooks`` into ``schema``, unless one is waiting already: a
    burst of writes queues one message for the city, not one per write. The task forgets
    it when it starts, before it reads what is due: a write committed after that sends
    another.

    Not while Redis failed this process a moment ago (``redis_skipped``): the broker is the
    same Redis, and a write's answer waited on it after its commit (a socket timeout, 5 s,
    when Redis hangs). The deliveries wait in the database for the beat's round."""
    if redis_skipped():
        logger.info("webhook kick: Redis unavailable, left to the round: city=%s", schema)
        return
    key = kick_key(schema)
    try:
        if not redis_client().set(key, "1", nx=True, ex=KICK_TTL):
            return
    except RedisError:
        redis_failed(f"webhook kick: city={schema}")
    try:
        with schema_context(schema):
            deliver_due_webhooks.delay()
    except Exception:
        _kick_clear(schema)
        raise


def _kick_clear(schema: str) -> None:
    try:
        redis_client().delete(kick_key(schema))
    except RedisError:
        logger.warning("webhook kick: Redis unavailable: city=%s", schema)
