"""Each city's share of the webhook workers: deliveries leave the database a few at a time.

Every city's deliveries go through one queue (``WEBHOOK_QUEUE``) to the same workers. Sent
as one message per delivery at write time, one city's bulk import (50,000 records: 50,000
deliveries per subscription) or receivers that answer slowly (a try may last
``WEBHOOK_DEADLINE``) put every other city's deliveries behind its backlog for as long as
it lasted: a noisy neighbour that any city of a shared 自治体クラウド could be to all the
others, deliberately or not.

The database is the queue. A delivery row waits there until ``webhook_deliveries_dispatch``
hands it to Celery, and a city has at most ``WEBHOOK_CITY_CONCURRENCY`` deliveries handed
out (in the queue or being sent) at once: its *slots*, a sorted set in Redis of delivery
ids scored by the end of their lease (``WEBHOOK_DISPATCH_LEASE``), which the dispatch also
writes on the row (``dispatched_until``), so that the row is not handed out twice. A slot
not given back by then (its worker died, Redis lost the message or restarted) is taken
back by the next dispatch, and the row is due again with it, in its place (the oldest
first): nothing rests on Redis keeping anything. Each delivery task gives its slot back when it ends and dispatches the
city's next due deliveries, to the tail of the queue: the queue holds at most a few
messages of each busy city and takes the busy cities in turn, so another city's new
delivery waits behind those few, not behind a backlog.

Within a city the slots go round its subscriptions, the least recently served first: one
subscription's backlog (a slow receiver, a bulk import into one ledger) does not hold
back the city's other subscriptions either.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from daicho.caching import redis_client
from daicho.tenancy.guard import require_tenant
from ledgers.webhooks.services import city_suspended, dispatch_lease

logger = logging.getLogger(__name__)

# Default of WEBHOOK_CITY_CONCURRENCY.
CITY_CONCURRENCY = 2
# How long the rotation of a city's subscriptions is remembered when it sends nothing.
ROTATION_TTL = 86400
# Due deliveries one dispatch considers at most: the script that admits them runs inside
# Redis, which every city shares, and a city may have many ledgers of 20 subscriptions
# each. Beyond this many, the subscriptions whose oldest due delivery is oldest come in.
CANDIDATES = 64

# Each active subscription's due deliveries, oldest first and at most as many as a city
# may have in flight, locked (those another dispatch holds are passed by): the subscriptions
# whose oldest due delivery is oldest come first. Deliveries of one write can share their
# time: then their creation (and the id) orders them, so that a delivery keeps its place
# when its row is updated (a lease updated without room on its page moved it behind the
# others of its time).
# webhook_delivery_open_sub_idx finds them without reading a subscription's past
# deliveries, or a paused one's backlog.
_DUE_SQL = """
SELECT d.subscription_id, d.id, d.attempts
FROM ledgers_webhooksubscription s
CROSS JOIN LATERAL (
    SELECT d.id, d.subscription_id, d.attempts, d.next_attempt_at, d.created_at
    FROM ledgers_webhookdelivery d
    WHERE d.subscription_id = s.id AND d.status IN ('pending', 'failed')
        AND d.next_attempt_at <= %(now)s
        AND (d.dispatched_until IS NULL OR d.dispatched_until <= %(now)s)
    ORDER BY d.next_attempt_at, d.created_at, d.id
    LIMIT %(each)s
    FOR UPDATE OF d SKIP LOCKED
) d
WHERE s.active
ORDER BY min(d.next_attempt_at) OVER (PARTITION BY d.subscription_id), d.subscription_id,
    d.next_attempt_at, d.created_at, d.id
LIMIT %(candidates)s
"""

_LEASE_SQL = """
UPDATE ledgers_webhookdelivery SET dispatched_until = %(until)s WHERE id = ANY(%(ids)s::uuid[])
"""

# Give back one slot and fill the free ones, atomically (two dispatches of a city at once
# cannot both take its last slot). KEYS: the city's slots (delivery id -> end of its
# lease, seconds), when each of its subscriptions was last served (microseconds). ARGV:
# now, the new leases' end, how many slots, seconds to keep each key, the delivery whose
# slot is given back ('' for none), then (subscription, delivery) pairs, each
# subscription's oldest first. Subscriptions are served in rounds, the least recently
# served first. A delivery holding a slot already (its row was not leased: the
# dispatch's transaction failed after it was admitted) is admitted again in its own slot.
_ADMIT = """
local slots, served = KEYS[1], KEYS[2]
local now, lease_end, capacity = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
if ARGV[6] ~= '' then
    redis.call('ZREM', slots, ARGV[6])
end
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
local free = capacity - redis.call('ZCARD', slots)
local order, queues, position, last = {}, {}, {}, {}
for i = 7, #ARGV - 1, 2 do
    local subscription = ARGV[i]
    if queues[subscription] == nil then
        queues[subscription] = {}
        order[#order + 1] = subscription
        position[subscription] = #order
        last[subscription] = tonumber(redis.call('HGET', served, subscription) or '0')
    end
    table.insert(queues[subscription], ARGV[i + 1])
end
table.sort(order, function(a, b)
    if last[a] ~= last[b] then
        return last[a] < last[b]
    end
    return position[a] < position[b]
end)
local admitted = {}
local stamp = math.floor(now * 1000000)
local round, more = 1, true
while more do
    more = false
    for _, subscription in ipairs(order) do
        local delivery = queues[subscription][round]
        if delivery ~= nil then
            more = true
            local held = redis.call('ZSCORE', slots, delivery)
            if held or free > 0 then
                if not held then
                    free = free - 1
                end
                redis.call('ZADD', slots, lease_end, delivery)
                stamp = stamp + 1
                redis.call('HSET', served, subscription, string.format('%.0f', stamp))
                admitted[#admitted + 1] = delivery
            end
        end
    end
    round = round + 1
end
redis.call('EXPIRE', slots, ARGV[4])
redis.call('EXPIRE', served, ARGV[5])
return admitted
"""
_admit_script: Any = None


def city_concurrency() -> int:
    return max(1, int(getattr(settings, "WEBHOOK_CITY_CONCURRENCY", CITY_CONCURRENCY)))


def _key(kind: str, schema: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:webhooks:{kind}:{schema}"


def slots_key(schema: str) -> str:
    """The Redis key of ``schema``'s slots (a sorted set: delivery id → end of its lease)."""
    return _key("slots", schema)


def rotation_key(schema: str) -> str:
    """The Redis key of when each of ``schema``'s subscriptions was last served."""
    return _key("served", schema)


def kick_key(schema: str) -> str:
    """The Redis key that says a ``deliver_due_webhooks`` of ``schema`` is waiting."""
    return _key("kick", schema)


def _admit(
    schema: str,
    *,
    now: datetime,
    lease: timedelta,
    finished: str | None,
    due: Sequence[tuple[Any, Any, int]],
) -> list[str]:
    global _admit_script
    client = redis_client()
    if _admit_script is None:
        _admit_script = client.register_script(_ADMIT)
    start = now.timestamp()
    reply = _admit_script(
        keys=[slots_key(schema), rotation_key(schema)],
        args=[
            repr(start), repr(start + lease.total_seconds()), city_concurrency(),
            math.ceil(lease.total_seconds()) + 60, ROTATION_TTL, finished or "",
            *(str(part) for subscription, delivery, _a in due for part in (subscription, delivery)),
        ],
        client=client,
    )  # fmt: skip
    return [item.decode() if isinstance(item, bytes) else str(item) for item in reply]


def webhook_deliveries_dispatch(
    *, finished: str | None = None, city_active: bool = False, now: datetime | None = None
) -> list[tuple[str, int]]:
    """Lease the city's due deliveries into its free slots, giving ``finished``'s slot back
    first (the delivery whose task just ended); ``(delivery id, attempt)`` of each leased,
    for the caller to send (``ledgers.webhooks.tasks``) with ``dispatched``.

    Nothing is dispatched in a suspended city (``city_active``: the caller has just found
    it active, trying a delivery; not asked again), nor for a paused subscription. If
    Redis does not answer, nothing is dispatched (the broker is the same Redis): the beat's
    next round tries again. ``now`` is the clock (tests).
    """
    require_tenant()
    schema = connection.schema_name
    now = now or timezone.now()
    lease = dispatch_lease()
    try:
        if not city_active and city_suspended():
            _admit(schema, now=now, lease=lease, finished=finished, due=())
            return []
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _DUE_SQL, {"now": now, "each": city_concurrency(), "candidates": CANDIDATES}
            )
            due = cursor.fetchall()
            admitted = _admit(schema, now=now, lease=lease, finished=finished, due=due)
            if admitted:
                cursor.execute(_LEASE_SQL, {"until": now + lease, "ids": admitted})
    except RedisError:
        logger.warning("webhook dispatch: slots unavailable, nothing dispatched: city=%s", schema)
        return []
    attempts = {str(delivery): tries for _s, delivery, tries in due}
    return [(delivery, attempts[delivery] + 1) for delivery in admitted]
