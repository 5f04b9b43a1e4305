"""Claiming an ``Idempotency-Key`` for a write, recording what the write did, purging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection
from django.utils import timezone

from daicho.tenancy.guard import require_tenant
from ledgers.api.idempotency.exceptions import IdempotencyKeyReused
from ledgers.api.idempotency.models import IdempotentRequest

_CLAIM_SQL = """
INSERT INTO ledgers_idempotentrequest AS held (user_id, key, target, body_sha256, created_at)
VALUES (%(user)s, %(key)s, %(target)s, %(digest)s, %(now)s)
ON CONFLICT (user_id, key) DO UPDATE SET target = EXCLUDED.target,
    body_sha256 = EXCLUDED.body_sha256, created_at = EXCLUDED.created_at,
    status = NULL, result = NULL
    WHERE held.created_at < %(expired)s
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


def idempotency_claim(*, actor: Any, key: str, target: str, body_sha256: str) -> IdempotencyClaim:
    """Claim ``key`` for ``actor``'s request (``target``: method and path), inside the
    caller's transaction, before it writes.

    A key held by a request still running waits for that request's transaction (the unique
    index does): committed, it is replayed; rolled back, this request takes the key. A key
    older than ``API_IDEMPOTENCY_HOURS`` is taken anew. The same key for another path or
    another body is ``IdempotencyKeyReused``.
    """
    require_tenant()
    now = timezone.now()
    params = {
        "user": actor.pk, "key": key, "target": target, "digest": body_sha256,
        "now": now, "expired": now - _lifetime(),
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, params)
        row = cursor.fetchone()
    if row is not None:
        return IdempotencyClaim(pk=row[0], replay=False)
    held = IdempotentRequest.objects.get(user_id=actor.pk, key=key)
    if held.target != target or held.body_sha256 != body_sha256 or held.status is None:
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
