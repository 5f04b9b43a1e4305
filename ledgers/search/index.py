"""What a record's values put in the search index: normalised values and their keys.

Every searchable field (and every sub-field of a group, as ``group.sub``) yields normalised
strings; the record stores their n-gram keys in ``Record.search_keys`` (one GIN index) and
the normalised strings in ``Record.search_text`` for the recheck (``Indexer``), as
``\\x1f value \\x1f value \\x1f`` so that prefix and exact matches of any one value are a
plain ``strpos``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any

from ledgers.fields import field_type_registry
from ledgers.fields.registry import CACHEABLE_TEXT, value_cache_key
from ledgers.records.copy import jsonb_key_order
from ledgers.search.keys import (
    MAX_EXACT_KEY_CHARS,
    Match,
    disclosure_key,
    exact_key,
    key_prefix,
    ngram_stored_keys,
    query_keys,
    stored_key,
    stored_keys,
)
from ledgers.search.normalize import (
    address_forms,
    name_forms,
    normalize_address,
    normalize_digits,
    normalize_name,
    normalize_text,
    text_forms,
)

SEP = "\x1f"
GROUP_TYPES = {"repeating_group", "group"}
NAME_TYPES = {"person_name", "text", "choice", "multi_choice", "email", "reference"}
DIGIT_TYPES = {"phone", "postal_code", "integer"}
# Values kept as they are (ISO dates, decimals): exact keys only.
EXACT_TYPES = {"date", "datetime", "decimal", "boolean"}


def _strip(text: str) -> str:
    return text.strip()


# Records repeat their values (statuses, choices, towns, surnames, dates): the normal forms
# and the keys of a value are pure functions of it and are cached per process. The caches
# are bounded, so a long import cannot grow them without limit, and keep short texts only
# (``CACHEABLE_TEXT``): 65,536 unique long notes would have held hundreds of MB.
_CACHE_SIZE = 1 << 16


def _short_texts_cached(function: Any) -> Any:
    """``function`` of one text, remembered (``lru_cache``) for texts of at most
    ``CACHEABLE_TEXT`` characters."""
    cached = lru_cache(maxsize=_CACHE_SIZE)(function)

    def call(text: str) -> Any:
        return cached(text) if len(text) <= CACHEABLE_TEXT else function(text)

    call.__wrapped__ = function  # type: ignore[attr-defined]
    return call


_NORMALISERS = {
    "digits": _short_texts_cached(normalize_digits),
    "name": _short_texts_cached(normalize_name),
    "exact": _strip,
    "text": _short_texts_cached(normalize_text),
    "address": _short_texts_cached(normalize_address),
}


def _one_form(normalise: Any) -> Any:
    return lambda text: (normalise(text),)


# What a stored value is indexed as: its search form, and for names and texts also the form
# before the folds that look at a neighbouring letter, when they changed it (``name_forms``).
_FORMS = {
    "digits": _one_form(_NORMALISERS["digits"]),
    "name": _short_texts_cached(name_forms),
    "exact": _one_form(_NORMALISERS["exact"]),
    "text": _short_texts_cached(text_forms),
    "address": _short_texts_cached(address_forms),
}


def _normaliser_kind(type_id: str) -> str:
    if type_id in DIGIT_TYPES:
        return "digits"
    if type_id in NAME_TYPES:
        return "name"
    if type_id in EXACT_TYPES:
        return "exact"
    if type_id == "address":
        return "address"
    return "text"


def normaliser_for(type_id: str) -> Any:
    """The one normalisation of a type's values, for a query (and the search form of a
    stored value: the first of ``forms_for``)."""
    return _NORMALISERS[_normaliser_kind(type_id)]


def forms_for(type_id: str) -> Any:
    """What a stored value of the type is indexed as: a tuple of forms, the first of them
    ``normaliser_for``'s."""
    return _FORMS[_normaliser_kind(type_id)]


#: Types whose values are compared whole (dates, numbers, booleans): the exact key only.
#: Integers are searched by equality (and ranges in the API), never by a substring.
EXACT_KEY_TYPES = EXACT_TYPES | {"integer"}
#: Identifiers and free text: the exact key only, though a part of them may be searched.
#: A phone number, postal code or e-mail address is looked up whole; a part of one
#: (the last four digits, a domain) and a substring of a long text (which no search screen
#: offers; the API's ``__contains``) are found by the recheck alone, over the rows the
#: other conditions leave or the ledger's. These values are mostly unique per record, so
#: their n-grams were the costliest keys to write and the least used (the records bench's
#: bulk path: 99 keys per record to 70, ~2,550 to ~3,100 records/s; docs/search.md).
WHOLE_VALUE_TYPES = EXACT_KEY_TYPES | {"phone", "postal_code", "email", "long_text"}
#: Long text gets no key at all, only its recheck text: no search screen offers it
#: (``ledgers.search.screens.UNSEARCHABLE``), and the API's filters on it (``__contains``,
#: an equality nobody needs) are answered by the recheck or the data over the rows the
#: other conditions leave or the ledger's. Its whole-value key was mostly unique per
#: record (a note), the dearest kind for the GIN index to take: the records bench's bulk
#: path spent ~1 in 5 of its index merges on it.
NO_KEY_TYPES = {"long_text"}
#: Addresses get no unigram keys: one character (市, 町, a digit) matches nearly every
#: address, so the index would not narrow such a query anyway; it is rechecked instead.
NO_UNIGRAM_TYPES = {"address"}


def value_keys(prefix: str, type_id: str, value: str) -> tuple[int, ...]:
    """``_value_keys`` remembered for short texts (``_short_texts_cached``)."""
    if len(value) <= CACHEABLE_TEXT:
        return _value_keys_cached(prefix, type_id, value)
    return _value_keys(prefix, type_id, value)


def _value_keys(prefix: str, type_id: str, value: str) -> tuple[int, ...]:
    """The stored keys one normalised value is indexed under (``prefix``: ``key_prefix``)."""
    if type_id in NO_KEY_TYPES:
        return ()
    if type_id in WHOLE_VALUE_TYPES:
        return tuple(stored_keys([exact_key(prefix, value)]))
    return tuple(ngram_stored_keys(prefix, value, unigrams=type_id not in NO_UNIGRAM_TYPES))


def query_stored_keys(
    ledger_id: int, path: str, type_id: str, normalised_query: str, match: Match
) -> list[int]:
    """The stored keys a value at ``path`` matching the query must have, by the same type
    rules as ``value_keys``; empty when the index cannot narrow the query (a prefix or
    substring of a value keyed whole, one character of an address): then the recheck
    alone decides, over the ledger's rows."""
    if type_id in NO_KEY_TYPES or (type_id in WHOLE_VALUE_TYPES and match != "exact"):
        return []
    prefix = key_prefix(ledger_id, path)
    unigrams = type_id not in NO_UNIGRAM_TYPES
    return stored_keys(query_keys(prefix, normalised_query, match, unigrams=unigrams))


def equality_stored_keys(ledger_id: int, field: Mapping[str, Any], value: Any) -> list[int]:
    """The exact keys a record whose ``field`` holds exactly ``value`` (a cleaned value)
    has: a necessary condition the GIN index answers, for the caller to AND with the
    real equality. Empty when the field is not indexed (personal numbers, long text)."""
    keys: set[int] = set()
    for path, type_id, texts in searchable_values([field], {field["key"]: value}):
        if type_id in NO_KEY_TYPES:
            continue
        prefix = key_prefix(ledger_id, path)
        keys.update(stored_key(exact_key(prefix, text[:MAX_VALUE])) for text in texts)
    return sorted(keys)


def _field_values(field: Mapping[str, Any], value: Any) -> list[str]:
    field_type = field_type_registry.get(field["type"])
    if field["type"] in EXACT_TYPES:
        return [str(value)] if value not in (None, "") else []
    raw = field_type.search_keys(value, field.get("options") or {})
    forms = forms_for(field["type"])
    return [v for v in dict.fromkeys(chain.from_iterable(map(forms, raw))) if v]


def searchable_values(
    fields: list[Mapping[str, Any]], data: Mapping[str, Any]
) -> Iterator[tuple[str, str, list[str]]]:
    """(path, type, normalised values) for every field of ``fields`` with a value."""
    for field in fields:
        if field.get("removed"):
            continue
        value = data.get(field["key"])
        if value in (None, "", [], {}):
            continue
        if field["type"] in GROUP_TYPES:
            sub_fields = (field.get("options") or {}).get("fields", [])
            for sub in sub_fields:
                values: list[str] = []
                for row in value if isinstance(value, list) else []:
                    if isinstance(row, Mapping) and row.get(sub["key"]) not in (None, "", [], {}):
                        values.extend(_field_values(sub, row[sub["key"]]))
                if values:
                    yield f"{field['key']}.{sub['key']}", sub["type"], list(dict.fromkeys(values))
            continue
        if field["type"] == "my_number":
            continue  # never indexed: fragments of a My Number must not sit in an index
        values = _field_values(field, value)
        if values:
            yield field["key"], field["type"], values


MAX_VALUE = 500


def path_types(fields: list[Mapping[str, Any]]) -> dict[str, str]:
    """The type of every searchable path (``name``, ``offenders.name``), removed ones too:
    a value of a field removed since must still get its keys when it leaves."""
    types: dict[str, str] = {}
    for field in fields:
        if field["type"] in GROUP_TYPES:
            for sub in (field.get("options") or {}).get("fields", []):
                types[f"{field['key']}.{sub['key']}"] = sub["type"]
        else:
            types[field["key"]] = field["type"]
    return types


def text_values(text: str | None) -> list[str]:
    """The values of one path's recheck text (``\x1f a \x1f b \x1f``)."""
    return [value for value in (text or "").split(SEP) if value]


class IndexData:
    """A record's search index: the keys and recheck texts of its current values.

    The keys are held as the binary ``integer[]`` elements of a binary COPY
    (``keys_count`` elements, each a 4-byte length and a 4-byte big-endian value), joined
    from per-value parts packed once (a key may repeat across values; GIN stores it once
    per row); ``keys_sql`` renders them as a literal for the paths that send SQL text.
    A plain class with slots: a bulk write makes one per record, and a frozen
    dataclass's ``__init__`` (``object.__setattr__`` per field) cost ~1 µs of it.
    """

    __slots__ = ("keys_binary", "keys_count", "texts")

    def __init__(self, texts: dict[str, str], keys_binary: bytes = b"", keys_count: int = 0):
        self.texts = texts
        self.keys_binary = keys_binary
        self.keys_count = keys_count

    def __repr__(self) -> str:
        return f"IndexData(texts={self.texts!r}, keys_count={self.keys_count})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IndexData):
            return NotImplemented
        return (self.texts, self.keys_binary) == (other.texts, other.keys_binary)

    __hash__ = None  # type: ignore[assignment]

    @property
    def _stored(self) -> tuple[int, ...]:
        return struct.unpack(f">{2 * self.keys_count}i", self.keys_binary)[1::2]

    @property
    def keys_sql(self) -> str:
        """The ``integer[]`` literal the record stores."""
        return "{" + ",".join(map(str, self._stored)) + "}"

    @property
    def keys(self) -> list[int]:
        """The distinct stored keys, sorted."""
        return sorted(set(self._stored))


def _pack(keys: list[int]) -> bytes:
    """Keys as binary ``integer[]`` elements: a 4-byte length and a 4-byte value each."""
    return struct.pack(f">{2 * len(keys)}i", *[part for key in keys for part in (4, key)])


# What a field value puts in the index: its recheck text (one path: the field's own, ``""``
# for none) or texts by path (a group's sub-fields), and its keys as binary ``integer[]``
# elements (8 bytes each).
_Indexed = tuple["str | tuple[tuple[str, str], ...]", bytes]


@dataclass(frozen=True)
class _Plain:
    """What indexing a field that is not a group needs, looked up once per definition."""

    path: str
    type_id: str
    prefix: str
    search_keys: Any
    options: Mapping[str, Any]
    #: ``forms_for`` the type.
    forms: Any
    #: Keyed by the whole value only (``WHOLE_VALUE_TYPES``).
    whole: bool
    #: Not keyed at all, only rechecked (``NO_KEY_TYPES``).
    unkeyed: bool
    #: The CRC-32 of ``<prefix>|=``, continued over a value's bytes for its exact key.
    exact_crc: int


#: ``value_keys`` without its cache, for the indexer's own per-field caches: the shared
#: cache's entries (a key tuple and a result tuple each) are objects the cyclic garbage
#: collector walks, and a bulk write's distinct values made thousands per batch.
_value_keys_uncached = _value_keys
_value_keys_cached = lru_cache(maxsize=_CACHE_SIZE)(_value_keys)


class Indexer:
    """What the search index stores for a record of one ledger, compiled once per definition.

    A field's contribution (recheck texts, keys) is a pure function of its value, cached
    per field: records repeat statuses, choices, dates, towns and names, and a bulk import
    or a busy city then pays for each distinct value once. Group values (lists of rows)
    are computed each time. A field that is not a group is indexed by a plan made here
    (``_Plain``): the general path (``searchable_values``, ``value_keys``) gives the same
    result and is what the tests compare it with.

    The caches hold only texts and bytes, in two dicts per field (its recheck text, its
    keys' bytes): dicts of such values are objects the cyclic garbage collector does not
    track, where a tuple per entry was one it walked at every collection (measured on the
    bulk path: ~11 tracked tuples per record, 6 µs of its ~95 µs of Python in collections
    after each batch).
    """

    CACHE_LIMIT = 20_000

    def __init__(self, fields: list[Mapping[str, Any]], ledger_id: int) -> None:
        """``fields``: the definition's fields, removed ones included (their values still
        get keys when they leave a record)."""
        self.ledger_id = ledger_id
        self._types = path_types(fields)
        # In ``jsonb``'s key order, as the records' data: the recheck texts of a record
        # then reach PostgreSQL already sorted. Per field: its key, its definition, whether
        # its text is one (its own path), and its caches of texts and of keys.
        self._fields: list[tuple[str, Mapping[str, Any], bool, dict[Any, Any], dict[Any, bytes]]]
        self._fields = sorted(
            (
                (f["key"], f, f["type"] not in GROUP_TYPES, {}, {})
                for f in fields
                if not f.get("removed") and f["type"] != "my_number"
            ),
            key=lambda entry: jsonb_key_order(entry[0]),
        )
        self._by_key = {key: field for key, field, _single, _texts, _keys in self._fields}
        self._plans: dict[str, _Plain] = {}
        for key, field, _single, _texts, _keys in self._fields:
            type_id = field["type"]
            if type_id in GROUP_TYPES or type_id == "department_flags":
                continue
            prefix = key_prefix(ledger_id, key)
            self._plans[key] = _Plain(
                path=key,
                type_id=type_id,
                prefix=prefix,
                search_keys=field_type_registry.get(type_id).search_keys,
                options=field.get("options") or {},
                forms=forms_for(type_id),
                whole=type_id in WHOLE_VALUE_TYPES,
                unkeyed=type_id in NO_KEY_TYPES,
                exact_crc=zlib.crc32(f"{prefix}|=".encode()),
            )

    def field_indexed(self, key: str, value: Any) -> _Indexed:
        """What field ``key``'s cleaned ``value`` puts in the index, uncached: its recheck
        text (texts by path for a group) and its keys as binary ``integer[]`` elements;
        ``("", b"")`` for a field not indexed or an empty value. For a caller that caches
        by a key of its own (``ledgers.records.services.values_clean_and_index``); ``index``
        gives the same, field by field."""
        field = self._by_key.get(key)
        if field is None or value is None or value == "":
            return "", b""
        return self._indexed(field, value)

    def value_keys(self, path: str, value: str) -> tuple[int, ...]:
        """The stored keys of one normalised value held at ``path``."""
        return value_keys(key_prefix(self.ledger_id, path), self._types.get(path, "text"), value)

    def departed(
        self, previous: Mapping[str, str] | None, now: IndexData
    ) -> list[tuple[str, str, tuple[int, ...]]]:
        """(path, value, keys) of the values the previous index (its ``texts``) held and
        ``now`` does not: what a change adds to the past-generation index."""
        gone = []
        for path, text in (previous or {}).items():
            held = now.texts.get(path, "")
            for value in text_values(text):
                if SEP + value + SEP not in held:
                    gone.append((path, value, self.value_keys(path, value)))
        return gone

    @staticmethod
    def _plain(plan: _Plain, value: Any) -> _Indexed:
        """``_indexed`` of a field that is not a group, by its plan: what
        ``searchable_values`` and ``value_keys`` give, without their generality."""
        if plan.type_id in EXACT_TYPES:  # kept as they are (ISO dates, decimals)
            held = [str(value)[:MAX_VALUE]]
        else:
            raw = plan.search_keys(value, plan.options)
            forms = chain.from_iterable(map(plan.forms, raw))
            held = [v[:MAX_VALUE] for v in dict.fromkeys(forms) if v]
        if not held:
            return "", b""
        if plan.unkeyed:
            return SEP + SEP.join(held) + SEP, b""
        if plan.whole:
            keys = [
                (zlib.crc32(text.encode("utf-8", "surrogatepass"), plan.exact_crc) - 0x80000000)
                if len(text) <= MAX_EXACT_KEY_CHARS
                else stored_key(exact_key(plan.prefix, text))
                for text in held
            ]
        else:
            keys = [
                key
                for text in held
                for key in _value_keys_uncached(plan.prefix, plan.type_id, text)
            ]
        return SEP + SEP.join(held) + SEP, _pack(keys)

    def _indexed(self, field: Mapping[str, Any], value: Any) -> _Indexed:
        plan = self._plans.get(field["key"])
        if plan is not None:
            return self._plain(plan, value)
        if field["type"] == "department_flags":
            # No text to search; a key per department flagged 可, for the access filter.
            flagged = [
                disclosure_key(self.ledger_id, field["key"], code)
                for code, flag in (value.items() if isinstance(value, Mapping) else ())
                if flag is True
            ]
            return "", _pack(flagged)
        texts: list[tuple[str, str]] = []
        keys: list[int] = []
        for path, type_id, values in searchable_values([field], {field["key"]: value}):
            prefix = key_prefix(self.ledger_id, path)
            held = [text[:MAX_VALUE] for text in values]
            for text in held:
                keys.extend(value_keys(prefix, type_id, text))
            texts.append((path, SEP + SEP.join(held) + SEP))
        return tuple(texts), _pack(keys)

    def index(self, data: Mapping[str, Any]) -> IndexData:
        binary_parts: list[bytes] = []
        texts: dict[str, str] = {}
        limit = self.CACHE_LIMIT
        for key, field, single, texts_cache, keys_cache in self._fields:
            value = data.get(key)
            if value is None or value == "":
                continue
            cache_key = (
                value
                if type(value) is str and len(value) <= CACHEABLE_TEXT
                else value_cache_key(value)
            )
            keys_binary = keys_cache.get(cache_key) if cache_key is not None else None
            if keys_binary is None:
                text, keys_binary = self._indexed(field, value)
                if cache_key is not None:
                    if len(keys_cache) >= limit:
                        keys_cache.clear()
                        texts_cache.clear()
                    keys_cache[cache_key] = keys_binary
                    texts_cache[cache_key] = text
            else:
                text = texts_cache[cache_key]
            if keys_binary:
                binary_parts.append(keys_binary)
            if text:
                if single:
                    texts[key] = text
                else:
                    texts.update(text)
        keys_binary = b"".join(binary_parts)
        return IndexData(texts=texts, keys_binary=keys_binary, keys_count=len(keys_binary) >> 3)
