"""What a record's values put in the search index: normalised values and their keys.

Every searchable field (and every sub-field of a group, as ``group.sub``) yields normalised
strings; the record stores their n-gram keys in ``Record.search_keys`` (one GIN index) and
the normalised strings in ``Record.search_text`` for the recheck (``Indexer``), as
``\\x1f value \\x1f value \\x1f`` so that prefix and exact matches of any one value are a
plain ``strpos``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ledgers.fields import field_type_registry
from ledgers.search.keys import exact_key, key_prefix, ngram_stored_keys, stored_keys
from ledgers.search.normalize import normalize_digits, normalize_name, normalize_text

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
# are bounded, so a long import cannot grow them without limit.
_CACHE_SIZE = 1 << 16
_NORMALISERS = {
    "digits": lru_cache(maxsize=_CACHE_SIZE)(normalize_digits),
    "name": lru_cache(maxsize=_CACHE_SIZE)(normalize_name),
    "exact": _strip,
    "text": lru_cache(maxsize=_CACHE_SIZE)(normalize_text),
}


def normaliser_for(type_id: str) -> Any:
    if type_id in DIGIT_TYPES:
        return _NORMALISERS["digits"]
    if type_id in NAME_TYPES:
        return _NORMALISERS["name"]
    if type_id in EXACT_TYPES:
        return _NORMALISERS["exact"]
    return _NORMALISERS["text"]


@lru_cache(maxsize=_CACHE_SIZE)
def value_keys(prefix: str, type_id: str, value: str) -> tuple[int, ...]:
    """The stored keys one normalised value is indexed under (``prefix``: ``key_prefix``)."""
    if type_id in EXACT_TYPES:
        return tuple(stored_keys([exact_key(prefix, value)]))
    return tuple(ngram_stored_keys(prefix, value))


def _field_values(field: Mapping[str, Any], value: Any) -> list[str]:
    field_type = field_type_registry.get(field["type"])
    if field["type"] in EXACT_TYPES:
        return [str(value)] if value not in (None, "") else []
    raw = field_type.search_keys(value, field.get("options") or {})
    normalise = normaliser_for(field["type"])
    return [v for v in dict.fromkeys(normalise(r) for r in raw) if v]


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


@dataclass(frozen=True)
class IndexData:
    """A record's search index: the keys and recheck texts of its current values.

    ``keys_sql`` is the ``integer[]`` literal the record stores, assembled from per-value
    parts rendered once (a key may repeat across values; GIN stores it once per row).
    """

    keys_sql: str
    texts: dict[str, str]

    @property
    def keys(self) -> list[int]:
        """The distinct stored keys, sorted."""
        inner = self.keys_sql[1:-1]
        return sorted({int(key) for key in inner.split(",")}) if inner else []


def _hashable(value: Any) -> Any:
    """A cache key for a field value, or ``None`` when it has none (rows of a group)."""
    if isinstance(value, (str, int, float)):
        return (type(value), value)
    if isinstance(value, Mapping):
        items = tuple(sorted(value.items()))
        if all(isinstance(v, (str, int, float, type(None))) for _k, v in items):
            return items
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


_Entries = tuple[tuple[str, str, tuple[int, ...]], ...]


def _keys_text(entries: _Entries) -> str:
    return ",".join([",".join(map(str, keys)) for _p, _t, keys in entries if keys])


class Indexer:
    """What the search index stores for a record of one ledger, compiled once per definition.

    Each field's entries (path, normalised value, stored keys) are a pure function of its
    value, cached per field: records repeat statuses, choices, dates, towns and names, and
    a bulk import or a busy city then pays for each distinct value once. Group values
    (lists of rows) are computed each time.
    """

    CACHE_LIMIT = 20_000

    def __init__(self, fields: list[Mapping[str, Any]], ledger_id: int) -> None:
        """``fields``: the definition's fields, removed ones included (their values still
        get keys when they leave a record)."""
        self.ledger_id = ledger_id
        self._types = path_types(fields)
        self._fields = [f for f in fields if not f.get("removed") and f["type"] != "my_number"]
        self._caches: list[dict[Any, tuple[_Entries, str]]] = [{} for _ in self._fields]

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

    def _entries(self, field: Mapping[str, Any], value: Any) -> _Entries:
        return tuple(
            (
                path,
                text[:MAX_VALUE],
                value_keys(key_prefix(self.ledger_id, path), type_id, text[:MAX_VALUE]),
            )
            for path, type_id, values in searchable_values([field], {field["key"]: value})
            for text in values
        )

    def index(self, data: Mapping[str, Any]) -> IndexData:
        key_parts: list[str] = []
        by_path: dict[str, list[str]] = {}
        for field, cache in zip(self._fields, self._caches, strict=True):
            value = data.get(field["key"])
            if value is None or value == "":
                continue
            cache_key = _hashable(value)
            cached = cache.get(cache_key) if cache_key is not None else None
            if cached is None:
                entries = self._entries(field, value)
                cached = (entries, _keys_text(entries))
                if cache_key is not None:
                    if len(cache) >= self.CACHE_LIMIT:
                        cache.clear()
                    cache[cache_key] = cached
            entries, keys_text = cached
            if keys_text:
                key_parts.append(keys_text)
            for path, text, _keys in entries:
                by_path.setdefault(path, []).append(text)
        return IndexData(
            keys_sql="{" + ",".join(key_parts) + "}",
            texts={path: SEP + SEP.join(values) + SEP for path, values in by_path.items()},
        )
