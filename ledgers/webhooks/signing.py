"""Signing webhook deliveries, and checking them on the receiving side.

Standard library only: a receiver may copy this file as it is (docs/webhooks.md).

Every delivery carries ``X-Daicho-Timestamp`` (unix seconds) and
``X-Daicho-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<raw body>"``
under the subscription's secret. Binding the timestamp into the signature lets a receiver
refuse an old request replayed by someone who captured it (``tolerance``); within the
tolerance, the delivery's id is unique per delivery and lets it refuse duplicates. The
signature covers the body, not the headers: the id to refuse duplicates by is the body's
``delivery_id`` (``verify_delivery``), since a replay may carry a made-up
``X-Daicho-Delivery`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Daicho-Signature`` value for ``body`` sent at ``timestamp``."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> bool:
    """True if ``signature`` signs ``body`` at ``timestamp`` and the timestamp is fresh.

    ``timestamp`` and ``signature`` are the ``X-Daicho-Timestamp`` and
    ``X-Daicho-Signature`` headers as received; ``body`` the raw request body (bytes, not
    re-serialised JSON). A timestamp more than ``tolerance`` seconds away from ``now`` (in
    the past or the future) is refused, so a captured request cannot be replayed later.
    """
    try:
        sent_at = int(str(timestamp).strip())
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    if not isinstance(signature, str) or not signature.startswith(SIGNATURE_PREFIX):
        return False
    expected = sign(secret, sent_at, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))


def verify_delivery(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> str | None:
    """The id to refuse duplicates by, if the request is a genuine, fresh delivery; else None.

    ``verify_signature`` over the ``X-Daicho-Timestamp`` and ``X-Daicho-Signature``
    headers, then the signed body's ``delivery_id``, which ``X-Daicho-Delivery`` must
    repeat. The header alone is not signed: someone who captured a request could replay it
    within the tolerance under a new ``X-Daicho-Delivery`` and pass a duplicate check that
    read the header.
    """
    if not verify_signature(
        secret,
        headers.get("X-Daicho-Timestamp", ""),
        body,
        headers.get("X-Daicho-Signature", ""),
        tolerance,
        now=now,
    ):
        return None
    try:
        delivery_id = json.loads(body).get("delivery_id")
    except (ValueError, AttributeError):
        return None
    if not isinstance(delivery_id, str) or headers.get("X-Daicho-Delivery") != delivery_id:
        return None
    return delivery_id
