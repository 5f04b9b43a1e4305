"""Field types as plug-ins: one ``FieldType`` instance per kind, kept in one registry.

This is Baserow's Instance + Registry shape. A ledger's field definition names a type id
and carries options; every layer (forms, API, import, export, search, print, templates)
asks the registered type rather than branching on the id, so a new kind of field is one
module, one register line and one test file.

Every hook receives options already normalised by ``validate_options``. Values are the
JSON that a record's ``data`` holds for the field; ``None`` means "no value".
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from ledgers.fields.exceptions import (
    FieldOptionsError,
    FieldTypeAlreadyRegistered,
    FieldValueError,
    UnknownFieldType,
)
from ledgers.fields.normalize import is_blank, search_normalize

MASK = "＊＊＊"

# What an object's parts may be for it to have a cache key: these never equal one another
# across types (an int would meet True, a float 1.0 would meet 1).
_PART_TYPES = (str, bool, type(None))


#: The longest text a value cache remembers (``value_cache_key``): records repeat names,
#: towns, statuses and dates, rarely a long note; remembered at any length, refused bulk
#: requests of unique 1,000-character notes filled a web process with ~110 MB per text
#: field (20,000 entries per cache).
CACHEABLE_TEXT = 64


def value_cache_key(value: Any) -> Any:
    """A key a field value (an input, or a cleaned value) can be remembered under, or
    ``None`` when it has none. A text is its own key; a number is tagged with its type, so
    ``1``, ``1.0`` and ``True`` never meet; an object of texts or flags (a name's or an
    address's parts, 可/不可 per department) is its items in order (another order only
    misses); a list of texts is a tuple. No two kinds share a key, so one cache holds them
    all. The records services key ``clean`` by it, the search indexer a value's keys.
    """
    kind = type(value)
    if kind is str:
        return value if len(value) <= CACHEABLE_TEXT else None
    if kind is int or kind is float or kind is bool:
        return (kind, value)
    if kind is dict:
        items = tuple(value.items())
        for _key, part in items:
            if type(part) not in _PART_TYPES or (type(part) is str and len(part) > CACHEABLE_TEXT):
                return None
        return (dict, items)  # tagged: {} and [] must never meet
    if kind is list:
        for part in value:
            if type(part) is not str or len(part) > CACHEABLE_TEXT:
                return None
        return (list, tuple(value))
    return None


class FieldType:
    """One kind of field (日付, 氏名, 個人番号 …) and the hooks every layer calls.

    Subclasses set ``type`` and ``label`` and implement ``clean_value``; the other hooks
    have defaults that suit plain scalar values.
    """

    type: ClassVar[str]
    label: ClassVar[str]
    #: Other ids ``get`` accepts for this type (short names used in API documents).
    aliases: ClassVar[tuple[str, ...]] = ()
    #: Option keys the type understands; any other key is refused as a likely typo.
    option_keys: ClassVar[frozenset[str]] = frozenset()
    #: Whether ``clean`` of an input depends on that input and the field's options alone
    #: (no database, no clock) and returns a value nobody changes: the records services
    #: may then reuse a result for the same input (``value_cache_key``; a bulk import
    #: repeats its statuses, towns and dates). Never set for personal numbers.
    pure: ClassVar[bool] = False

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """Check a field's options and return them normalised (raises FieldOptionsError)."""
        if options is None:
            return {}
        if not isinstance(options, Mapping):
            raise FieldOptionsError("オプションはオブジェクト（キーと値の組）で指定してください")
        unknown = sorted(str(key) for key in options if key not in self.option_keys)
        if unknown:
            raise FieldOptionsError(
                f"{self.label}には使えないオプションです: {'、'.join(unknown)}", keys=unknown
            )
        return dict(options)

    def clean(self, value: Any, options: Mapping[str, Any]) -> Any:
        """Validate and normalise a value into its canonical JSON form.

        ``None`` and blank strings become ``None``; anything else goes to ``clean_value``,
        which raises ``FieldValueError`` with a Japanese message naming the problem.
        Cleaning a clean value returns it unchanged.
        """
        if is_blank(value):
            return None
        return self.clean_value(value, options)

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> Any:
        """Type-specific part of ``clean`` for a value that is not blank."""
        raise NotImplementedError

    def initial(self, options: Mapping[str, Any]) -> Any:
        """The input a new record takes for this field when it is created without it
        (``None``: no value). It is cleaned like any input; a change never applies it."""
        return None

    def parse_import(self, text: str, options: Mapping[str, Any]) -> Any:
        """Read a CSV or Excel cell's text, then clean it."""
        if not isinstance(text, str):
            raise FieldValueError("取り込みの値は文字列で渡してください", code="invalid_type")
        return self.clean(text, options)

    def format_export(self, value: Any, options: Mapping[str, Any]) -> str:
        """Text written to a CSV or Excel cell; ``parse_import`` reads it back."""
        return "" if value is None else str(value)

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        """Normalised strings the search index stores for this value."""
        if value is None:
            return []
        key = search_normalize(self.format_export(value, options))
        return [key] if key else []

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        """Text shown on screen and in print; ``era`` picks 和暦 over 西暦 for dates."""
        return self.format_export(value, options)

    def serialize_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options as plain JSON for ledger templates; ``validate_options`` reads it back."""
        return json.loads(json.dumps(copy.deepcopy(dict(options)), ensure_ascii=False))

    def mask(self, value: Any) -> Any:
        """What a viewer without the right to see this field gets instead of the value."""
        return MASK

    def __repr__(self) -> str:
        return f"<{type(self).__name__} type={self.type!r}>"


class FieldTypeRegistry:
    """All field types by id. Registering the same class twice is a no-op, so setup
    code may run more than once (app ready() and import-time registration)."""

    def __init__(self) -> None:
        self._types: dict[str, FieldType] = {}
        self._aliases: dict[str, str] = {}

    def register(self, instance: FieldType) -> None:
        """Add a field type; a different class under an id already taken is an error."""
        type_id = getattr(instance, "type", None)
        if not isinstance(type_id, str) or not type_id:
            raise ValueError(f"{type(instance).__name__} has no `type` id")
        if not getattr(instance, "label", None):
            raise ValueError(f"{type(instance).__name__} has no `label`")
        existing = self._types.get(type_id)
        if existing is not None:
            if type(existing) is type(instance):
                return
            raise FieldTypeAlreadyRegistered(
                f"field type {type_id!r} is already registered by {type(existing).__name__}"
            )
        for alias in instance.aliases:
            if alias in self._types or self._aliases.get(alias, type_id) != type_id:
                raise FieldTypeAlreadyRegistered(f"field type id {alias!r} is already taken")
        self._types[type_id] = instance
        self._aliases.update(dict.fromkeys(instance.aliases, type_id))

    def get(self, type_id: object) -> FieldType:
        """The field type registered under ``type_id`` or one of its aliases (raises
        UnknownFieldType). Callers store ``result.type``, never the alias."""
        if not isinstance(type_id, str):
            raise UnknownFieldType(type_id)
        try:
            return self._types[self._aliases.get(type_id, type_id)]
        except KeyError:
            raise UnknownFieldType(type_id) from None

    def types(self) -> list[FieldType]:
        """Every registered field type, in registration order."""
        return list(self._types.values())

    def choices(self) -> list[tuple[str, str]]:
        """(id, Japanese label) pairs for select boxes."""
        return [(field_type.type, field_type.label) for field_type in self._types.values()]

    def __contains__(self, type_id: object) -> bool:
        return isinstance(type_id, str) and self._aliases.get(type_id, type_id) in self._types


field_type_registry = FieldTypeRegistry()
