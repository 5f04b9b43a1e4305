"""verify_signature: what a receiver relies on to trust a delivery and refuse replays."""

from __future__ import annotations

import time

import pytest

from ledgers.webhooks.signing import sign, verify_delivery, verify_signature

SECRET = "whsec_test-secret"
BODY = b'{"event":"record.updated","record":{"id":"1"}}'


def test_a_fresh_signed_body_verifies() -> None:
    now = int(time.time())
    assert verify_signature(SECRET, str(now), BODY, sign(SECRET, now, BODY))


@pytest.mark.parametrize(
    ("case", "age", "body", "secret", "mangle"),
    [
        ("replayed after the tolerance", 301, BODY, SECRET, None),
        ("replayed an hour later", 3600, BODY, SECRET, None),
        ("timestamp from the future", -301, BODY, SECRET, None),
        ("tampered body", 0, BODY.replace(b'"1"', b'"2"'), SECRET, None),
        ("another subscription's secret", 0, BODY, "whsec_other", None),
        ("timestamp changed after signing", 0, BODY, SECRET, "timestamp"),
        ("no sha256= prefix", 0, BODY, SECRET, "prefix"),
        ("not a timestamp", 0, BODY, SECRET, "garbage"),
    ],
)
def test_verify_signature_refuses(
    case: str, age: int, body: bytes, secret: str, mangle: str | None
) -> None:
    now = int(time.time())
    sent_at = now - age
    timestamp: str = str(sent_at)
    signature = sign(secret, sent_at, BODY)
    if mangle == "timestamp":
        timestamp = str(sent_at - 1)
    elif mangle == "prefix":
        signature = signature.removeprefix("sha256=")
    elif mangle == "garbage":
        timestamp = "yesterday"
    assert not verify_signature(SECRET, timestamp, body, signature, now=now), case


def test_the_tolerance_is_the_receivers_choice() -> None:
    now = int(time.time())
    old = now - 3600
    signature = sign(SECRET, old, BODY)
    assert not verify_signature(SECRET, old, BODY, signature)
    assert verify_signature(SECRET, old, BODY, signature, tolerance=7200)


def _delivered(delivery_id: str, sent_at: int) -> tuple[dict[str, str], bytes]:
    body = f'{{"event":"record.updated","delivery_id":"{delivery_id}"}}'.encode()
    return {
        "X-Daicho-Timestamp": str(sent_at),
        "X-Daicho-Signature": sign(SECRET, sent_at, body),
        "X-Daicho-Delivery": delivery_id,
    }, body


def test_a_replay_under_a_made_up_delivery_header_is_caught_by_the_signed_id() -> None:
    """The signature covers the body, not the headers: a captured request replayed within
    the tolerance under a new X-Daicho-Delivery verified, and a receiver that refused
    duplicates by that header (as the documentation said) processed the event twice."""
    now = int(time.time())
    headers, body = _delivered("0f0e6c1e-3f7a-4a8e-9d55-2d0f5f6f0b1c", now)
    assert verify_delivery(SECRET, headers, body, now=now) == headers["X-Daicho-Delivery"]

    replayed = {**headers, "X-Daicho-Delivery": "11111111-1111-4111-8111-111111111111"}
    assert verify_signature(
        SECRET, replayed["X-Daicho-Timestamp"], body, replayed["X-Daicho-Signature"], now=now
    )  # the header is not signed
    assert verify_delivery(SECRET, replayed, body, now=now) is None
    assert verify_delivery("whsec_other", headers, body, now=now) is None
    assert verify_delivery(SECRET, headers, body, now=now + 301) is None
    assert verify_delivery(SECRET, {**headers, "X-Daicho-Delivery": ""}, body, now=now) is None
