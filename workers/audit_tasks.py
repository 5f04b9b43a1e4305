"""Audit chain tasks: sealing every 30 s and anchoring daily, fanned out per city.

The fan-out tasks run on public (beat) and send one task per city from inside that
city's context, so tenant-schemas-celery runs it in the city's schema. Each per-city task
calls one service. A city has at most one sealing task waiting (``seal_waiting_key``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context
from redis.exceptions import RedisError

from daicho.caching import redis_client
from ledgers.audit.exceptions import AnchorLockUnavailable
from ledgers.audit.services import audit_anchor, audit_seal
from tenants.models import Municipality
from workers.celery import CityTask, app

logger = logging.getLogger(__name__)

# How long a city's waiting ``seal_city`` holds back the next rounds' at most: a message
# lost on its way (a worker of the release before refusing it) delays the city's sealing
# no longer than this; one still waiting after it is joined by one more.
SEAL_WAITING_TTL = 300
# A daily anchor that fails (object storage or the database not answering) is tried again
# this many times, after 60 s, 120 s, 240 s … each wait at most ANCHOR_RETRY_MAX (an ETA
# longer than the broker's visibility timeout, an hour, would be delivered twice): about
# two hours in all. ``AUDIT_ANCHOR_RETRY_SECONDS`` overrides the first wait (tests).
ANCHOR_RETRIES = 8
ANCHOR_RETRY_SECONDS = 60
ANCHOR_RETRY_MAX = 1800


def seal_waiting_key(schema: str) -> str:
    """The Redis key that says a ``seal_city`` of ``schema`` is waiting in the queue."""
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:audit:seal-waiting:{schema}"


def _cities() -> list[Municipality]:
    # Suspended cities too: suspension stops access, not the protection of what was recorded.
    return list(Municipality.objects.exclude(schema_name="public").order_by("schema_name"))


@app.task(base=CityTask, name="workers.audit_tasks.seal_city")
def seal_city() -> dict[str, object]:
    """Seal the city's pending audit events (skipped if a pass is already running)."""
    # Forgotten before the pass reads what is pending: an event committed after that
    # start is left to the next round's task, which the beat may now send.
    _seal_waiting_clear(connection.schema_name)
    return {"schema": connection.schema_name, "sealed": audit_seal(wait=False)}


@app.task(
    base=CityTask, bind=True, name="workers.audit_tasks.anchor_city", max_retries=ANCHOR_RETRIES
)
def anchor_city(self: Any) -> dict[str, object]:
    """Anchor the city's chain head in public and in object storage; tried again, later each
    time, if it fails (once a day: a day without its anchor widens the window in which the
    newest events could be rewritten unseen). The try is sent from the city's schema, so it
    runs there. A lock the storage cannot give (``AnchorLockUnavailable``) is configuration,
    not a moment's failure: it is not tried again."""
    try:
        anchor = audit_anchor(actor=None)
    except AnchorLockUnavailable:
        raise
    except Exception as exc:
        first = float(getattr(settings, "AUDIT_ANCHOR_RETRY_SECONDS", ANCHOR_RETRY_SECONDS))
        wait = min(first * 2**self.request.retries, ANCHOR_RETRY_MAX)
        logger.warning(
            "audit anchor: schema=%s failed (%s), try %s of %s in %ss",
            connection.schema_name, type(exc).__name__, self.request.retries + 1,
            ANCHOR_RETRIES, wait,
        )  # fmt: skip
        raise self.retry(exc=exc, countdown=wait) from exc
    return {"schema": connection.schema_name, "position": anchor.position}


@app.task(name="workers.audit_tasks.seal_all_cities")
def seal_all_cities() -> int:
    """Beat (every 30 s): one sealing task for each city that has none waiting; returns
    how many were sent.

    Without the check a round sent every city one more whether or not the one before had
    run: with the workers slower than the beat (webhook tries of up to ``WEBHOOK_DEADLINE``
    taken in turn with this queue) the queue grew by a message per city per round, without
    end, in the Redis every city shares. A pass seals everything pending, so one waiting
    task per city loses nothing."""
    sent = 0
    for city in _cities():
        if not _seal_waiting_set(city.schema_name):
            continue
        try:
            with tenant_context(city):
                seal_city.delay()
        except Exception:
            _seal_waiting_clear(city.schema_name)
            raise
        sent += 1
    return sent


def _seal_waiting_set(schema: str) -> bool:
    """Mark ``schema``'s sealing as waiting; False if it was already. If Redis does not
    answer, True: the task is sent (the broker is the same Redis and will likely refuse it)."""
    try:
        return bool(redis_client().set(seal_waiting_key(schema), "1", nx=True, ex=SEAL_WAITING_TTL))
    except RedisError:
        logger.warning("audit seal: Redis unavailable: schema=%s", schema)
        return True


def _seal_waiting_clear(schema: str) -> None:
    try:
        redis_client().delete(seal_waiting_key(schema))
    except RedisError:
        logger.warning("audit seal: Redis unavailable: schema=%s", schema)


@app.task(name="workers.audit_tasks.anchor_all_cities")
def anchor_all_cities() -> int:
    """Beat (daily at 00:05 in Japan, 15:05 UTC): one anchoring task per city; returns how many."""
    sent = 0
    for city in _cities():
        with tenant_context(city):
            anchor_city.delay()
        sent += 1
    return sent
