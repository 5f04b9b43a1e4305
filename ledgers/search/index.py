"""What a record's values put in the search index: normalised values and their keys.

Every searchable field (and every sub-field of a group, as ``group.sub``) yields normalised
strings; the record stores their n-gram keys in ``Record.search_keys`` (one GIN index) and
the normalised strings in ``Record.search_text`` for the recheck (``index_record``), as
``\\x1f value \\x1f value \\x1f`` so that prefix and exact matches of any one value are a
plain ``strpos``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ledgers.fields import field_type_registry
from ledgers.search.keys import exact_key, ngram_keys
from ledgers.search.normalize import normalize_digits, normalize_name, normalize_text

SEP = "\x1f"
GROUP_TYPES = {"repeating_group", "group"}
NAME_TYPES = {"person_name", "text", "choice", "multi_choice", "email", "reference"}
DIGIT_TYPES = {"phone", "postal_code", "integer"}
# Values kept as they are (ISO dates, decimals): exact keys only.
EXACT_TYPES = {"date", "datetime", "decimal", "boolean"}


def normaliser_for(type_id: str) -> Any:
    if type_id in DIGIT_TYPES:
        return normalize_digits
    if type_id in NAME_TYPES:
        return normalize_name
    if type_id in EXACT_TYPES:
        return lambda text: text.strip()
    return normalize_text


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


def index_values(
    fields: list[Mapping[str, Any]], data: Mapping[str, Any]
) -> list[tuple[str, str, list[str]]]:
    """(path, normalised value, its keys) for every searchable value of a record."""
    entries = []
    for path, type_id, values in searchable_values(fields, data):
        for value in values:
            value = value[:MAX_VALUE]
            keys = [exact_key(path, value)] if type_id in EXACT_TYPES else ngram_keys(path, value)
            entries.append((path, value, keys))
    return entries


@dataclass(frozen=True)
class IndexData:
    """A record's search index: the keys and recheck texts of its current values, and each
    value with its own keys for the all-generation index."""

    keys: list[str]
    texts: dict[str, str]
    paths: list[str]
    values: list[str]
    value_keys: list[list[str]]


def index_record(fields: list[Mapping[str, Any]], data: Mapping[str, Any]) -> IndexData:
    """Everything the search index stores for a record's values."""
    entries = index_values(fields, data)
    keys: set[str] = set()
    by_path: dict[str, list[str]] = {}
    for path, value, value_keys in entries:
        keys.update(value_keys)
        by_path.setdefault(path, []).append(value)
    return IndexData(
        keys=sorted(keys),
        texts={path: SEP + SEP.join(values) + SEP for path, values in by_path.items()},
        paths=[e[0] for e in entries],
        values=[e[1] for e in entries],
        value_keys=[e[2] for e in entries],
    )
