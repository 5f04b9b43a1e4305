"""Rows in PostgreSQL's binary COPY format, for the bulk write paths.

The text format makes PostgreSQL parse every search key of a record (~100 integers) from
text, and psycopg escape the whole line; in the binary format a record's keys are bytes the
indexer packed once per distinct value, and the row is a few ``struct.pack`` calls. The
layout is PostgreSQL's (``COPY`` — "Binary Format"): a header, per row a 16-bit field count
and each field as a 32-bit length (-1 for NULL) and its binary value, then a trailer.
"""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
NULL = struct.pack(">i", -1)
INT4_OID = 23

_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_int4 = struct.Struct(">ii")
_int8 = struct.Struct(">iq")
_length = struct.Struct(">i")
_array_header = struct.Struct(">iiiiii")
_empty_array = struct.pack(">iiii", 12, 0, 0, INT4_OID)


def jsonb_key_order(key: str) -> tuple[int, bytes]:
    """Where ``key`` sorts among an object's keys in ``jsonb``: shorter keys first, then by
    their UTF-8 bytes. PostgreSQL sorts each object it receives; one already in this order
    costs it a single pass."""
    data = key.encode("utf-8", "surrogatepass")
    return len(data), data


def row_start(field_count: int) -> bytes:
    return struct.pack(">h", field_count)


def int4(value: int) -> bytes:
    return _int4.pack(4, value)


def int8(value: int | None) -> bytes:
    return NULL if value is None else _int8.pack(8, value)


def boolean(value: bool) -> bytes:
    return b"\x00\x00\x00\x01\x01" if value else b"\x00\x00\x00\x01\x00"


def text(value: str) -> bytes:
    data = value.encode("utf-8")
    return _length.pack(len(data)) + data


def jsonb(value: bytes) -> bytes:
    """A ``jsonb`` field from its UTF-8 JSON text (binary jsonb is version 1 + the text)."""
    return _length.pack(len(value) + 1) + b"\x01" + value


def uuid_(value: uuid.UUID) -> bytes:
    return b"\x00\x00\x00\x10" + value.bytes


def microseconds(value: datetime) -> int:
    """``value`` (aware) as PostgreSQL stores a ``timestamptz``: microseconds since
    2000-01-01 UTC."""
    delta = value - _POSTGRES_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def timestamptz(value: int) -> bytes:
    """A ``timestamptz`` field from its ``microseconds``."""
    return _int8.pack(8, value)


def int4_array(elements: bytes, count: int) -> bytes:
    """An ``integer[]`` field from ``count`` elements already packed as (4, value) pairs."""
    if not count:
        return _empty_array
    return _array_header.pack(20 + len(elements), 1, 0, INT4_OID, count, 1) + elements
