"""Process-memory caches that every web process invalidates at once, through Redis.

Hot lookups of a request (host → city, token → staff member, ledger → the caller's
policy) are kept in each process's memory, tagged with a *generation*: a counter in Redis
that the writers of the underlying rows bump. A request reads the counters it needs with
one ``MGET`` and uses an entry only if its generation is still the current one, so a
suspension, a revoked token or a changed grant takes effect on the very next request in
every process. A short time-to-live bounds the damage should a bump ever be missed.

Two rules keep a cache from outliving the truth:

- a writer bumps when its transaction commits (``generation_bump``), and a reader reads
  the counter *before* the rows, so an entry built from rows older than a bump carries
  the older generation;
- only what was read outside a transaction is cached (``cacheable``): inside one, a read
  may see the transaction's own uncommitted writes, which a rollback would take back.

If Redis does not answer, nothing is cached and every request reads the database; after a
failure the process leaves Redis alone for ``REDIS_SKIP_SECONDS`` (``redis_skipped``), so that
a Redis that hangs costs it one socket timeout, not one or more per request.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Hashable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

logger = logging.getLogger(__name__)

TENANCY = "tenancy"
# Bounded memory: a process forgets everything when a cache grows past this many entries.
MAX_ENTRIES = 10_000


def access_counter(schema: str) -> str:
    """The counter of a city's tokens, staff, memberships, departments, ledgers and grants."""
    return f"access:{schema}"


def _key(name: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:gen:{name}"


@functools.cache
def redis_client() -> Any:
    """One client per process on the cache's connection pool (building one costs more
    than the command it sends; redis-py's pool is thread-safe and resets after a fork)."""
    return cache._cache.get_client(write=True)  # type: ignore[attr-defined]


#: After Redis failed to answer, how long this process reads no generation and counts no
#: rate in it (``generations``, ``generations_and_counts``: caches bypassed, requests not
#: limited, as when it fails). Each request asked Redis two or three times, and a Redis that
#: hangs rather than refuses answered each ask with redis-py's socket timeout (5 s): every
#: request took 10 s or more and the web's workers were soon all waiting.
REDIS_SKIP_SECONDS = 5.0
_skip_until = 0.0


def redis_skipped() -> bool:
    """Whether Redis failed this process less than ``REDIS_SKIP_SECONDS`` ago."""
    return time.monotonic() < _skip_until


def redis_failed(what: str) -> None:
    """Note that Redis failed ``what`` (logged, with the error): the process's reads of
    generations and rate counts leave it alone for ``REDIS_SKIP_SECONDS``."""
    global _skip_until
    _skip_until = time.monotonic() + REDIS_SKIP_SECONDS
    logger.warning(
        "%s: Redis unavailable; caches bypassed and rate limits off for %ss in this process",
        what, REDIS_SKIP_SECONDS, exc_info=True,
    )  # fmt: skip


def redis_failure_forget() -> None:
    """Ask Redis again from the next request on (tests; a failure is forgotten anyway)."""
    global _skip_until
    _skip_until = 0.0


def generations(*names: str) -> list[int | None]:
    """The current value of each counter (0 if never bumped); None for all if Redis fails
    or failed this process a moment ago (``redis_skipped``)."""
    if redis_skipped():
        return [None] * len(names)
    try:
        values = redis_client().mget([_key(n) for n in names])
    except Exception:
        redis_failed("generation counters")
        return [None] * len(names)
    return [int(v) if v is not None else 0 for v in values]


# The generation counters and a request's rate counters in one round trip: ARGV[1] is how
# many of KEYS are counters to read; each later key is a rate counter with its window
# (seconds) and limit in ARGV, counted in order (its window starts at its first request),
# stopping after the first one over its limit.
_GENERATIONS_AND_COUNTS = """
local n = tonumber(ARGV[1])
local result = {}
if n > 0 then
    local values = redis.call('MGET', unpack(KEYS, 1, n))
    for i = 1, n do
        result[i] = values[i]
    end
end
for i = n + 1, #KEYS do
    local at = 2 * (i - n)
    redis.call('SET', KEYS[i], 0, 'EX', ARGV[at], 'NX')
    local count = redis.call('INCR', KEYS[i])
    result[i] = count
    if count > tonumber(ARGV[at + 1]) then
        break
    end
end
return result
"""
_generations_and_counts_script: Any = None


def generations_and_counts(
    names: list[str], counters: list[tuple[str, int, int]]
) -> tuple[list[int | None], dict[str, int]]:
    """``generations(*names)`` and one request counted against ``counters`` (key, window in
    seconds, limit), in one round trip to Redis instead of two.

    The counters are counted in order and the first one over its limit stops the count: a
    later one is not counted (an address over its limit creates no counter for the tokens
    it presents). Returns the generations and the counts by key (a counter not counted is
    absent); if Redis fails, or failed this process a moment ago (``redis_skipped``),
    Nones and no counts (the caller counts again, or not at all).
    """
    global _generations_and_counts_script
    if redis_skipped():
        return [None] * len(names), {}
    try:
        client = redis_client()
        if _generations_and_counts_script is None:
            _generations_and_counts_script = client.register_script(_GENERATIONS_AND_COUNTS)
        reply = _generations_and_counts_script(
            keys=[_key(n) for n in names] + [key for key, _d, _l in counters],
            args=[len(names)] + [part for _k, d, limit in counters for part in (d, limit)],
            client=client,
        )
    except Exception:
        redis_failed("generation and rate counters")
        return [None] * len(names), {}
    values = list(reply) + [None] * (len(names) - len(reply))
    # Shorter than the counters when one over its limit stopped the count.
    counted = values[len(names) :]
    counts = {key: int(count) for (key, _d, _l), count in zip(counters, counted, strict=False)}
    return [int(v) if v is not None else 0 for v in values[: len(names)]], counts


def _bump(name: str) -> None:
    try:
        redis_client().incr(_key(name))
    except Exception:
        # The time-to-live of the entries is the fallback; say so loudly.
        logger.error("could not bump generation %s; caches may be stale for up to %ss",
                     name, LocalCache.DEFAULT_TTL, exc_info=True)  # fmt: skip


def generation_bump(name: str) -> None:
    """Invalidate every entry tagged with counter ``name``, in every process.

    Bumps now (this process's later reads inside the transaction) and again on commit
    (readers that cached the old rows while the transaction was open).
    """
    _bump(name)
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _bump(name))


def cacheable() -> bool:
    """True when the rows just read are committed ones (no transaction is open)."""
    return not connection.in_atomic_block


class LocalCache:
    """A small thread-safe map in process memory whose entries carry a generation."""

    DEFAULT_TTL = 60.0

    def __init__(self, name: str, ttl: float = DEFAULT_TTL) -> None:
        self.name = name
        self.ttl = ttl
        self._entries: dict[Hashable, tuple[int, float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, generation: int | None) -> Any | None:
        """The value stored under ``key`` for ``generation``, if still fresh."""
        if generation is None:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_generation, expires, value = entry
        if stored_generation != generation or expires < time.monotonic():
            return None
        return value

    def peek(self, key: Hashable) -> Any | None:
        """The stored value whatever its generation: a hint, never an answer."""
        entry = self._entries.get(key)
        return entry[2] if entry is not None else None

    def put(self, key: Hashable, generation: int | None, value: Any) -> None:
        if generation is None or not cacheable():
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (generation, time.monotonic() + self.ttl, value)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def bump_on_change(model: type, counter: Any, *, unless_only: frozenset[str] = frozenset()) -> None:
    """Bump ``counter()`` (a function, called at write time) whenever a ``model`` row is
    saved or deleted, except by a save of ``unless_only`` fields alone (``update_fields``:
    columns no cached answer depends on). Bulk writes send no signals: their services bump
    explicitly."""
    from django.db.models.signals import post_delete, post_save

    def receiver(sender: type, **kwargs: Any) -> None:
        fields = kwargs.get("update_fields")
        if fields and unless_only and set(fields) <= unless_only:
            return
        generation_bump(counter())

    uid = f"caching-{model._meta.label_lower}"
    post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"{uid}-save")
    post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=f"{uid}-delete")


def current_access_counter() -> str:
    """The access counter of the schema the connection is on."""
    return access_counter(connection.schema_name or "public")
