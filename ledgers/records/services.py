"""Writes to records. The only code that changes ``Record`` and ``RecordVersion``.

Each service runs in one transaction: validate with the field types, write the record,
write its new generation (a full snapshot with the diff; a create's diff is its
snapshot, ``RecordVersion.changes``), write the audit event. A write
names the generation it read (``expected_generation``); a stale one raises
``GenerationConflict`` and writes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
import psycopg
import psycopg.sql
from django.db import connection, transaction
from django.utils import timezone
from psycopg import pq

from daicho.db.prepared import prepared
from daicho.tenancy.guard import require_tenant
from ledgers.access.policy import (
    LedgerPolicy,
    disclosure_field,
    policy_for,
    record_flags_in_force,
)
from ledgers.audit.context import TOKEN_KEY, audit_details_json, audit_token
from ledgers.audit.services import audit_record
from ledgers.definitions.models import Ledger
from ledgers.exceptions import (
    AccessDenied,
    DefinitionChanged,
    GenerationConflict,
    RecordInvalid,
    RecordNotFound,
    RecordStateError,
    VersionNotFound,
)
from ledgers.fields import field_type_registry
from ledgers.fields.exceptions import FieldError
from ledgers.fields.normalize import text_problem
from ledgers.fields.registry import CACHEABLE_TEXT, value_cache_key
from ledgers.records import copy as copy_format
from ledgers.records.models import Record, RecordVersion, values_diff
from ledgers.records.references import (
    reference_paths,
    references_in,
    references_missing,
    references_unseen,
)
from ledgers.search.index import GROUP_TYPES, IndexData, Indexer
from ledgers.webhooks.services import (
    WEBHOOK_DELIVERIES_CTE,
    webhook_deliveries_schedule,
    webhook_events_enqueue,
    webhook_listeners_sql,
)

Values = dict[str, Any]


# --- validation and derived data --------------------------------------------------------


@dataclass(frozen=True)
class _BoundField:
    key: str
    label: str
    required: bool
    removed: bool
    field_type: Any
    options: Mapping[str, Any]
    #: Cleaned values by input, for a pure type (``FieldType.pure``), else ``None``.
    cleaned: dict[Any, Any] | None = None
    #: The cleaned value with what it puts in the search index (recheck text, key bytes),
    #: by the same input, once a new record's path asked (``values_clean_and_index``): one
    #: lookup per field of a new record when its input repeats.
    indexed: dict[Any, tuple[Any, Any, bytes]] = dataclasses.field(default_factory=dict)
    #: The input a new record without this field takes (``FieldType.initial``), or ``None``.
    initial: Any = None


@dataclass(frozen=True)
class LedgerSchema:
    """A ledger's fields bound to their types, built once per definition version."""

    version: int
    by_key: dict[str, _BoundField]
    live: tuple[_BoundField, ...]
    indexer: Indexer
    #: Every field, removed ones included, in ``jsonb``'s order of object keys (shorter
    #: first, then by their UTF-8 bytes): ``values_clean`` builds a record's data in this
    #: order, so PostgreSQL finds each object it receives already sorted.
    ordered: tuple[_BoundField, ...] = ()
    #: The reference fields (top-level keys; per group, its reference sub-fields): their
    #: targets are checked when written (``ledgers.records.references``).
    references: tuple[frozenset[str], dict[str, frozenset[str]]] = (frozenset(), {})

    @classmethod
    def of(cls, ledger: Ledger) -> LedgerSchema:
        """The schema of ``ledger`` at its definition version: kept on the instance and in
        process memory across requests, keyed by city schema, ledger and definition
        version (a definition never changes without a new version). The pure fields' clean
        caches and the indexer's value caches live in it, which is what makes them fast;
        an API request works on its own copy of a cached ledger, so building the schema
        again per request cost ~0.1 ms of every write (measured 2026-11-29). The key holds
        the ledger's creation time as well: ids start afresh in a schema made again."""
        cached = getattr(ledger, "_schema_cache", None)
        if cached is not None and cached.version == ledger.definition_version:
            return cached
        # The creation time too: a city's schema dropped and provisioned again under its
        # name starts its ids afresh, and a process must not take the old city's ledger
        # 1 for the new one's.
        key = (connection.schema_name, ledger.pk, ledger.definition_version, ledger.created_at)
        schema = _SCHEMAS.get(key)
        if schema is None:
            schema = cls._build(ledger)
            if len(_SCHEMAS) >= 64:
                _SCHEMAS.clear()
            _SCHEMAS[key] = schema
        ledger._schema_cache = schema  # type: ignore[attr-defined]
        return schema

    @classmethod
    def _build(cls, ledger: Ledger) -> LedgerSchema:
        fields = ledger.fields(include_removed=True)
        bound = []
        for f in fields:
            field_type = field_type_registry.get(f["type"])
            removed = bool(f.get("removed"))
            bound.append(_BoundField(
                key=f["key"], label=f["label"], required=bool(f.get("required")),
                removed=removed, field_type=field_type, options=f.get("options") or {},
                cleaned={} if field_type.pure and not removed else None,
                initial=None if removed else field_type.initial(f.get("options") or {}),
            ))  # fmt: skip
        return cls(
            version=ledger.definition_version,
            by_key={b.key: b for b in bound},
            live=tuple(b for b in bound if not b.removed),
            indexer=Indexer(fields, ledger.pk),
            ordered=tuple(sorted(bound, key=lambda b: copy_format.jsonb_key_order(b.key))),
            references=reference_paths(ledger),
        )


_SCHEMAS: dict[tuple[str, int, int, Any], LedgerSchema] = {}
#: Inputs remembered per field by ``values_clean`` before its cache starts again.
CLEAN_CACHE_LIMIT = 20_000


_MISSING = object()


def _clean(
    schema: LedgerSchema, field: _BoundField, raw: Any, *, index: bool
) -> tuple[Any, Any, bytes | None]:
    """``field_type.clean`` of ``raw`` and, with ``index``, what the cleaned value puts in
    the search index (its recheck text and key bytes; ``None`` for both without), each
    remembered per input for a pure type: a new record's path finds both by one input key
    where validation then the indexer looked up three. A remembered object is shared by
    the records that gave the same input (record values are read-only trees); an input
    that fails is not remembered."""
    cache = field.cleaned
    key = (
        None
        if cache is None
        else (raw if type(raw) is str and len(raw) <= CACHEABLE_TEXT else value_cache_key(raw))
    )
    if cache is None or key is None:
        cleaned = field.field_type.clean(raw, field.options)
        if not index:
            return cleaned, None, None
        return cleaned, *schema.indexer.field_indexed(field.key, cleaned)
    if index:
        indexed = field.indexed.get(key)
        if indexed is not None:
            return indexed
    cleaned = cache.get(key, _MISSING)
    if cleaned is _MISSING:
        cleaned = field.field_type.clean(raw, field.options)
        if len(cache) >= CLEAN_CACHE_LIMIT:
            cache.clear()
            field.indexed.clear()
        cache[key] = cleaned
    if not index:
        return cleaned, None, None
    indexed = field.indexed[key] = (cleaned, *schema.indexer.field_indexed(field.key, cleaned))
    return indexed


def _clean_values(
    ledger: Ledger,
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    *,
    index: bool,
    closed: Collection[str] = (),
) -> tuple[Values, IndexData | None]:
    if not isinstance(values, Mapping):
        raise RecordInvalid({"values": ["values はオブジェクトで指定してください。"]})
    schema = LedgerSchema.of(ledger)
    errors: dict[str, list[str]] = {}
    # Values of fields removed from the definition stay in the generations that had them;
    # new generations no longer carry them. Unchanged values are shared with ``current``
    # (both are read-only JSON trees). The data is built in ``jsonb``'s key order
    # (``LedgerSchema.ordered``): PostgreSQL sorts every object's keys it receives, and a
    # sorted one costs it a single pass (measured: 0.7–1.4 µs per record's data).
    data: Values = {}
    texts: dict[str, str] = {}
    parts: list[bytes] = []
    given = 0
    for field in schema.ordered:
        raw = values.get(field.key, _MISSING)
        if raw is _MISSING:
            if current is None:
                # A new record without the field takes the type's initial value (照会可否:
                # the departments 可 by default), cleaned as if it had been given.
                raw = field.initial
            elif current and not field.removed and field.key in current:
                data[field.key] = current[field.key]
            if raw is _MISSING or raw is None:
                continue
        else:
            given += 1
        if field.removed:
            errors[field.key] = ["削除された項目には値を設定できません。"]
            continue
        # A new record's repeated short text (a status, a town, a date): its cleaned value
        # and index by one lookup, without ``_clean``'s call (measured ~0.3 µs a field).
        hit = (
            field.indexed.get(raw)
            if index and type(raw) is str and field.cleaned is not None
            else None
        )
        if hit is not None:
            cleaned, text, keys = hit
        else:
            try:
                cleaned, text, keys = _clean(schema, field, raw, index=index)
            except FieldError as exc:
                errors[field.key] = [exc.message]
                continue
        if cleaned is not None:
            data[field.key] = cleaned
        if keys:
            parts.append(keys)
        if text:
            if type(text) is str:
                texts[field.key] = text
            else:
                texts.update(text)
    if given < len(values):
        for key in values:
            if key not in schema.by_key:
                errors[key] = ["この台帳にない項目です。"]
    for field in schema.live:
        if current is not None and field.key in closed:
            continue
        if field.required and data.get(field.key) in (None, "", [], {}) and field.key not in errors:
            errors[field.key] = [f"「{field.label}」は必須です。"]
    if errors:
        raise RecordInvalid(errors)
    if not index:
        return data, None
    keys_binary = b"".join(parts)
    return data, IndexData(texts=texts, keys_binary=keys_binary, keys_count=len(keys_binary) >> 3)


def values_clean(
    *,
    ledger: Ledger,
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
    closed: Collection[str] = (),
) -> Values:
    """Validate ``values`` against the ledger's live fields and return the whole new data.

    With ``current`` the values are a partial change merged onto it (``None`` clears a
    field). Unknown and removed keys are errors; required fields must hold a value after
    the merge, except the ``closed`` ones (the writer's ``LedgerPolicy.closed_fields``):
    the writer may neither see nor fill them, and 「「保護施設」は必須です。」 told it which
    records hold no value in a field they show masked, filled or not (a field made
    required after records were written). Raises ``RecordInvalid`` with every problem at
    once.
    """
    return _clean_values(ledger, values, current, index=False, closed=closed)[0]


def values_unchanged(ledger: Ledger, kept: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """Whether ``data`` (``values_clean`` of a change onto ``kept``) changes nothing the
    change could have written: equal, but for what a new generation no longer carries and no
    read shows (``LedgerPolicy.mask``): the values of removed fields (and of keys of no
    field) that ``kept`` holds, and in a group's rows sent back as read, those of sub-fields
    dropped from the group since. Such a change wrote a generation only on the records that
    held one, and its writer learnt from the generation it got back which records named a
    value it may not read (a shelter, an offender's contact)."""
    if data == kept:
        return True
    by_key = LedgerSchema.of(ledger).by_key
    for key in kept.keys() - data.keys():
        field = by_key.get(key)
        if field is not None and not field.removed:
            return False  # a live field cleared
    for key, value in data.items():
        held = kept.get(key, _MISSING)
        if held == value:
            continue
        field = by_key.get(key)
        if field is None or field.field_type.type not in GROUP_TYPES or not isinstance(held, list):
            return False
        subs = {sub["key"] for sub in field.options.get("fields") or ()}
        rows = [
            {k: v for k, v in row.items() if k in subs} if isinstance(row, Mapping) else row
            for row in held
        ]
        if rows != value:
            return False
    return True


def values_clean_and_index(
    *, ledger: Ledger, values: Mapping[str, Any]
) -> tuple[Values, IndexData]:
    """``values_clean`` of a new record's ``values`` and the search index of the result
    (``search_index_for``) in one pass: a pure field's cleaned value, recheck text and keys
    are remembered by the input (``_clean``), two lookups of one key per field where
    validation then the indexer took three. The bulk create's path, where most inputs repeat (statuses, towns,
    names, dates); the result equals the two steps' (tested)."""
    data, index = _clean_values(ledger, values, None, index=True)
    return data, cast(IndexData, index)


def _require_references(
    policy: LedgerPolicy, ledger: Ledger, values: Mapping[str, Any], *, write: str
) -> None:
    """``RecordInvalid`` naming each reference among ``values`` (cleaned) whose record is
    missing, deleted or out of the writer's sight (``ledgers.records.references``), carrying
    them for ``record.refused`` (``write``: the write refused); no query for a ledger
    without reference fields."""
    paths = LedgerSchema.of(ledger).references
    if not paths[0] and not paths[1]:
        return
    found = references_in(paths, values)
    if found:
        check = references_missing(
            policy=policy, items=[(0, key, path, ref) for key, path, ref in found]
        )
        if check.errors:
            raise RecordInvalid(
                check.errors[0], refused_references=check.refusals(policy=policy, write=write)
            )


def search_index_for(*, ledger: Ledger, data: Mapping[str, Any]) -> IndexData:
    """What the search index stores for a record's values (``ledgers.search.index``)."""
    return LedgerSchema.of(ledger).indexer.index(data)


# The values a change removed go to the past-generation index (``SearchValue``), with the
# last generation that held them: the new one's predecessor.
_PAST_INSERT = """
    INSERT INTO ledgers_searchvalue (ledger_id, record_id, path, value, keys, generation)
    SELECT %(ledger)s::bigint, {source}.id, p.path, p.value,
        string_to_array(p.keys, ',')::integer[], {source}.generation - 1
    FROM {source}, unnest(%(h_paths)s::text[], %(h_values)s::text[], %(h_keys)s::text[])
        AS p(path, value, keys)
    ON CONFLICT (record_id, path, value) DO UPDATE SET generation = EXCLUDED.generation
"""


def pg_text_array(values: Sequence[str]) -> str:
    """A ``text[]`` literal, formatted here: psycopg's generic list dumper inspects every
    element with a regular expression, and records carry hundreds of keys (it was most of
    the bulk path's time). Escaping runs once over the joined text; U+001F never occurs in
    keys or normalised values (normalisation removes control characters)."""
    if not values:
        return "{}"
    joined = "\x1f".join(values).replace("\\", "\\\\").replace('"', '\\"')
    return '{"' + joined.replace("\x1f", '","') + '"}'


def pg_int_array(values: Iterable[int]) -> str:
    """An ``integer[]`` literal (the stored search keys)."""
    return "{" + ",".join(map(str, values)) + "}"


def _past_params(departed: Sequence[tuple[str, str, Sequence[int]]]) -> dict[str, Any]:
    # Each value's keys travel as one comma-separated string, split in SQL (unnest cannot
    # take a 2-D array of uneven rows).
    return {
        "h_paths": pg_text_array([path for path, _v, _k in departed]),
        "h_values": pg_text_array([value for _p, value, _k in departed]),
        "h_keys": pg_text_array([",".join(map(str, keys)) for _p, _v, keys in departed]),
    }


def _actor_id(actor: Any) -> int | None:
    return getattr(actor, "pk", None)


def _write_version(
    *, record: Record, action: str, actor: Any, at: datetime, reason: str, before: Mapping[str, Any]
) -> RecordVersion:
    return RecordVersion.objects.create(
        record=record, generation=record.generation, action=action, actor_id=_actor_id(actor),
        at=at, reason=reason, definition_version=record.definition_version, data=record.data,
        state=record.state, deleted=record.deleted_at is not None,
        diff=values_diff(before, record.data),
    )  # fmt: skip


def _policy(actor: Any, ledger: Ledger, policy: LedgerPolicy | None) -> LedgerPolicy:
    if policy is None:
        return policy_for(actor, ledger)
    if policy.actor is not actor or policy.ledger.pk != ledger.pk:
        raise ValueError("the policy given is not the actor's on this ledger")
    return policy


def reason_require_storable(reason: Any) -> None:
    """Refuse a reason the trail could not show as typed (``text_problem``: a control,
    bidirectional or invisible character): a reason is kept in the record's history and
    the audit trail, and one that reorders or hides its letters misleads the auditor who
    reads it there. Line breaks are allowed (a reason may be a few lines)."""
    if isinstance(reason, str) and reason:
        problem = text_problem(reason)
        if problem is not None:
            raise RecordInvalid({"reason": [f"理由に{problem}。"]})


def state_require_storable(state: Any, *, stored: str | None = None) -> None:
    """Refuse a record's state (its step in the ledger's work: 受付, 対応中) holding what
    ``text_problem`` refuses, on one line. It is shown in every list and filtered on
    exactly (``?state=対応中``): one spelt with a zero-width space looked the same and that
    filter missed it (a case dropped from its queue unseen), and control characters (a
    terminal's escape) reached lists and exports. The state the record holds passes
    (``stored``, written before the rule)."""
    if isinstance(state, str) and state and state != stored:
        problem = text_problem(state, allow_newlines=False)
        if problem is not None:
            raise RecordInvalid({"state": [f"状態に{problem}。"]})


def _locked(record: Record, expected_generation: int | None, policy: LedgerPolicy) -> Record:
    """Lock the record row; refuse when it moved past the generation the caller read.

    A record the policy does not show is missing, exactly as one that does not exist.
    """
    try:
        locked = policy.records(
            Record.objects.select_for_update(of=("self",)).select_related("ledger")
        ).get(pk=record.pk)
    except Record.DoesNotExist:
        raise RecordNotFound() from None
    if expected_generation is not None and locked.generation != expected_generation:
        raise GenerationConflict(expected=expected_generation, actual=locked.generation)
    return locked


# --- single-record services -------------------------------------------------------------


# Parameters carry explicit types: the statements run as server-side prepared statements
# (``_execute_prepared``), where a parameter in a SELECT list gets no type from its column.
_CREATE_SQL = (
    """
WITH p AS (
    SELECT %(id)s::uuid AS id, %(ledger)s::bigint AS ledger, %(data)s::jsonb AS data,
        %(dv)s::integer AS dv, %(state)s::text AS state, %(actor)s::integer AS actor,
        %(now)s::timestamptz AS now
), r AS (
    INSERT INTO ledgers_record (id, ledger_id, data, search_keys, search_text, generation,
        definition_version, state, created_by_id, created_at, updated_by_id, updated_at,
        deleted_reason)
    SELECT id, ledger, data, %(keys)s::integer[], %(texts)s::jsonb, 1, dv, state, actor, now,
        actor, now, ''
    FROM p
    RETURNING id, generation
), v AS (
    INSERT INTO ledgers_recordversion (record_id, generation, action, actor_id, at, reason,
        definition_version, data, state, deleted)
    SELECT id, 1, 'create', actor, now, %(reason)s::text, dv, data, state, false
    FROM p
), w AS ("""
    + WEBHOOK_DELIVERIES_CTE.format(source="r")
    + """), a AS (
    INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, record_id, generation, details)
    SELECT actor, 'record.create', %(code)s::text, id, 1, %(details)s::jsonb FROM p
)
SELECT coalesce((SELECT array_agg(id) FROM w), '{}') FROM r
"""
)

# The generation check is part of the UPDATE: a concurrent writer that got there first
# leaves no row matching, and nothing is written.
_UPDATE_SQL = (
    """
WITH u AS (
    UPDATE ledgers_record SET data = %(data)s::jsonb, search_keys = %(keys)s::integer[],
        search_text = %(texts)s::jsonb, generation = generation + 1,
        definition_version = %(dv)s::integer, state = %(state)s::text,
        updated_by_id = %(actor)s::integer, updated_at = %(now)s::timestamptz
    WHERE id = %(id)s::uuid AND generation = %(expected)s::integer AND deleted_at IS NULL
        -- validated against this definition version: refuse if it changed meanwhile
        AND EXISTS (SELECT 1 FROM ledgers_ledger AS l
                    WHERE l.id = %(ledger)s::bigint AND l.definition_version = %(dv)s::integer)
    RETURNING id, generation, data, definition_version, state, updated_by_id, updated_at
), v AS (
    INSERT INTO ledgers_recordversion (record_id, generation, action, actor_id, at, reason,
        definition_version, data, state, deleted, diff)
    SELECT id, generation, 'update', updated_by_id, updated_at, %(reason)s::text,
        definition_version, data, state, false, %(diff)s::jsonb
    FROM u
), h AS ("""
    + _PAST_INSERT.format(source="u")
    + """), w AS ("""
    + WEBHOOK_DELIVERIES_CTE.format(source="u")
    + """), a AS (
    INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, record_id, generation, details)
    SELECT updated_by_id, 'record.update', %(code)s::text, id, generation, %(details)s::jsonb
    FROM u
)
SELECT generation, coalesce((SELECT array_agg(id) FROM w), '{}') FROM u
"""
)


def _execute_prepared(sql: str, params: Mapping[str, Any]) -> Any:
    """Run one of the write statements above (large, and the same for every record) as a
    prepared statement (``daicho.db.prepared``) and return its first row."""
    with prepared(sql, params) as cursor:
        return cursor.fetchone()


def record_create(
    *,
    actor: Any,
    ledger: Ledger,
    values: Mapping[str, Any],
    state: str = "",
    reason: str = "",
    policy: LedgerPolicy | None = None,
) -> Record:
    """Register a record: generation 1, its first version and an audit event.

    The three rows go in with one statement: one round trip, atomic on its own and inside
    the caller's transaction alike. ``policy`` is the actor's (computed when not given).
    A field above the writer's clearance for a create (``LedgerPolicy.write_clearance``:
    its read clearance, or its create grants' if higher) is refused (403).
    """
    require_tenant()
    reason_require_storable(reason)
    state_require_storable(state)
    policy = _policy(actor, ledger, policy)
    policy.require("create")
    if isinstance(values, Mapping):
        policy.require_writable(values, capability="create")
    data = values_clean(ledger=ledger, values=values)
    _require_references(policy, ledger, data, write="record.create")
    now = timezone.now()
    index = search_index_for(ledger=ledger, data=data)
    record = Record(
        id=uuid.uuid4(), ledger=ledger, data=data, search_keys=index.keys, search_text=index.texts,
        generation=1, definition_version=ledger.definition_version, state=state,
        created_by_id=_actor_id(actor), created_at=now, updated_by_id=_actor_id(actor), updated_at=now,
    )  # fmt: skip
    (deliveries,) = _execute_prepared(
            _CREATE_SQL,
            {
                "id": record.id, "ledger": ledger.pk, "data": _json(data), "keys": index.keys_sql,
                "texts": _json(index.texts), "dv": record.definition_version, "state": state,
                "actor": record.created_by_id, "now": now, "reason": reason, "code": ledger.code,
                "details": audit_details_json(), "wh_events": ["record.created"],
            },
        )  # fmt: skip
    webhook_deliveries_schedule(deliveries)
    record._state.adding = False
    record._state.db = connection.alias
    return record


def record_update(
    *,
    actor: Any,
    record: Record,
    values: Mapping[str, Any],
    expected_generation: int,
    reason: str = "",
    state: str | None = None,
    policy: LedgerPolicy | None = None,
    write_unchanged: bool = False,
) -> Record:
    """Change some values (``None`` clears one) as a new generation (``_record_update``).

    A change that changes nothing writes no generation, unless ``write_unchanged``: for a
    writer who may not read the record (a grant to search and update, a token without
    ``records:read``), whether a write changed anything would tell whether a guessed value
    was right; its every write is a generation (and a ``record.update`` event). A writer
    whose departments the record is disclosed to do not give ``view``
    (``LedgerPolicy.for_record``) is one, whatever ``write_unchanged`` says.

    If the ledger's definition changed since ``record`` and the policy were read, the
    values are validated again against the new one (once)."""
    require_tenant()
    reason_require_storable(reason)
    state_require_storable(state, stored=record.state)
    policy = _policy(actor, record.ledger, policy)
    try:
        return _record_update(
            actor=actor, record=record, values=values, expected_generation=expected_generation,
            reason=reason, state=state, policy=policy, write_unchanged=write_unchanged,
        )  # fmt: skip
    except DefinitionChanged:
        fresh = Ledger.objects.get(pk=policy.ledger.pk)
        record.ledger = fresh
        return _record_update(
            actor=actor, record=record, values=values, expected_generation=expected_generation,
            reason=reason, state=state, policy=dataclasses.replace(policy, ledger=fresh),
            write_unchanged=write_unchanged,
        )  # fmt: skip


def _record_update(
    *,
    actor: Any,
    record: Record,
    values: Mapping[str, Any],
    expected_generation: int,
    reason: str,
    state: str | None,
    policy: LedgerPolicy,
    write_unchanged: bool = False,
) -> Record:
    """Change some values (``None`` clears one) as a new generation.

    One statement updates the record only if it is still at ``expected_generation`` (and
    its ledger's definition is the one the values were validated against), and writes the
    version, the replaced values' history and the audit event. When ``record`` was read at
    ``expected_generation`` its values are the ones to merge onto and the policy's record
    filter is checked on them; otherwise the current values are read first.
    """
    policy.require("update")
    policy.require_writable(values)
    current = _as_read(record, expected_generation, policy)
    if current is None:
        current = policy.records(Record.objects.filter(pk=record.pk)).values(*_READ_FIELDS).first()
    if current is None:
        raise RecordNotFound()
    if current["generation"] != expected_generation:
        raise GenerationConflict(expected=expected_generation, actual=current["generation"])
    if current["deleted_at"] is not None:
        raise RecordStateError("削除された記録は変更できません。先に復元してください。")
    # Through the departments the record is disclosed to (``LedgerPolicy.require_on``).
    policy = policy.require_on(
        "update", current["data"], written_under=current["definition_version"]
    )
    policy.require_writable(values)
    # Who may read is asked of the record, not of the ledger: a member of a department
    # that views the ledger and of the one the record is disclosed to, which may only
    # search and update it, was told by an unchanged generation that a guess was right.
    write_unchanged = write_unchanged or not policy.can("view")
    ledger = policy.ledger
    before = current["data"]
    _require_references_seen(policy, before, values)
    # The values kept go into a generation of this definition version: a 照会可否 flag
    # written before its department was listed again goes with them as the 不可 it is.
    kept = record_flags_in_force(ledger, before, written_under=current["definition_version"])
    data = values_clean(ledger=ledger, values=values, current=kept, closed=policy.closed_fields())
    _require_own_rights_kept(policy, kept, data)
    # Only the references written now: one kept from before may point at a record
    # deleted since, which must not block a change of the record's other values.
    _require_references(
        policy, ledger, {k: data[k] for k in values if k in data}, write="record.update"
    )
    new_state = current["state"] if state is None else state
    if (
        new_state == current["state"]
        and not write_unchanged
        and values_unchanged(ledger, kept, data)
    ):
        return record
    now = timezone.now()
    diff = values_diff(before, data)
    schema = LedgerSchema.of(ledger)
    index = schema.indexer.index(data)
    # The values the record held, from the same (cached) indexer: no need to read them.
    departed = schema.indexer.departed(schema.indexer.index(before).texts, index)
    row = _execute_prepared(
            _UPDATE_SQL,
            {
                "id": record.pk, "expected": expected_generation, "data": _json(data),
                "keys": index.keys_sql, "texts": _json(index.texts), "dv": ledger.definition_version,
                "state": new_state, "actor": _actor_id(actor), "now": now, "reason": reason,
                "diff": _json(diff), "code": ledger.code,
                "details": audit_details_json({"fields": sorted(diff)}),
                "ledger": ledger.pk, **_past_params(departed),
                "wh_events": ["record.updated"] + (["record.workflow_changed"] if new_state != current["state"] else []),
            },
        )  # fmt: skip
    if row is None:
        latest = (
            Record.objects.filter(pk=record.pk)
            .values_list("generation", "ledger__definition_version")
            .first()
        )
        if latest is None:
            raise RecordNotFound()
        if latest[0] != expected_generation:
            raise GenerationConflict(expected=expected_generation, actual=latest[0])
        if latest[1] != ledger.definition_version:
            raise DefinitionChanged()
        # Not reached through the services (a delete moves the generation): refuse as missing.
        raise RecordNotFound()
    webhook_deliveries_schedule(row[1])
    record.data = data
    record.search_keys, record.search_text = index.keys, index.texts
    record.generation = row[0]
    record.definition_version = ledger.definition_version
    record.state = new_state
    record.updated_by_id = _actor_id(actor)
    record.updated_at = now
    record.ledger = ledger
    return record


_READ_FIELDS = ("data", "generation", "deleted_at", "state", "ledger_id", "definition_version")


#: A write that would disclose the record to the writer's own other department.
OWN_DISCLOSURE = (
    "所属するほかの課を、その課の立場では見られない記録の照会可否で「可」にすることは"
    "できません。その課の職員に依頼してください。"
)


def _require_own_rights_kept(
    policy: LedgerPolicy, kept: Mapping[str, Any], data: Mapping[str, Any]
) -> None:
    """Raise ``AccessDenied`` (403, the 照会可否 field named) when the write from ``kept``
    (the flags in force) to ``data`` would give its writer more on the record than it has
    (``LedgerPolicy.raises_own_rights``)."""
    if policy.raises_own_rights(kept, data):
        denied = AccessDenied(OWN_DISCLOSURE, capability="update")
        denied.detail["fields"] = [disclosure_field(policy.ledger)]
        raise denied


#: A change of a field whose value links to a record out of the writer's sight.
HIDDEN_REFERENCE = "閲覧できない記録への参照を含む項目は変更できません。"


def _require_references_seen(
    policy: LedgerPolicy, before: Mapping[str, Any], values: Mapping[str, Any]
) -> None:
    """Raise ``AccessDenied`` (403) naming the fields ``values`` would change whose stored
    value holds a reference the writer sees masked (``references_unseen``): the writer
    cannot send it back (a group's rows echoed as read were refused), so a group's rows
    rewritten without it, or the field cleared, erased a link it may not see."""
    paths = LedgerSchema.of(policy.ledger).references
    if not (paths[0] or paths[1]) or not isinstance(values, Mapping):
        return
    written = {key: before[key] for key in values if key in before}
    unseen = references_unseen(policy=policy, items=[(0, written)], paths=paths)
    if unseen:
        denied = AccessDenied(HIDDEN_REFERENCE, capability="update")
        denied.detail["fields"] = sorted(key for _index, key in unseen)
        raise denied


def _as_read(record: Record, expected_generation: int, policy: LedgerPolicy) -> dict | None:
    """The values ``record`` was read with, when they are those of ``expected_generation``
    and the policy shows them; ``None`` when they must be read again."""
    if record._state.adding or record.generation != expected_generation:
        return None
    if set(_READ_FIELDS) & record.get_deferred_fields():
        return None
    if record.ledger_id != policy.ledger.pk:
        return None
    if not policy.shows(record.data, written_under=record.definition_version):
        raise RecordNotFound()
    return {name: getattr(record, name) for name in _READ_FIELDS}


def record_delete(
    *,
    actor: Any,
    record: Record,
    reason: str,
    expected_generation: int | None = None,
    policy: LedgerPolicy | None = None,
) -> Record:
    """Soft-delete: a new generation marked deleted; values stay in the history."""
    require_tenant()
    reason_require_storable(reason)
    policy = _policy(actor, record.ledger, policy)
    policy.require("delete")
    if not (reason or "").strip():
        raise RecordInvalid({"reason": ["削除の理由を入力してください。"]})
    with transaction.atomic():
        record = _locked(record, expected_generation, policy)
        policy.require_on("delete", record.data, written_under=record.definition_version)
        if record.is_deleted:
            raise RecordStateError("この記録は既に削除されています。")
        now = timezone.now()
        record.generation += 1
        record.deleted_at = now
        record.deleted_by_id = _actor_id(actor)
        record.deleted_reason = reason.strip()[:500]
        record.updated_by_id = _actor_id(actor)
        record.updated_at = now
        record.save()
        _write_version(
            record=record, action=RecordVersion.Action.DELETE, actor=actor, at=now,
            reason=record.deleted_reason, before=record.data,
        )  # fmt: skip
        audit_record(
            actor=actor, action="record.delete", ledger_code=record.ledger.code,
            record_id=record.id, generation=record.generation,
        )  # fmt: skip
        webhook_events_enqueue(
            ledger=record.ledger, event="record.deleted", records=[(record.id, record.generation)]
        )
    return record


def _listed_flags_only(ledger: Ledger, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with each 照会可否 (``department_flags``) value cut to the departments its
    field lists now, and each group's rows to the sub-fields it holds now. An old generation
    holds the flag of a department taken off the list since, or a sub-field dropped from its
    group since: refused as unknown, each made that generation impossible to restore (such
    a department is 不可 for every record anyway, ``policy_for``; such a sub-field is
    dropped as a removed field's value is)."""
    for spec in ledger.fields():
        value = values.get(spec["key"])
        if spec["type"] == "department_flags" and isinstance(value, Mapping):
            listed = set((spec.get("options") or {}).get("departments") or ())
            values[spec["key"]] = {code: flag for code, flag in value.items() if code in listed}
        elif spec["type"] in GROUP_TYPES and isinstance(value, list):
            subs = {sub["key"] for sub in (spec.get("options") or {}).get("fields") or []}
            values[spec["key"]] = [
                {k: v for k, v in row.items() if k in subs} if isinstance(row, Mapping) else row
                for row in value
            ]
    return values


def _disclosure_kept_closed(
    ledger: Ledger, now: Mapping[str, Any], data: dict[str, Any]
) -> list[str]:
    """Keep closed, in the values ``data`` a restore brings back, every department the
    record's 照会可否 (``disclosure_field``) holds 不可 in ``now`` (the flags in force);
    return their codes. A generation from before a department was closed off would open
    the record to it again, unasked (the person moved since, and someone there must not
    learn where): disclosure is granted, never assumed. A department open now and closed
    in that generation is closed, as it was."""
    key = disclosure_field(ledger)
    flags = data.get(key) if key else None
    if not isinstance(flags, Mapping):
        return []
    current = now.get(key) if isinstance(now.get(key), Mapping) else {}
    kept = sorted(
        code for code, flag in flags.items() if flag is True and current.get(code) is not True
    )
    if kept:
        data[key] = {**flags, **dict.fromkeys(kept, False)}
    return kept


def record_restore(
    *,
    actor: Any,
    record: Record,
    generation: int | None = None,
    reason: str = "",
    expected_generation: int | None = None,
    policy: LedgerPolicy | None = None,
) -> Record:
    """Restore a deleted record, or bring back an older generation's values, as a new generation.

    Without ``generation`` the record must be deleted and comes back with its last values.
    With ``generation`` that generation's values become current again (re-validated
    against the live definition: a value of a field removed since is dropped), but for the
    departments the record is closed to now, which stay closed (``_disclosure_kept_closed``).
    """
    require_tenant()
    reason_require_storable(reason)
    policy = _policy(actor, record.ledger, policy)
    # Undeleting is the inverse of deleting; bringing back old values is an update.
    policy.require("update" if generation is not None else "delete")
    with transaction.atomic():
        record = _locked(record, expected_generation, policy)
        policy = policy.require_on(
            "update" if generation is not None else "delete",
            record.data, written_under=record.definition_version,
        )  # fmt: skip
        if record.is_deleted:
            # Bringing back an older generation of a deleted record undeletes it too.
            policy.require("delete")
        ledger = record.ledger
        before = record.data
        before_texts = record.search_text
        # What comes back, as every value carried into a new generation, holds its
        # 照会可否 flags as they are in force (``record_flags_in_force``).
        kept = record_flags_in_force(ledger, before, written_under=record.definition_version)
        if generation is None:
            if not record.is_deleted:
                raise RecordStateError("削除されていない記録です。復元する世代を指定してください。")
            data = dict(kept)
        else:
            try:
                old = RecordVersion.objects.get(record=record, generation=generation)
            except RecordVersion.DoesNotExist:
                raise VersionNotFound(generation) from None
            live = {f["key"] for f in ledger.fields()}
            # What the actor may not see stays as it is now, and is neither validated nor
            # named in an error: bringing back an old value of it would change what they
            # cannot see (and let them undo a guess), and an error about it ("「…」は選択肢に
            # ありません") would show it. That is what they may not see now, and what they
            # see masked in that generation (a value written while its field was more
            # sensitive than now: restored, it would read as plain).
            then = ledger.versions.get(version=old.definition_version).definition
            closed = (policy.closed_fields() | policy.closed_fields(then)) & live
            # So are the values holding a reference the actor sees masked, now or in that
            # generation (``references_unseen``): a link it may not see, neither erased
            # nor brought back.
            closed |= {
                key
                for _i, key in references_unseen(policy=policy, items=[(0, kept), (1, old.data)])
            } & live
            then_values = record_flags_in_force(
                ledger, old.data, written_under=old.definition_version
            )
            data = values_clean(
                ledger=ledger,
                values=_listed_flags_only(
                    ledger, {k: v for k, v in then_values.items() if k in live and k not in closed}
                ),
                current={k: kept[k] for k in closed if k in kept},
                closed=closed,
            )
        kept_closed = [] if generation is None else _disclosure_kept_closed(ledger, kept, data)
        _require_own_rights_kept(policy, kept, data)
        now = timezone.now()
        record.data = data
        index = search_index_for(ledger=ledger, data=data)
        record.search_keys, record.search_text = index.keys, index.texts
        record.generation += 1
        record.definition_version = ledger.definition_version
        record.deleted_at = None
        record.deleted_by = None
        record.deleted_reason = ""
        record.updated_by_id = _actor_id(actor)
        record.updated_at = now
        record.save()
        departed = LedgerSchema.of(ledger).indexer.departed(before_texts, index)
        if departed:
            with connection.cursor() as cursor:
                cursor.execute(
                    "WITH r AS (SELECT %(id)s::uuid AS id, %(generation)s::integer AS generation)"
                    + _PAST_INSERT.format(source="r"),
                    {
                        "id": record.pk,
                        "generation": record.generation,
                        "ledger": ledger.pk,
                        **_past_params(departed),
                    },
                )
        _write_version(
            record=record, action=RecordVersion.Action.RESTORE, actor=actor, at=now, before=before,
            reason=reason or (f"第{generation}世代を復元" if generation else "削除を取り消し"),
        )  # fmt: skip
        audit_record(
            actor=actor, action="record.restore", ledger_code=ledger.code, record_id=record.id,
            generation=record.generation,
            details={"from_generation": generation,
                     **({"disclosure_kept_closed": kept_closed} if kept_closed else {})},
        )  # fmt: skip
        webhook_events_enqueue(
            ledger=ledger, event="record.restored", records=[(record.id, record.generation)]
        )
    return record


# --- set-based bulk path ----------------------------------------------------------------


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection while a batch is built: it allocates a few objects per
    value (freed by reference counting), and each full collection walks every live object
    of the process (an import holds its whole file): measured 160 against 190 µs of
    Python per record over 100,000 records. Restored afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_MERGE_ALLOWED: dict[tuple[str, str], bool] = {}
#: The smallest bulk batch whose GIN pending entries are merged at once (see below).
MERGE_MIN_ROWS = 500


def _merge_pending_index_entries(cursor: Any, index: str, rows: int) -> None:
    """Move a GIN index's pending entries into the index proper, after a bulk write of
    ``rows`` rows, when the batch is large enough for that to be no dearer (``MERGE_MIN_ROWS``).

    GIN takes inserts into a pending list (``record_search_keys_gin``: up to 1 MB, about 500
    records of ~100 keys) that every search reads whole; the insert that fills it, or
    autovacuum, merges it. The merge costs per distinct key, and a batch's rows share keys
    (towns, surnames, dates):
    merging 100 rows' entries cost 93 µs per row, 500 or more 43–46 µs, the same as the
    merge a full list gets. So an import's large batches are merged at once (a search right
    after it reads no pending list), and small ones (the API's bulk requests of 100) leave
    their entries to the shared merge: PostgreSQL's CPU per API row fell from 322 to 198 µs,
    and a search over a full list took 1–3 ms more. The function needs the index's owner,
    as VACUUM does; a role that is not skips it."""
    if rows < MERGE_MIN_ROWS:
        return
    key = (connection.schema_name, index)
    allowed = _MERGE_ALLOWED.get(key)
    if allowed is None:
        cursor.execute(
            "SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class"
            " WHERE oid = to_regclass(%s)",
            [index],
        )
        row = cursor.fetchone()
        allowed = _MERGE_ALLOWED[key] = bool(row and row[0])
    if allowed:
        cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])


def _new_record_ids() -> Iterator[uuid.UUID]:
    """Random ids as ``uuid.uuid4`` makes them (version 4, 122 random bits from
    ``os.urandom``), read from the system's random source 256 at a time instead of one
    system call each (measured 3.4 → 1.9 µs per id; in a bulk write ~4 % of its Python)."""
    while True:
        block = os.urandom(16 * 256)
        for start in range(0, len(block), 16):
            yield uuid.UUID(bytes=block[start : start + 16], version=4)


#: Records per COPY statement of a bulk create: a quarter of the batch, within these bounds.
COPY_CHUNK_MIN, COPY_CHUNK_MAX = 25, 250

_RECORDS_COPY_SQL = (
    "COPY ledgers_record (id, data, search_keys, search_text, ledger_id, generation,"
    " definition_version, state, created_by_id, created_at, updated_by_id, updated_at,"
    " deleted_reason) FROM STDIN (FORMAT BINARY)"
)


_BEFORE_COPY = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


class _CopyStream:
    """Binary COPYs into one table, a chunk each, whose results are read only when the next
    chunk goes (or at ``close``): PostgreSQL stores and indexes chunk k while Python
    validates and packs chunk k+1.

    In the binary format PostgreSQL buffers up to 1,000 rows of a COPY before it writes
    them (it counts bytes only of text rows), so one COPY per batch left it idle while
    Python worked and Python idle while it wrote. psycopg reads each statement's result
    before it returns, so the chunks go through its libpq connection (``pgconn``, psycopg's
    documented low-level interface) in blocking mode, on the Django connection's own
    transaction; errors come as Django's cursors raise them. (A writer thread did the same
    slower: each of its wake-ups waited for the busy main thread's GIL.)
    """

    def __init__(
        self, django_connection: Any, sql: str, *, before: bytes = b"", after: bytes = b""
    ) -> None:
        self._django = django_connection
        self._connection = django_connection.connection
        self._pgconn = self._connection.pgconn
        # ``before``: statements sent in the same message as the first COPY, ``after``, in
        # that of the last (``send(..., last=True)``); the simple query protocol runs them
        # in order, and their results are skipped.
        self._before, self._sql, self._after = before, sql.encode() + b";", after
        #: The rows (text values) of the last statement of the last chunk collected that
        #: returned rows: what ``send(..., then=...)`` asked for.
        self.rows: list[list[bytes | None]] = []
        self._in_flight = False
        self._nonblocking = self._pgconn.nonblocking
        self._pgconn.nonblocking = 0  # sends block until queued; results are read below
        # psycopg opens the transaction lazily, before its first statement; here the first
        # statement bypasses it, so the first COPY's message opens it (not a round trip of
        # its own).
        self._begin = self._pgconn.transaction_status == pq.TransactionStatus.IDLE

    def _drain(self) -> None:
        """Read every result left, ending a COPY still open: the connection is idle after."""
        while (result := self._pgconn.get_result()) is not None:
            if result.status == pq.ExecStatus.COPY_IN:
                self._pgconn.put_copy_end(b"abandoned")

    def _check(self, result: Any, expected: Any) -> None:
        if result is not None and result.status == expected:
            return
        if result is not None and result.status == pq.ExecStatus.COPY_IN:
            self._pgconn.put_copy_end(b"abandoned")
        self._drain()
        if result is None:
            error: Exception = psycopg.OperationalError(self._pgconn.get_error_message().decode())
        else:
            error = psycopg.errors.error_from_result(
                result, encoding=self._connection.info.encoding
            )
        with self._django.wrap_database_errors:  # as Django's own cursors raise them
            raise error

    def _collect(self) -> None:
        """Read the result of the chunk in flight, if any; raise its error."""
        if not self._in_flight:
            return
        self._in_flight = False
        pgconn = self._pgconn
        self._check(pgconn.get_result(), pq.ExecStatus.COMMAND_OK)
        while (result := pgconn.get_result()) is not None:  # the statements after the COPY
            if result.status == pq.ExecStatus.TUPLES_OK:
                self.rows = [
                    [result.get_value(row, column) for column in range(result.nfields)]
                    for row in range(result.ntuples)
                ]
            elif result.status != pq.ExecStatus.COMMAND_OK:
                self._check(result, pq.ExecStatus.TUPLES_OK)  # raises

    def send(self, data: bytes, *, last: bool = False, then: bytes = b"") -> None:
        """One chunk: a whole binary COPY (header, rows, trailer); ``last`` for the last
        one; ``then``, statements to run after it in the same message (the last one's rows:
        ``rows``, once collected)."""
        self._collect()
        pgconn = self._pgconn
        begin, self._begin = b"BEGIN;" if self._begin else b"", False
        before, self._before = self._before, b""
        after = self._after if last else b""
        message = b" ".join(part for part in (begin, before, self._sql, after, then) if part)
        try:
            pgconn.send_query(message)
        except psycopg.Error:  # the connection is gone
            self._check(None, pq.ExecStatus.COPY_IN)
        result = pgconn.get_result()
        while result is not None and result.status in _BEFORE_COPY:
            result = pgconn.get_result()  # a statement before the COPY
        self._check(result, pq.ExecStatus.COPY_IN)
        if pgconn.put_copy_data(data) != 1 or pgconn.put_copy_end() != 1:
            self._check(None, pq.ExecStatus.COPY_IN)
        self._in_flight = True

    def settle(self) -> None:
        """Read the result of the chunk in flight, if any (its error raised): the connection
        is free for other statements until the next ``send``."""
        self._collect()

    def close(self, *, raise_error: bool = True) -> None:
        """Read the last chunk's result; its error is raised unless the caller is already
        raising one of its own."""
        try:
            self._collect()
        except Exception:
            if raise_error:
                raise
        finally:
            self._pgconn.nonblocking = self._nonblocking


def record_bulk_create(
    *,
    actor: Any,
    ledger: Ledger,
    values_list: Sequence[Mapping[str, Any]],
    reason: str = "",
    state: str = "",
    capability: str = "create",
    policy: LedgerPolicy | None = None,
) -> list[tuple[uuid.UUID, int]]:
    """Create many records at once, all or nothing, with history, search keys and audit.

    ``capability`` is ``create`` for the API's bulk endpoint and ``import`` for imports.

    Every item is validated; if any is wrong, ``RecordInvalid.item_errors`` names them all
    (by index) and nothing is written. The records go to PostgreSQL by binary COPY in
    chunks of a quarter of the batch (``COPY_CHUNK_MIN``–``COPY_CHUNK_MAX`` rows), each sent
    while the next is validated and indexed (``_CopyStream``; ``ledgers.records.copy``: the
    search keys travel as the bytes the indexer packed once per distinct value, never as
    text to parse). Each chunk's COPY also writes its records' first versions and audit
    events (one per record), by the statement trigger ``ledgers_record_bulk_history``
    (migration 0010), which acts while ``daicho.bulk_create`` is set: with the first COPY,
    cleared with the last (a failure in between rolls the setting back with the rest).
    All in one transaction.
    """
    require_tenant()
    reason_require_storable(reason)
    state_require_storable(state)
    policy = _policy(actor, ledger, policy)
    policy.require(capability)
    item_errors: dict[int, dict[str, list[str]]] = {}
    reference_fields = LedgerSchema.of(ledger).references
    checks_references = bool(reference_fields[0] or reference_fields[1])
    # Fields above the writer's clearance for new records (the higher of its read clearance
    # and its ``capability``'s: ``LedgerPolicy.write_clearance``) are not written.
    closed = policy.closed_fields(capability=capability)
    references: list[tuple[int, str, str, Mapping[str, Any]]] = []
    refusals = None
    ids: list[uuid.UUID] = []
    now = timezone.now()
    actor_id = _actor_id(actor)
    version = ledger.definition_version
    # The cursor first: opening it puts the connection on the city's schema (django-tenants
    # sets the search path there), which the COPYs on its libpq connection rely on.
    with _no_cyclic_gc(), transaction.atomic(), connection.cursor() as cursor:
        # Every record of the batch shares these columns: packed once. Its times do not:
        # each record is a microsecond after the one before, so that lists ordered by time
        # (newest first, the id breaking ties) need not sort a whole batch of equal times.
        shared = b"".join((
            copy_format.int8(ledger.pk), copy_format.int4(1), copy_format.int4(version),
            copy_format.text(state), copy_format.int8(actor_id),
        ))  # fmt: skip
        updated_by = copy_format.int8(actor_id)
        deleted_reason = copy_format.text("")
        first_time = copy_format.microseconds(now)
        row_start = copy_format.row_start(13)
        chunk_rows = max(COPY_CHUNK_MIN, min(COPY_CHUNK_MAX, len(values_list) // 4))
        # The trigger's batch; the API token the request acts with, if any, goes into each
        # event's details (ledgers.audit.context).
        token = audit_token()
        batch = orjson.dumps(
            {"reason": reason, "ledger_code": ledger.code, **({TOKEN_KEY: token} if token else {})}
        ).decode()
        stream = _CopyStream(
            connection, _RECORDS_COPY_SQL,
            before=_set_bulk_create(connection, batch), after=_set_bulk_create(connection, ""),
        )  # fmt: skip
        new_ids = _new_record_ids()
        listeners_sql = webhook_listeners_sql(ledger=ledger, event="record.created")
        last = len(values_list) - 1
        try:
            block = [copy_format.HEADER]
            for position, values in enumerate(values_list):
                refused = (
                    policy.unwritable(values, capability=capability)
                    if closed and isinstance(values, Mapping)
                    else []
                )
                if refused:
                    item_errors[position] = {
                        key: ["閲覧できない項目には値を入れられません。"] for key in refused
                    }
                    continue
                try:
                    data, search = values_clean_and_index(ledger=ledger, values=values)
                except RecordInvalid as exc:
                    item_errors[position] = exc.errors
                    continue
                if checks_references:
                    references.extend(
                        (position, key, path, ref)
                        for key, path, ref in references_in(reference_fields, data)
                    )
                if item_errors:
                    continue  # nothing more is written; the rest is only validated
                record_id = next(new_ids)
                ids.append(record_id)
                at = copy_format.timestamptz(first_time + len(ids) - 1)
                block.append(b"".join((
                    row_start, copy_format.uuid_(record_id), copy_format.jsonb(_json_bytes(data)),
                    copy_format.int4_array(search.keys_binary, search.keys_count),
                    copy_format.jsonb(_json_bytes(search.texts)), shared, at, updated_by, at,
                    deleted_reason,
                )))  # fmt: skip
                if len(block) > chunk_rows and position < last:
                    block.append(copy_format.TRAILER)
                    stream.send(b"".join(block))
                    block = [copy_format.HEADER]
            if references and not item_errors:
                # Before the last chunk: a missing target rolls back the chunks sent. The
                # chunk in flight is read first: the connection then takes the queries.
                stream.settle()
                check = references_missing(policy=policy, items=references)
                item_errors.update(check.errors)
                refusals = check.refusals(policy=policy, write="record.create", bulk=True)
            if item_errors:
                # The transaction rolls back; the API's edge audits the refused references.
                raise RecordInvalid(item_errors=item_errors, refused_references=refusals)
            if len(block) > 1:
                # The last chunk asks for the ledger's webhook listeners in the same message.
                block.append(copy_format.TRAILER)
                stream.send(b"".join(block), last=True, then=listeners_sql)
        except BaseException:
            stream.close(raise_error=False)
            raise
        stream.close()
        if not ids:
            return []
        _merge_pending_index_entries(cursor, "record_search_keys_gin", len(ids))
        webhook_events_enqueue(
            ledger=ledger, event="record.created", records=[(i, 1) for i in ids],
            listeners=[uuid.UUID(row[0].decode()) for row in stream.rows if row[0]],
        )  # fmt: skip
    return [(record_id, 1) for record_id in ids]


def _set_bulk_create(django_connection: Any, value: str) -> bytes:
    """The statement that sets (or, given ``""``, clears) ``daicho.bulk_create`` for the
    transaction, as bytes to send before (after) a COPY."""
    statement = psycopg.sql.SQL("SELECT set_config('daicho.bulk_create', {}, true);").format(
        psycopg.sql.Literal(value)
    )
    return statement.as_bytes(django_connection.connection)


_BULK_READ_FIELDS = (
    "id", "generation", "deleted_at", "state", "data", "search_text", "definition_version",
)  # fmt: skip


def record_bulk_update(
    *,
    actor: Any,
    ledger: Ledger,
    changes: Sequence[tuple[uuid.UUID, int, Mapping[str, Any]]],
    reason: str = "",
    policy: LedgerPolicy | None = None,
) -> list[tuple[uuid.UUID, int]]:
    """Apply many partial changes at once, all or nothing: ``(id, expected generation, values)``.

    The records are locked in id order (no deadlock between two bulk writers); a missing,
    deleted or stale record, or invalid values, fail their item and nothing is written.
    Unchanged items keep their generation, but for a writer who may not view the record
    (``for_record``), whose every item is a generation. New data goes in through a temporary table,
    versions and audit events with COPY.
    """
    require_tenant()
    reason_require_storable(reason)
    policy = _policy(actor, ledger, policy)
    policy.require("update")
    if not changes:
        return []
    ids = [record_id for record_id, _, _ in changes]
    if len(set(ids)) != len(ids):
        raise RecordInvalid({"records": ["同じ記録が2回以上含まれています。"]})
    now = timezone.now()
    actor_id = _actor_id(actor)
    indexer = LedgerSchema.of(ledger).indexer
    reference_fields = LedgerSchema.of(ledger).references
    references: list[tuple[int, str, str, Mapping[str, Any]]] = []
    refusals = None
    with transaction.atomic():
        # Only what the change needs (the keys arrays are large and rebuilt anyway).
        # Through the policy, as every read: a record the actor may not see is "not found".
        locked = {
            row[0]: row
            for row in policy.records(
                Record.objects.select_for_update().filter(ledger=ledger, pk__in=ids)
            )
            .order_by("pk")
            .values_list(*_BULK_READ_FIELDS)
        }
        item_errors: dict[int, dict[str, list[str]]] = {}
        rows: list[tuple[uuid.UUID, Values, Values, int, str, IndexData]] = []
        departed: list[tuple[uuid.UUID, int, str, str, tuple[int, ...]]] = []
        # The stored values each item would change, for ``references_unseen``.
        stored: list[tuple[int, Values]] = []
        for index, (record_id, expected, values) in enumerate(changes):
            refused = policy.unwritable(values) if isinstance(values, Mapping) else []
            if refused:
                item_errors[index] = {
                    key: ["閲覧できない項目は変更できません。"] for key in refused
                }
                continue
            row = locked.get(record_id)
            if row is None:
                item_errors[index] = {"id": ["記録が見つかりません。"]}
                continue
            _id, generation, deleted_at, state, before, before_texts, written_under = row
            if deleted_at is not None:
                item_errors[index] = {"id": ["削除された記録は変更できません。"]}
                continue
            if generation != expected:
                item_errors[index] = {
                    "generation": [f"他の操作で更新されています（現在の世代: {generation}）。"]
                }
                continue
            # Through the departments the record is disclosed to (``for_record``).
            applies = policy.for_record(before, written_under=written_under)
            if not applies.can("update"):
                item_errors[index] = {"id": ["この記録を変更する権限がありません。"]}
                continue
            refused = applies.unwritable(values) if applies is not policy else []
            if refused:
                item_errors[index] = {
                    key: ["閲覧できない項目は変更できません。"] for key in refused
                }
                continue
            if reference_fields[0] or reference_fields[1]:
                stored.append((index, {k: before[k] for k in values if k in before}))
            kept = record_flags_in_force(ledger, before, written_under=written_under)
            try:
                data = values_clean(
                    ledger=ledger, values=values, current=kept, closed=applies.closed_fields()
                )
            except RecordInvalid as exc:
                item_errors[index] = exc.errors
                continue
            if policy.raises_own_rights(kept, data):
                item_errors[index] = {str(disclosure_field(ledger)): [OWN_DISCLOSURE]}
                continue
            if reference_fields[0] or reference_fields[1]:
                written = {k: data[k] for k in values if k in data}
                references.extend(
                    (index, key, path, ref)
                    for key, path, ref in references_in(reference_fields, written)
                )
            # An item that changes nothing keeps its generation, but for a writer who may
            # not read the record: the same generation back told it a guess was right
            # (``record_update``'s ``write_unchanged``).
            if not applies.can("view") or not values_unchanged(ledger, kept, data):
                search = indexer.index(data)
                rows.append((record_id, before, data, generation + 1, state, search))
                departed.extend(
                    (record_id, generation, path, value, keys)
                    for path, value, keys in indexer.departed(before_texts, search)
                )
        unseen = references_unseen(policy=policy, items=stored, paths=reference_fields)
        for index, key in sorted(unseen):
            item_errors.setdefault(index, {})[key] = [HIDDEN_REFERENCE]
        if references and not item_errors:
            check = references_missing(policy=policy, items=references)
            item_errors.update(check.errors)
            refusals = check.refusals(policy=policy, write="record.update", bulk=True)
        if item_errors:
            raise RecordInvalid(item_errors=item_errors, refused_references=refusals)
        if not rows:
            return [(record_id, locked[record_id][1]) for record_id in ids]
        with connection.cursor() as cursor:
            # The new data goes in once, into a temporary table; the records, their new
            # versions and the audit events are set-based statements over it.
            cursor.execute(
                "CREATE TEMP TABLE _record_bulk_update (id uuid, data jsonb, search_keys integer[],"
                " search_text jsonb, generation integer, state text, diff jsonb) ON COMMIT DROP"
            )
            block = bytearray(copy_format.HEADER)
            row_start = copy_format.row_start(7)
            for record_id, before, data, generation, state, search in rows:
                block += b"".join((
                    row_start, copy_format.uuid_(record_id), copy_format.jsonb(_json_bytes(data)),
                    copy_format.int4_array(search.keys_binary, search.keys_count),
                    copy_format.jsonb(_json_bytes(search.texts)), copy_format.int4(generation),
                    copy_format.text(state), copy_format.jsonb(_json_bytes(values_diff(before, data))),
                ))  # fmt: skip
            block += copy_format.TRAILER
            with cursor.copy("COPY _record_bulk_update FROM STDIN (FORMAT BINARY)") as copy_in:
                copy_in.write(block)
            params = {
                "dv": ledger.definition_version, "actor": actor_id, "now": now, "reason": reason,
                "code": ledger.code, "details": audit_details_json({"bulk": True}),
            }  # fmt: skip
            cursor.execute(
                "UPDATE ledgers_record AS r SET data = t.data, search_keys = t.search_keys,"
                " search_text = t.search_text, generation = t.generation,"
                " definition_version = %(dv)s, updated_by_id = %(actor)s, updated_at = %(now)s"
                " FROM _record_bulk_update AS t WHERE r.id = t.id",
                params,
            )
            cursor.execute(
                "INSERT INTO ledgers_recordversion (record_id, generation, action, actor_id, at,"
                " reason, definition_version, data, state, deleted, diff)"
                " SELECT id, generation, 'update', %(actor)s, %(now)s, %(reason)s, %(dv)s, data,"
                " state, false, diff FROM _record_bulk_update",
                params,
            )
            cursor.execute(
                "INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, record_id,"
                " generation, details)"
                " SELECT %(actor)s, 'record.update', %(code)s, id, generation,"
                " %(details)s::jsonb FROM _record_bulk_update",
                params,
            )
            cursor.execute("DROP TABLE _record_bulk_update")
            if departed:
                _past_insert_many(cursor, ledger=ledger, departed=departed)
                _merge_pending_index_entries(cursor, "search_value_keys_gin", len(departed))
            _merge_pending_index_entries(cursor, "record_search_keys_gin", len(rows))
            changed = [(record_id, generation) for record_id, _b, _d, generation, _s, _i in rows]
            webhook_events_enqueue(ledger=ledger, event="record.updated", records=changed)
    new_generations = dict(changed)
    return [(record_id, new_generations.get(record_id, locked[record_id][1])) for record_id in ids]


def _past_insert_many(
    cursor: Any,
    *,
    ledger: Ledger,
    departed: Sequence[tuple[uuid.UUID, int, str, str, Sequence[int]]],
) -> None:
    """Values many changes removed, into the past-generation index: COPY into a temporary
    table, then one upsert (a value can come back and leave again)."""
    cursor.execute(
        "CREATE TEMP TABLE _search_value_new (record_id uuid, generation integer, path text,"
        " value text, keys integer[]) ON COMMIT DROP"
    )
    with cursor.copy("COPY _search_value_new FROM STDIN") as copy_in:
        for record_id, generation, path, value, keys in departed:
            copy_in.write_row((record_id, generation, path, value, pg_int_array(keys)))
    cursor.execute(
        "INSERT INTO ledgers_searchvalue (ledger_id, record_id, path, value, keys, generation)"
        " SELECT %s, record_id, path, value, keys, generation FROM _search_value_new"
        " ON CONFLICT (record_id, path, value) DO UPDATE SET generation = EXCLUDED.generation",
        [ledger.pk],
    )
    cursor.execute("DROP TABLE _search_value_new")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON (orjson: a tenth of the standard library's time per record)."""
    return orjson.dumps(value)
