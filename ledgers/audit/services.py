"""Audit events: writing them, sealing them into the hash chain, verifying and anchoring it.

Writers (every write and personal-data read) call ``audit_record`` / ``audit_record_many``
inside their own transaction; nothing there touches the chain, so a city's requests never
queue on a chain head. ``audit_seal`` (Celery beat, every 30 s per city) links pending
events into ``AuditSeal``; ``audit_verify`` seals what is pending, then recomputes every
link and compares it with the seals and the anchors; ``audit_anchor`` copies the chain
head to the public schema and to object storage (daily). docs/audit.md has the rules.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context
from psycopg import sql

from daicho.tenancy.guard import require_tenant
from ledgers.audit.anchor_files import (
    AnchorFile,
    anchor_file_write,
    anchor_files,
    anchor_lock_check,
)
from ledgers.audit.chain import (
    CANONICAL_COLUMNS_SQL,
    FORMAT,
    details_canonicaliser,
    genesis,
    link_from_parts,
)
from ledgers.audit.context import TOKEN_KEY, audit_details, audit_token
from ledgers.audit.exceptions import AuditVerifyRunning
from ledgers.audit.models import AuditEvent
from tenants.anchors import AuditAnchor
from tenants.models import Municipality

logger = logging.getLogger(__name__)

# Width of the seq range a sealing pass reads and seals at a time (one COPY out, one in).
SEAL_BATCH = 10_000
# A windowed pass re-reads the events above the last seal that is older than this: an
# event whose transaction stays open longer than SETTLE after taking its ``seq`` is left
# to the next full pass (verify, and the daily anchor). See docs/audit.md, "Sealing".
SETTLE = timedelta(minutes=10)
# How long before an anchor an event sealed after it may be dated: the statement that wrote
# it ran before the anchor and its transaction committed after (a request, a migration).
# An event dated earlier was added behind the anchor's back (see docs/audit.md, "Verify").
BACKDATE_TOLERANCE = timedelta(hours=1)
# The canonical head ends with the event's time in UTC (26 characters) and this.
_AT_END = len('+00:00","details:jsonb":')
_AT_WIDTH = len("2026-11-30T00:00:00.000000")
# High half of the advisory lock key of a city's sealing pass; the low half is the oid of
# the city's schema, so cities never wait for one another.
_LOCK_CLASS = 0x41554454  # "AUDT"
# The same for a city's verification, held for its whole run: one at a time per city.
_VERIFY_LOCK_CLASS = 0x41554456  # "AUDV"


@dataclass(frozen=True)
class AuditEntry:
    """One event to write; ``audit_record_many`` takes many at once (bulk paths)."""

    action: str
    ledger_code: str = ""
    record_id: uuid.UUID | None = None
    generation: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def audit_record(
    *,
    actor: Any,
    action: str,
    ledger_code: str = "",
    record_id: uuid.UUID | None = None,
    generation: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event in the current city's schema (inside the caller's transaction).

    One INSERT … RETURNING, without the ORM's save machinery: every read of personal data
    pays for this call. Written while a request acts with an API token, its details name
    the token (``ledgers.audit.context``).
    """
    require_tenant()
    event = AuditEvent(
        actor_id=getattr(actor, "pk", None), action=action, ledger_code=ledger_code,
        record_id=record_id, generation=generation, details=audit_details(details),
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, record_id, generation,"
            " details) VALUES (%s, %s, %s, %s, %s, %s) RETURNING seq, at",
            [
                event.actor_id, action, ledger_code, record_id, generation,
                json.dumps(event.details, ensure_ascii=False, separators=(",", ":")),
            ],
        )  # fmt: skip
        event.seq, event.at = cursor.fetchone()
    event._state.adding = False
    event._state.db = connection.alias
    return event


def audit_record_many(*, actor: Any, entries: Iterable[AuditEntry]) -> int:
    """Write many events with one COPY; returns how many were written (each naming the API
    token the request acts with, if any, as ``audit_record``)."""
    require_tenant()
    actor_id = getattr(actor, "pk", None)
    token = audit_token()
    written = 0
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY ledgers_auditevent (actor_id, action, ledger_code, record_id, generation, details)"
            " FROM STDIN"
        ) as copy_in,
    ):
        for e in entries:
            details = {**e.details, TOKEN_KEY: token} if token else dict(e.details)
            copy_in.write_row((
                actor_id, e.action, e.ledger_code, e.record_id, e.generation,
                json.dumps(details, ensure_ascii=False, separators=(",", ":")),
            ))  # fmt: skip
            written += 1
    return written


#: The action of the event a server operator's command leaves in the city it acts on.
OPERATOR_COMMAND = "operator.command"


def audit_operator_command(*, schema: str, command: str, arguments: Mapping[str, Any]) -> None:
    """Leave in ``schema``'s trail that a server operator ran ``command`` on the city, with
    what was asked (never a secret), whatever comes of it (操作者なし、``operator.command``).

    Called before the command looks anything up in the city and committed at once (outside
    a transaction): a run that fails, or finds no such staff member, stays visible to the
    city's administrators and auditors. Before, a failed run left nothing, and an operator
    could learn which usernames a city has, and which of them use 2FA, unseen."""
    with schema_context(schema):
        audit_record(
            actor=None, action=OPERATOR_COMMAND,
            details={"command": command, "arguments": dict(arguments)},
        )  # fmt: skip


#: The actions of the events a server operator's change to a city itself (its row and its
#: hosts in the public schema) leaves in the city's trail (docs/audit.md).
OPERATOR_CHANGES = frozenset({
    "operator.municipality_provisioned", "operator.municipality_changed",
    "operator.municipality_suspended", "operator.municipality_resumed",
    "operator.domain_added", "operator.domain_changed", "operator.domain_removed",
})  # fmt: skip


def audit_operator_change(
    *,
    schema: str,
    operator: Any,
    via: str,
    action: str,
    changes: Mapping[str, tuple[Any, Any]],
    domain: str = "",
) -> AuditEvent | None:
    """Leave in ``schema``'s trail a server operator's change to the city itself: ``action``
    (one of ``OPERATOR_CHANGES``), and each of ``changes`` as ``{"from": …, "to": …}``.
    Nothing is written when nothing changed.

    The event has no actor: an operator is no one of the city, and an operator's id in
    ``actor`` would name whichever member of its staff has that id. ``details`` name the
    operator as the public schema knows them, ``{"id", "username"}`` (None for a command
    run on the server, which knows no operator), and ``via``, the admin or the command.
    Written inside the caller's transaction (the change's): the event stands or falls
    with the change."""
    if action not in OPERATOR_CHANGES:
        raise ValueError(f"not an operator's change: {action!r}")
    if not changes:
        return None
    who = None if operator is None else {"id": operator.pk, "username": operator.get_username()}
    details: dict[str, Any] = {"operator": who, "via": via}
    if domain:
        details["domain"] = domain
    details["changes"] = {name: {"from": was, "to": now} for name, (was, now) in changes.items()}
    with schema_context(schema):
        return audit_record(actor=None, action=action, details=details)


# --- the chain ---------------------------------------------------------------------------


def _tables(schema: str) -> tuple[sql.Identifier, sql.Identifier]:
    return sql.Identifier(schema, "ledgers_auditevent"), sql.Identifier(schema, "ledgers_auditseal")


def _lock_key(cursor: Any, schema: str, lock_class: int = _LOCK_CLASS) -> int:
    cursor.execute("SELECT oid::bigint FROM pg_namespace WHERE nspname = %s", [schema])
    row = cursor.fetchone()
    if row is None:
        raise LookupError(f"schema {schema!r} does not exist")
    return (lock_class << 32) | row[0]


def _head(cursor: Any, schema: str) -> tuple[int, bytes, int | None]:
    """(position, hash, seq) of the chain's last link; (0, genesis, None) when empty."""
    _events, seals = _tables(schema)
    cursor.execute(
        sql.SQL("SELECT n, hash, seq FROM {} ORDER BY n DESC LIMIT 1").format(seals).as_string()
    )
    row = cursor.fetchone()
    if row is None:
        return 0, genesis(schema), None
    return row[0], bytes(row[1]), row[2]


def _floor(cursor: Any, schema: str, settle: timedelta) -> int:
    """The ``seq`` below which a windowed pass need not look (see ``SETTLE``).

    Every event with a lower ``seq`` took it before that seal was written, more than
    ``settle`` ago, so its transaction has ended: it is sealed already or never will exist.
    """
    _events, seals = _tables(schema)
    cursor.execute(
        sql.SQL(
            "SELECT seq FROM {} WHERE sealed_at < statement_timestamp() - %s"
            " ORDER BY n DESC LIMIT 1"
        )
        .format(seals)
        .as_string(),
        [settle],
    )
    row = cursor.fetchone()
    return row[0] if row else 0


def _next_start(cursor: Any, schema: str, *, after: int, pending: bool) -> int | None:
    """Where the next range should start: just below the next pending event, or the next
    event at all (``pending=False``: an index lookup, for windowed passes)."""
    events, seals = _tables(schema)
    query = (
        "SELECT min(e.seq) - 1 FROM {events} AS e WHERE e.seq > %s"
        " AND NOT EXISTS (SELECT 1 FROM {seals} AS s WHERE s.seq = e.seq)"
        if pending
        else "SELECT min(e.seq) - 1 FROM {events} AS e WHERE e.seq > %s"
    )
    cursor.execute(sql.SQL(query).format(events=events, seals=seals).as_string(), [after])
    return cursor.fetchone()[0]


def _seal_pending(schema: str, *, full: bool, settle: timedelta) -> int:
    """Chain the visible unsealed events in ``seq`` order; the caller holds the lock.

    Set-based, in ``seq`` ranges of ``SEAL_BATCH`` (an index range whatever the statistics
    say): each range's pending events stream out with one COPY, PostgreSQL rendering most
    of the canonical form while Python hashes; their links go back with one COPY. A full
    pass first finds the lowest pending event with one anti-join, so checking a sealed
    city costs one scan, not a walk through every range.
    """
    events, seals = _tables(schema)
    sealed = 0
    canonical = details_canonicaliser()
    with connection.cursor() as cursor:
        position, prev, _seq = _head(cursor, schema)
        if full:
            start = _next_start(cursor, schema, after=0, pending=True)
            if start is None:
                return 0
            low = start
        else:
            low = _floor(cursor, schema, settle)
        cursor.execute(sql.SQL("SELECT max(seq) FROM {}").format(events).as_string())
        top = cursor.fetchone()[0] or 0
        insert = sql.SQL("COPY {} (seq, n, prev_hash, hash) FROM STDIN (FORMAT BINARY)").format(
            seals
        )
        while low < top:
            high = min(low + SEAL_BATCH, top)
            pending = sql.SQL(
                "COPY (SELECT e.seq, {columns} FROM {events} AS e"
                " WHERE e.seq > {low} AND e.seq <= {high}"
                " AND NOT EXISTS (SELECT 1 FROM {seals} AS s WHERE s.seq = e.seq)"
                " ORDER BY e.seq) TO STDOUT (FORMAT BINARY)"
            ).format(
                columns=sql.SQL(CANONICAL_COLUMNS_SQL), events=events, seals=seals,
                low=sql.Literal(low), high=sql.Literal(high),
            )  # fmt: skip
            links: list[tuple[int, int, bytes, bytes]] = []
            with cursor.copy(pending) as rows:
                rows.set_types(["int8", "text", "text", "text"])
                for seq, head, details, tail in rows.rows():
                    position += 1
                    digest = link_from_parts(prev, head, details, tail, canonical)
                    links.append((seq, position, prev, digest))
                    prev = digest
            if links:
                with cursor.copy(insert) as into:
                    into.set_types(["int8", "int8", "bytea", "bytea"])
                    for link in links:
                        into.write_row(link)
                sealed += len(links)
                low = high
            else:
                # Nothing here: skip to the next pending event (full pass) or across a long
                # run of missing seq values (windowed pass) in one step.
                following = _next_start(cursor, schema, after=high, pending=full)
                low = top if following is None else max(high, following)
    return sealed


def audit_seal(
    *, schema: str | None = None, wait: bool = True, full: bool = False, settle: timedelta = SETTLE
) -> int:
    """Seal the city's pending events into its hash chain; returns how many were sealed.

    One pass per city at a time (``pg_advisory_xact_lock`` on the schema); with
    ``wait=False`` a pass that finds another one running does nothing. A windowed pass
    (the default) looks at events above the floor ``SETTLE`` defines; ``full=True``
    looks at every event (``audit_verify`` and ``audit_anchor`` do).
    """
    schema = schema or require_tenant()
    with schema_context(schema), transaction.atomic(), connection.cursor() as cursor:
        require_tenant()
        key = _lock_key(cursor, schema)
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        else:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                logger.info("audit seal: schema=%s busy, skipped", schema)
                return 0
        sealed = _seal_pending(schema, full=full, settle=settle)
    if sealed:
        logger.info("audit seal: schema=%s sealed=%s", schema, sealed)
    return sealed


@contextmanager
def _session_lock(schema: str) -> Iterator[None]:
    """The sealing lock held across transactions (verify's snapshot is taken after it)."""
    with connection.cursor() as cursor:
        key = _lock_key(cursor, schema)
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextmanager
def _verify_lock(schema: str, *, wait: bool) -> Iterator[None]:
    """The city's verification lock, held at session level for the whole verification.

    ``wait=False`` raises ``AuditVerifyRunning`` at once when another verification of the
    city holds it (the API's: a request waiting on it held a web worker's thread, which
    serves every city, for as long as the running one took; a few such requests from one
    city's token kept a pod from answering any city)."""
    with connection.cursor() as cursor:
        key = _lock_key(cursor, schema, _VERIFY_LOCK_CLASS)
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                raise AuditVerifyRunning()
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of ``audit_verify``: OK, or the first broken link and why.

    ``code`` is stable for programs (``event_changed``, ``event_missing``, ``seal_missing``,
    ``link_broken``, ``event_backdated``, ``anchor_mismatch``, ``anchor_beyond_chain``,
    ``anchor_invalid``, ``unsealed_event``);
    ``reason`` is for people (Japanese).
    """

    schema: str
    ok: bool
    events: int
    sealed_now: int
    anchors_checked: int
    head_hash: str = ""
    position: int | None = None
    seq: int | None = None
    code: str = ""
    reason: str = ""


@dataclass(frozen=True)
class _Anchor:
    where: str  # for people: "public スキーマ", or the file's name (and version)
    position: int
    head_hash: str
    head_seq: int | None
    anchored_at: str


def _anchors(schema: str) -> tuple[list[_Anchor], list[AnchorFile]]:
    """Every anchor of the city: its rows in public and every file in object storage (every
    version of each on a locked bucket); and the files that are no anchor of this city."""
    found = [
        _Anchor("public スキーマ", a.position, a.head_hash, a.head_seq, a.anchored_at.isoformat())
        for a in AuditAnchor.objects.filter(municipality__schema_name=schema).order_by("position")
    ]
    with schema_context("public"):
        files = anchor_files(schema)
    invalid = []
    for file in files:
        if file.payload is None:
            invalid.append(file)
            continue
        found.append(
            _Anchor(
                file.label, file.payload["position"], file.payload["head_hash"],
                file.payload.get("head_seq"), str(file.payload.get("anchored_at", "")),
            )
        )  # fmt: skip
    return found, invalid


def _broken(
    schema: str, *, code: str, reason: str, position: int | None, seq: int | None, **counts: int
) -> VerifyResult:
    return VerifyResult(
        schema=schema, ok=False, position=position, seq=seq, code=code, reason=reason,
        events=counts["events"], sealed_now=counts["sealed_now"],
        anchors_checked=counts["anchors_checked"],
    )  # fmt: skip


def _link_broken(
    schema: str,
    n: int,
    seq: int,
    head: str | None,
    prev_hash: bytes,
    prev: bytes,
    position: int,
    counts: dict[str, int],
) -> VerifyResult:
    """Why the link at ``position`` does not hold (the walk found it does not)."""
    if n != position:
        return _broken(
            schema, code="seal_missing", position=position, seq=seq, **counts,
            reason=f"連鎖位置 {position} の封印がありません（封印が削除されています）。",
        )  # fmt: skip
    if head is None:
        return _broken(
            schema, code="event_missing", position=position, seq=seq, **counts,
            reason=f"封印された監査ログ #{seq} がありません（削除されています）。",
        )  # fmt: skip
    if prev_hash != prev:
        return _broken(
            schema, code="link_broken", position=position, seq=seq, **counts,
            reason=f"連鎖位置 {position} の直前ハッシュが一つ前の封印と一致しません"
            "（封印が書き換えられています）。",
        )  # fmt: skip
    return _broken(
        schema, code="event_changed", position=position, seq=seq, **counts,
        reason=f"監査ログ #{seq} の内容が封印時と一致しません（封印後に変更されています）。",
    )  # fmt: skip


# A walk that streams: the seals in position order through their index, each joined to its
# event by primary key, rows leaving as they are made, so PostgreSQL renders while Python
# hashes. Left to itself the planner joins everything and sorts first (a fifth slower).
_STREAMING_PLAN = {
    "enable_sort": "off",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
}


@contextmanager
def _streaming_plan() -> Iterator[None]:
    """Planner settings for the verify walk, then put back (an error rolls them back)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name",
            [list(_STREAMING_PLAN)],
        )
        before = cursor.fetchall()
        for name, value in _STREAMING_PLAN.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    yield
    with connection.cursor() as cursor:
        for name, value in before:
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def _dated_after(anchored_at: str, now: datetime) -> bool:
    """Whether an anchor's ``anchored_at`` (ISO 8601 with its offset) is later than ``now``;
    a text that is no moment is not (it sets no earliest time either)."""
    try:
        moment = datetime.fromisoformat(anchored_at)
    except ValueError:
        return False
    return moment.tzinfo is not None and moment > now


def _earliest_after(anchored_at: str) -> str | None:
    """The earliest time an event sealed after an anchor of ``anchored_at`` (ISO 8601 with
    its offset) may have, as the canonical form writes an event's time (UTC, microseconds,
    a four-digit year, no offset: such texts order as their moments do); None for a text
    that is no moment, or one so early that nothing is earlier."""
    try:
        moment = datetime.fromisoformat(anchored_at)
        if moment.tzinfo is None:
            return None
        earliest = (moment - BACKDATE_TOLERANCE).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return earliest.replace(tzinfo=None).isoformat(timespec="microseconds")


_AT_KEY = '"at:timestamptz":"'


def _dated_before(head: str, earliest: str) -> bool:
    """Whether the event whose canonical head is ``head`` is dated before ``earliest``
    (``_earliest_after``'s text). A time of years 1 to 9999 is the fixed-width text just
    before the head's end, which orders as its moment: one slice and one comparison. The
    other times only the tables' owner can write (``chain.CANONICAL_AT_SQL``): one before
    Christ or ``-infinity`` is before any anchor, a year past 9999 or ``infinity`` after."""
    start = -_AT_END - _AT_WIDTH
    if head[start - 1] == '"' and head[start + 10] == "T":  # '"2026-11-30T…'
        return head[start:-_AT_END] < earliest
    written = head[head.rindex(_AT_KEY) + len(_AT_KEY) : -_AT_END]
    return written.endswith(" BC") or written == "-infinity"


def _backdated(
    schema: str, position: int, seq: int, anchor: _Anchor, counts: dict[str, int]
) -> VerifyResult:
    """The event at ``position`` is sealed after ``anchor`` but dated well before it."""
    return _broken(
        schema, code="event_backdated", position=position, seq=seq, **counts,
        reason=f"監査ログ #{seq} は {anchor.anchored_at} の控え（{anchor.where}、連鎖位置 "
        f"{anchor.position}）より後に封印されていますが、日時がその控えより前です"
        "（控えの後に、過去の日時で追加されています）。",
    )  # fmt: skip


def _check(schema: str, *, sealed_now: int) -> VerifyResult:
    """Walk the chain in position order, recomputing every link; then anchors and gaps."""
    events, seals = _tables(schema)
    anchors, invalid = _anchors(schema)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        (now,) = cursor.fetchone()
    # Every anchor is dated by the database when it is taken, before any verification that
    # reads it: one dated later was made up. Compared all the same, it sets no earliest time
    # for the events after it (dated 2099, it named every one of them backdated, on every
    # verification, and hid whatever came after), and is reported once the chain is checked.
    misdated = [anchor for anchor in anchors if _dated_after(anchor.anchored_at, now)]
    by_position: dict[int, list[_Anchor]] = {}
    for anchor in anchors:
        by_position.setdefault(anchor.position, []).append(anchor)
    # (position, the earliest time an event sealed after it may have, the anchor) by position.
    floors = sorted(
        (
            (anchor.position, earliest, anchor)
            for anchor in anchors
            if anchor not in misdated
            and (earliest := _earliest_after(anchor.anchored_at)) is not None
        ),
        key=lambda floor: floor[0],
    )
    next_floor = 0
    floor: tuple[int, str, _Anchor] | None = None
    prev = genesis(schema)
    position = 0
    canonical = details_canonicaliser()
    counts = {"sealed_now": sealed_now, "anchors_checked": 0, "events": 0}

    def anchor_broken(at: int, seq: int | None, digest: bytes) -> VerifyResult | None:
        for anchor in by_position.get(at, ()):
            counts["anchors_checked"] += 1
            if anchor.head_hash != digest.hex():
                return _broken(
                    schema, code="anchor_mismatch", position=at, seq=seq, **counts,
                    reason=f"連鎖位置 {at} のハッシュが {anchor.anchored_at} の控え（{anchor.where}）と"
                    "一致しません。この位置までのどこかが書き換えられています。",
                )  # fmt: skip
        return None

    if (result := anchor_broken(0, None, prev)) is not None:
        return result
    walk = sql.SQL(
        "COPY (SELECT s.n, s.seq, s.prev_hash, s.hash, {columns}"
        " FROM {seals} AS s LEFT JOIN {events} AS e ON e.seq = s.seq ORDER BY s.n)"
        " TO STDOUT (FORMAT BINARY)"
    ).format(columns=sql.SQL(CANONICAL_COLUMNS_SQL), events=events, seals=seals)
    broken: VerifyResult | None = None
    with _streaming_plan(), connection.cursor() as cursor, cursor.copy(walk) as links:
        links.set_types(["int8", "int8", "bytea", "bytea", "text", "text", "text"])
        for n, seq, prev_hash, stored, head, details, tail in links.rows():
            position += 1
            if n == position and head is not None and prev_hash == prev:
                digest = link_from_parts(prev, head, details, tail, canonical)
                if digest == stored:
                    prev = digest
                    while next_floor < len(floors) and floors[next_floor][0] < position:
                        if floor is None or floors[next_floor][1] > floor[1]:
                            floor = floors[next_floor]
                        next_floor += 1
                    if floor is not None and _dated_before(head, floor[1]):
                        counts["events"] = position - 1
                        broken = _backdated(schema, position, seq, floor[2], counts)
                        break
                    if position in by_position:
                        counts["events"] = position
                        broken = anchor_broken(position, seq, digest)
                        if broken is not None:
                            break
                    continue
            counts["events"] = position - 1
            broken = _link_broken(schema, n, seq, head, prev_hash, prev, position, counts)
            break
        if broken is not None:
            # Leaving a COPY early cancels it, and the transaction with it: read to the end.
            for _block in links:
                pass
    if broken is not None:
        return broken
    counts["events"] = position
    for anchor in anchors:
        if anchor.position > position:
            counts["anchors_checked"] += 1
            return _broken(
                schema, code="anchor_beyond_chain", position=anchor.position,
                seq=anchor.head_seq, **counts,
                reason=f"連鎖が {anchor.anchored_at} の控え（{anchor.where}、連鎖位置 "
                f"{anchor.position}）より短くなっています（連鎖位置 {position} より後の封印が"
                "削除されています）。",
            )  # fmt: skip
    if invalid:
        return _broken(
            schema, code="anchor_invalid", position=None, seq=None, **counts,
            reason=f"控えのファイル {invalid[0].label} は、この自治体の控えとして読めません"
            "（控え以外のファイルが置かれたか、書き換えられています）。",
        )  # fmt: skip
    if misdated:
        return _broken(
            schema, code="anchor_invalid", position=misdated[0].position,
            seq=misdated[0].head_seq, **counts,
            reason=f"控え（{misdated[0].where}、連鎖位置 {misdated[0].position}）の日時 "
            f"{misdated[0].anchored_at} が検証の時点より後です（控えとして作られたものでは"
            "ありません。置かれたか、書き換えられています）。",
        )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "SELECT e.seq FROM {events} AS e WHERE NOT EXISTS"
                " (SELECT 1 FROM {seals} AS s WHERE s.seq = e.seq) ORDER BY e.seq LIMIT 1"
            )
            .format(events=events, seals=seals)
            .as_string()
        )
        row = cursor.fetchone()
    if row is not None:
        return _broken(
            schema, code="unsealed_event", position=None, seq=row[0], **counts,
            reason=f"監査ログ #{row[0]} が封印されていません。",
        )  # fmt: skip
    return VerifyResult(
        schema=schema, ok=True, events=position, sealed_now=sealed_now,
        anchors_checked=counts["anchors_checked"], head_hash=prev.hex(),
    )  # fmt: skip


def audit_verify(
    *, actor: Any = None, schema: str | None = None, wait: bool = True, via: str = ""
) -> VerifyResult:
    """Seal what is pending, then recompute the whole chain and compare (監査ログの検証).

    Every link's hash is recomputed from the event in position order and compared with
    its seal; every anchor (its rows in public, and every file in object storage, every
    version of each on a locked bucket) must match the recomputed chain at its position,
    so a chain rewritten end to end is found too, and a newer forged file does not hide an
    older one; every event must have a seal. The result names the first broken position
    and ``seq``.
    Called outside a transaction it checks one consistent snapshot (REPEATABLE READ).
    With a person as ``actor``, or ``via`` naming a server operator's command, the
    verification and its outcome are recorded as an ``audit.verify`` event.
    One verification of a city runs at a time: another one waits for it, or with
    ``wait=False`` (the API) raises ``AuditVerifyRunning`` at once.
    """
    schema = schema or require_tenant()
    with schema_context(schema):
        require_tenant()
        with _verify_lock(schema, wait=wait), _session_lock(schema):
            outermost = not connection.in_atomic_block
            with transaction.atomic():
                if outermost:
                    with connection.cursor() as cursor:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                sealed_now = _seal_pending(schema, full=True, settle=SETTLE)
                result = _check(schema, sealed_now=sealed_now)
        if actor is not None or via:
            audit_record(
                actor=actor, action="audit.verify",
                details={"ok": result.ok, "events": result.events, "code": result.code,
                         "seq": result.seq, **({"via": via} if via else {})},
            )  # fmt: skip
    log = logger.info if result.ok else logger.error
    log("audit verify: schema=%s ok=%s events=%s code=%s seq=%s", schema, result.ok,
        result.events, result.code, result.seq)  # fmt: skip
    return result


def audit_anchor(*, actor: Any = None, schema: str | None = None) -> AuditAnchor:
    """Copy the city's chain head to the public schema and to object storage (控え).

    Seals every pending event first. The public row is written every time; object storage
    keeps one file per city and day, ``anchors/<schema>/<YYYY-MM-DD>.json`` under the
    public prefix (the first anchor of that day, Japan time); files are never replaced,
    and with ``AUDIT_ANCHOR_LOCK_DAYS`` they are put under S3 Object Lock. Raises
    ``AnchorLockUnavailable``, before anything is sealed or written, when the lock is
    configured and the bucket cannot lock. This is the one place the audit trail crosses
    into the public schema.
    """
    schema = schema or require_tenant()
    with schema_context(schema):
        require_tenant()
        anchor_lock_check()
        audit_seal(schema=schema, full=True)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(cursor, schema)])
            position, head, head_seq = _head(cursor, schema)
            cursor.execute(
                sql.SQL("SELECT count(*) FROM {}").format(_tables(schema)[1]).as_string()
            )
            (sealed_events,) = cursor.fetchone()
            municipality = Municipality.objects.get(schema_name=schema)
            name = f"anchors/{schema}/{timezone.localdate():%Y-%m-%d}.json"
            with schema_context("public"):
                # A day's file is never replaced: the first anchor of the day writes it.
                store = not default_storage.exists(name)
                anchor = AuditAnchor.objects.create(
                    municipality=municipality, position=position, head_seq=head_seq,
                    head_hash=head.hex(), sealed_events=sealed_events,
                    storage_name=name if store else "",
                )  # fmt: skip
                if store:
                    anchor_file_write(
                        name, _anchor_json(anchor, schema), anchored_at=anchor.anchored_at
                    )
            if actor is not None:
                audit_record(
                    actor=actor, action="audit.anchor",
                    details={"position": position, "head_hash": head.hex()},
                )  # fmt: skip
    logger.info("audit anchor: schema=%s position=%s", schema, position)
    return anchor


def _anchor_json(anchor: AuditAnchor, schema: str) -> bytes:
    anchored_at: datetime = anchor.anchored_at
    payload = {
        "format": f"daicho-audit-anchor/{FORMAT}",
        "schema": schema,
        "municipality_code": anchor.municipality.code,
        "position": anchor.position,
        "head_seq": anchor.head_seq,
        "head_hash": anchor.head_hash,
        "sealed_events": anchor.sealed_events,
        "genesis": genesis(schema).hex(),
        "anchored_at": anchored_at.isoformat(),
    }
    return json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
