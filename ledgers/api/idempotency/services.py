"""Claiming an ``Idempotency-Key`` for a write, recording what the write did, purging."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection
from django.utils import timezone

from daicho.tenancy.guard import require_tenant
from ledgers.api.idempotency.exceptions import IdempotencyKeyInProgress, IdempotencyKeyReused
from ledgers.api.idempotency.models import IdempotentRequest

# The advisory lock (per city, account and key, for the transaction) is tried first, in
# the same statement: a second request with a key whose first is still running does not
# wait on the unique index for as long as that one runs (a robot retrying a slow bulk
# request would tie up a worker and a connection per retry); it finds no row and no lock,
# and is told to come back (``IdempotencyKeyInProgress``). The lock's holder is the only
# request that can have an uncommitted row for the key, so the insert never waits.
_CLAIM_SQL = """
WITH lock AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(%(lock)s) AS held)
INSERT INTO ledgers_idempotentrequest AS kept (user_id, key, target, body_sha256, created_at)
SELECT %(user)s, %(key)s, %(target)s, %(digest)s, %(now)s FROM lock WHERE lock.held
ON CONFLICT (user_id, key) DO UPDATE SET target = EXCLUDED.target,
    body_sha256 = EXCLUDED.body_sha256, created_at = EXCLUDED.created_at,
    status = NULL, result = NULL
    WHERE kept.created_at < %(expired)s
RETURNING id
"""


@dataclass(frozen=True)
class IdempotencyClaim:
    """``replay`` false: the key is this request's, and ``idempotency_complete`` records
    what it did. True: an earlier request with the key did it; ``status`` and ``result``
    are what it recorded."""

    pk: int
    replay: bool
    status: int | None = None
    result: Any = None


def _lifetime() -> timedelta:
    return timedelta(hours=settings.API_IDEMPOTENCY_HOURS)


def _lock_id(user_id: int, key: str) -> int:
    """The advisory lock of one account's key in this city: 64 bits of a SHA-256 (advisory
    locks are per database, shared by every city's schema)."""
    text = f"idempotency\x00{connection.schema_name}\x00{user_id}\x00{key}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def idempotency_claim(*, actor: Any, key: str, target: str, body_sha256: str) -> IdempotencyClaim:
    """Claim ``key`` for ``actor``'s request (``target``: method and path), inside the
    caller's transaction, before it writes.

    A key a committed request holds is replayed; one a request still running holds is
    ``IdempotencyKeyInProgress`` (never a wait); one older than ``API_IDEMPOTENCY_HOURS``
    is taken anew. The same key for another path or another body is
    ``IdempotencyKeyReused``.
    """
    require_tenant()
    now = timezone.now()
    params = {
        "lock": _lock_id(actor.pk, key), "user": actor.pk, "key": key, "target": target,
        "digest": body_sha256, "now": now, "expired": now - _lifetime(),
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, params)
        row = cursor.fetchone()
    if row is not None:
        return IdempotencyClaim(pk=row[0], replay=False)
    held = IdempotentRequest.objects.filter(user_id=actor.pk, key=key).first()
    if held is None or held.status is None or held.created_at < params["expired"]:
        # Its request is still running (or taking over an expired key): come back.
        raise IdempotencyKeyInProgress()
    if held.target != target or held.body_sha256 != body_sha256:
        raise IdempotencyKeyReused()
    return IdempotencyClaim(pk=held.pk, replay=True, status=held.status, result=held.result)


def idempotency_complete(*, claim: IdempotencyClaim, status: int, result: Any) -> None:
    """Record what the request that holds ``claim`` did (ids and generations, no values),
    in its transaction."""
    with connection.cursor() as cursor:  # orjson: a bulk's 1,000 ids in µs, not ms
        cursor.execute(
            "UPDATE ledgers_idempotentrequest SET status = %s, result = %s::jsonb WHERE id = %s",
            [status, orjson.dumps(result).decode(), claim.pk],
        )


def idempotency_purge() -> int:
    """Delete the city's keys past their lifetime; returns how many."""
    require_tenant()
    deleted, _ = IdempotentRequest.objects.filter(
        created_at__lt=timezone.now() - _lifetime()
    ).delete()
    return deleted
