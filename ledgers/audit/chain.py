"""What the audit chain hashes: the canonical form of an event and the link hash.

Format 1, the contract an independent verifier implements (docs/audit.md):

- The canonical form of an event is the compact JSON object (no whitespace, keys sorted
  by code point, UTF-8, non-ASCII characters unescaped, i.e. Python's
  ``json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))``) of every
  column, each key naming the column and its type:
  ``action:text``, ``actor_id:int8``, ``at:timestamptz`` (ISO 8601 in UTC with
  microseconds, ``2026-11-28T01:02:03.000004+00:00``), ``details:jsonb`` (the JSON value
  itself, its keys sorted too), ``generation:int4``, ``ledger_code:text``,
  ``record_id:uuid`` (lowercase, hyphenated) and ``seq:int8``; SQL NULL is ``null``.
- ``hash(n) = SHA-256(hash(n-1) ‖ canonical(event at position n))`` over the raw 32-byte
  digests; ``hash(0)``, the genesis, is ``SHA-256("daicho-audit-genesis/1:" + schema)``.

``canonical_event`` is the reference. The sealing pass and ``verify`` build the same
bytes faster: PostgreSQL renders the scalar columns (``CANONICAL_HEAD_SQL`` and
``CANONICAL_TAIL_SQL``) and Python only re-serialises ``details``; a property test holds
the two to the same output.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

FORMAT = 1
GENESIS_PREFIX = "daicho-audit-genesis/1:"

_sha256 = hashlib.sha256
_encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def genesis(schema: str) -> bytes:
    """The ``prev_hash`` of a city's first link: fixed per schema, so chains never swap."""
    return hashlib.sha256(f"{GENESIS_PREFIX}{schema}".encode()).digest()


def canonical_event(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    action: str,
    ledger_code: str,
    record_id: uuid.UUID | str | None,
    generation: int | None,
    details: Any,
) -> bytes:
    """The canonical form of one event (the reference definition of format 1)."""
    return _encode(
        {
            "action:text": action,
            "actor_id:int8": actor_id,
            "at:timestamptz": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "details:jsonb": details,
            "generation:int4": generation,
            "ledger_code:text": ledger_code,
            "record_id:uuid": None if record_id is None else str(record_id),
            "seq:int8": seq,
        }
    ).encode("utf-8")


def link_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    """The hash of a link: the previous link's digest followed by the event's canonical form."""
    return _sha256(prev_hash + canonical).digest()


# An event's time as the canonical form writes it. Every time Python knows (years 1 to
# 9999) is ``YYYY-MM-DDTHH:MM:SS.ffffff``, as ``canonical_event`` writes it. What only the
# database can hold, and only the tables' owner can write (the insert guard dates every
# event now), is rendered apart: a time before Christ with " BC" after it (``to_char``
# writes its year as it writes the same year after Christ, and the two hashed alike), and
# ``infinity`` / ``-infinity`` as such (``to_char`` gives NULL for them).
CANONICAL_AT_SQL = (
    """coalesce(to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    """ || CASE WHEN e.at < '0001-01-01T00:00:00+00:00' THEN ' BC' ELSE '' END, e.at::text)"""
)
# The canonical form up to ``details`` and after it, rendered by PostgreSQL from the event
# row aliased ``e``. to_json() escapes text exactly as Python's json module does with
# ensure_ascii=False; NULL propagates, so a missing event yields NULL.
CANONICAL_HEAD_SQL = (
    """'{"action:text":' || to_json(e.action)::text"""
    """ || ',"actor_id:int8":' || coalesce(e.actor_id::text, 'null')"""
    f""" || ',"at:timestamptz":"' || {CANONICAL_AT_SQL}"""
    """ || '+00:00","details:jsonb":'"""
)
CANONICAL_TAIL_SQL = (
    """',"generation:int4":' || coalesce(e.generation::text, 'null')"""
    """ || ',"ledger_code:text":' || to_json(e.ledger_code)::text"""
    """ || ',"record_id:uuid":' || coalesce('"' || e.record_id::text || '"', 'null')"""
    """ || ',"seq:int8":' || e.seq::text || '}'"""
)
# The columns a chain query selects for each event, in this order: head, details, tail.
CANONICAL_COLUMNS_SQL = f"{CANONICAL_HEAD_SQL}, e.details::text, {CANONICAL_TAIL_SQL}"

_MEMO_LIMIT = 100_000
#: The longest ``details`` text remembered (characters): the repeated values are short.
_MEMO_MAX_TEXT = 256


def details_canonicaliser() -> Callable[[str], str]:
    """A function from jsonb text to its canonical JSON, remembering repeated values.

    Most events repeat a handful of ``details`` (``{}``, ``{"bulk":true}``, the same changed
    fields), so one pass parses each distinct value once. Only short values are kept: the
    long ones (a search's or a list's result ids, kilobytes each) are nearly all distinct,
    and keeping them made a verification's memory grow with the trail (1,000 searches:
    159 MB; at the entry limit, gigabytes).
    """
    memo: dict[str, str] = {}

    def canonical(text: str) -> str:
        found = memo.get(text)
        if found is None:
            try:
                found = _encode(json.loads(text))
            except (RecursionError, ValueError):
                found = _canonical_json_text(text)
            if len(text) <= _MEMO_MAX_TEXT and len(memo) < _MEMO_LIMIT:
                memo[text] = found
        return found

    return canonical


_JSON_TOKEN = re.compile(
    r"""[ \t\n\r]*(?:"""
    r"""(?P<string>"[^"\\]*(?:\\.[^"\\]*)*")"""
    r"""|(?P<number>-?(?:0|[1-9][0-9]*)(?P<real>(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?))"""
    r"""|(?P<word>true|false|null)|(?P<mark>[][{},:]))"""
)


def _canonical_json_text(text: str) -> str:
    """``_encode(json.loads(text))`` without Python's limits: what jsonb holds and Python's
    json cannot read, nested deeper than it recurses (about a thousand levels; jsonb takes
    thousands more) or an integer longer than 4,300 digits. A loop over the tokens with a
    stack of its own: an integer keeps its digits, a real number is Python's ``float`` of it,
    keys are sorted by code point, as ``_encode`` writes what Python reads.

    Without it, one event so made (an ordinary INSERT suffices: the insert guard checks only
    ``seq`` and ``at``) stopped every sealing pass of its city, for ever."""
    # A frame: (items of an array, or None), (an object's members by key, or None), the key
    # read whose value is awaited.
    stack: list[tuple[list[str] | None, dict[str, str] | None, list[str | None]]] = []
    done: str | None = None
    position, end = 0, len(text)
    while True:
        token = _JSON_TOKEN.match(text, position)
        if token is None:
            if text[position:].strip(" \t\n\r") or done is None:
                raise ValueError(f"not JSON at character {position}")
            return done
        position = token.end()
        value: str | None = None
        if (mark := token.group("mark")) is not None:
            if mark == "[":
                stack.append(([], None, [None]))
            elif mark == "{":
                stack.append((None, {}, [None]))
            elif mark in "]}":
                items, members, _key = stack.pop()
                if items is not None:
                    value = "[" + ",".join(items) + "]"
                else:
                    assert members is not None
                    value = (
                        "{"
                        + ",".join(_encode(name) + ":" + members[name] for name in sorted(members))
                        + "}"
                    )
        elif (string := token.group("string")) is not None:
            decoded = json.loads(string)
            if stack and stack[-1][1] is not None and stack[-1][2][0] is None:
                stack[-1][2][0] = decoded  # a member's name: its value follows
            else:
                value = _encode(decoded)
        elif (number := token.group("number")) is not None:
            if token.group("real"):
                value = _encode(float(number))
            else:
                value = "0" if number == "-0" else number
        else:
            value = token.group("word")
        if value is None:
            continue
        if not stack:
            done = value
            continue
        items, members, key = stack[-1]
        if items is not None:
            items.append(value)
        else:
            assert members is not None
            assert key[0] is not None
            members[key[0]] = value
            key[0] = None
        if position >= end:
            break
    raise ValueError("JSON ends inside an array or object")


def canonical_from_parts(
    head: str, details: str, tail: str, canonical: Callable[[str], str]
) -> bytes:
    """The canonical form from a chain query's three columns (see ``CANONICAL_COLUMNS_SQL``)."""
    return (head + canonical(details) + tail).encode("utf-8")


def link_from_parts(
    prev_hash: bytes, head: str, details: str, tail: str, canonical: Callable[[str], str]
) -> bytes:
    """``link_hash(prev_hash, canonical_from_parts(...))`` in one call: the per-event hot path."""
    return _sha256(prev_hash + (head + canonical(details) + tail).encode("utf-8")).digest()
