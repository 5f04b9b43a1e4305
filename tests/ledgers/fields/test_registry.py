"""The registry and the contract every field type keeps (None handling, idempotent
clean, JSON values, export/import round trip, template options round trip)."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from ledgers.fields import field_type_registry, register_field_types
from ledgers.fields.exceptions import (
    FieldOptionsError,
    FieldTypeAlreadyRegistered,
    FieldValueError,
    UnknownFieldType,
)
from ledgers.fields.registry import MASK, FieldType, FieldTypeRegistry
from ledgers.fields.types.text import TextFieldType

EXPECTED_TYPES = [
    "text", "long_text", "integer", "decimal", "date", "datetime", "boolean", "choice",
    "multi_choice", "person_name", "postal_code", "address", "phone", "email", "my_number",
    "file", "department_flags", "repeating_group", "reference",
]  # fmt: skip

CHOICES = {"choices": [{"value": "new", "label": "新規"}, {"value": "renew", "label": "更新"}]}
GROUP = {
    "fields": [
        {"key": "name", "label": "氏名", "type": "person_name"},
        {"key": "born", "label": "生年月日", "type": "date"},
    ]
}
# type id → (options, raw input values that clean successfully)
SAMPLES: dict[str, tuple[dict[str, Any] | None, list[Any]]] = {
    "text": (None, ["  山田 ", "髙橋﨑", 12]),
    "long_text": ({"max_length": 100}, ["一行目\r\n二行目", "備考"]),
    "integer": ({"min": 0}, ["¥120,000", "１２０，０００円", 5]),
    "decimal": ({"decimal_places": 2}, ["1,234.5", "０．２５", 3]),
    "date": (None, ["令和5年4月1日", "S60.3.3", "2023/04/01"]),
    "datetime": (None, ["令和5年4月1日 10:30", "2023-04-01T10:30:00Z"]),
    "boolean": (None, ["可", "×", True]),
    "choice": (CHOICES, ["新規", "renew"]),
    "multi_choice": (CHOICES, ["新規、更新", ["renew"]]),
    "person_name": ({"require_kana": True}, [{"name": "山田 太郎", "kana": "やまだ たろう"}]),
    "postal_code": (None, ["〒１８１－００１４", "1810014"]),
    "address": (
        None,
        ["〒181-0014 東京都三鷹市野崎7丁目20番3号", {"prefecture": "東京", "city": "三鷹市"}],
    ),
    "phone": (None, ["(03)1234-5678", "０９０－１２３４－５６７８"]),
    "email": (None, ["Taro@Example.JP"]),
    "my_number": (None, ["1234 5678 9018"]),
    "file": (None, [{"name": "申請書.pdf", "size": 10, "storage_key": "a/b"}]),
    "department_flags": ({"departments": ["shimin", "hoken"]}, [{"shimin": "可"}, "shimin:○"]),
    "repeating_group": (GROUP, [[{"name": "山田 太郎", "born": "S60.3.3"}]]),
    "reference": (None, ["people:42", {"ledger": "people", "record": 7}]),
}
NOT_IMPORTABLE = {"file"}  # a cell holds a file name, not the file


def cases() -> list[tuple[str, dict[str, Any] | None, Any]]:
    return [(type_id, options, raw) for type_id, (options, raws) in SAMPLES.items() for raw in raws]


def test_every_field_type_of_the_design_is_registered_in_order() -> None:
    assert [field_type.type for field_type in field_type_registry.types()] == EXPECTED_TYPES
    assert set(SAMPLES) == set(EXPECTED_TYPES)


def test_register_field_types_is_idempotent() -> None:
    before = field_type_registry.types()
    register_field_types()
    register_field_types()
    assert field_type_registry.types() == before


def test_a_fresh_registry_gets_every_type() -> None:
    registry = FieldTypeRegistry()
    register_field_types(registry)
    assert [field_type.type for field_type in registry.types()] == EXPECTED_TYPES
    assert ("date", "日付") in registry.choices()
    assert "date" in registry
    assert "nope" not in registry


def test_a_second_class_under_a_taken_id_is_refused() -> None:
    class OtherText(FieldType):
        type = "text"
        label = "別のテキスト"

    registry = FieldTypeRegistry()
    registry.register(TextFieldType())
    with pytest.raises(FieldTypeAlreadyRegistered):
        registry.register(OtherText())


@pytest.mark.parametrize("label", ["", None])
def test_a_type_without_label_is_refused(label: str | None) -> None:
    class Nameless(FieldType):
        type = "nameless"

    Nameless.label = label  # type: ignore[assignment,misc]
    with pytest.raises(ValueError, match="label"):
        FieldTypeRegistry().register(Nameless())


@pytest.mark.parametrize("type_id", ["nope", "", None, ["text"]])
def test_unknown_type_raises_unknown_field_type(type_id: Any) -> None:
    with pytest.raises(UnknownFieldType) as info:
        field_type_registry.get(type_id)
    assert "不明なフィールド型" in str(info.value)


def test_errors_are_validation_errors_with_the_japanese_message_as_str() -> None:
    error = FieldValueError("100%の値です", code="x", detail=1)
    assert isinstance(error, ValidationError)
    assert str(error) == "100%の値です"
    # Django %-formats messages with params; details must stay out of them.
    assert list(error) == ["100%の値です"]
    assert error.code == "x"
    assert error.details == {"detail": 1}


@pytest.mark.parametrize(
    "error",
    [
        FieldValueError("値が正しくありません", code="invalid", row=2),
        FieldOptionsError("オプションが正しくありません"),
        UnknownFieldType("nope"),
    ],
)
def test_errors_survive_pickling(error: ValidationError) -> None:
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert type(copy) is type(error)
    assert (str(copy), copy.code, copy.details) == (str(error), error.code, error.details)  # type: ignore[attr-defined]


def test_unknown_field_type_names_the_id() -> None:
    assert UnknownFieldType("nope").type_id == "nope"


@pytest.mark.parametrize("type_id", EXPECTED_TYPES)
def test_labels_are_japanese(type_id: str) -> None:
    label = field_type_registry.get(type_id).label
    assert label
    assert not label.isascii()


@pytest.mark.parametrize("type_id", EXPECTED_TYPES)
@pytest.mark.parametrize("blank", [None, "", "   ", "\u3000"])
def test_blank_values_clean_to_none(type_id: str, blank: Any) -> None:
    field_type = field_type_registry.get(type_id)
    options = field_type.validate_options(SAMPLES[type_id][0])
    assert field_type.clean(blank, options) is None
    assert field_type.parse_import(blank or "", options) is None


@pytest.mark.parametrize("type_id", EXPECTED_TYPES)
def test_no_value_formats_as_nothing(type_id: str) -> None:
    field_type = field_type_registry.get(type_id)
    options = field_type.validate_options(SAMPLES[type_id][0])
    assert field_type.format_export(None, options) == ""
    assert field_type.display(None, options) == ""
    assert field_type.display(None, options, era=False) == ""
    assert field_type.search_keys(None, options) == []


@pytest.mark.parametrize("type_id", EXPECTED_TYPES)
def test_unknown_option_keys_are_refused(type_id: str) -> None:
    field_type = field_type_registry.get(type_id)
    with pytest.raises(FieldOptionsError, match="使えないオプション"):
        field_type.validate_options({**(SAMPLES[type_id][0] or {}), "typo": 1})


@pytest.mark.parametrize("type_id", EXPECTED_TYPES)
def test_options_must_be_a_mapping(type_id: str) -> None:
    with pytest.raises(FieldOptionsError):
        field_type_registry.get(type_id).validate_options(["not", "a", "dict"])  # type: ignore[arg-type]


@pytest.mark.parametrize(("type_id", "options", "raw"), cases())
def test_clean_is_idempotent_and_json_serialisable(type_id: str, options: Any, raw: Any) -> None:
    field_type = field_type_registry.get(type_id)
    normalised = field_type.validate_options(options)
    value = field_type.clean(raw, normalised)
    assert value is not None
    assert field_type.clean(value, normalised) == value
    assert json.loads(json.dumps(value)) == value


@pytest.mark.parametrize(
    ("type_id", "options", "raw"), [case for case in cases() if case[0] not in NOT_IMPORTABLE]
)
def test_export_then_import_gives_the_value_back(type_id: str, options: Any, raw: Any) -> None:
    field_type = field_type_registry.get(type_id)
    normalised = field_type.validate_options(options)
    value = field_type.clean(raw, normalised)
    text = field_type.format_export(value, normalised)
    assert isinstance(text, str)
    if type_id == "address" and "text" not in value:
        # A structured address exports as one line and comes back as free text.
        assert field_type.parse_import(text, normalised) == {"text": "東京都三鷹市"}
        return
    assert field_type.parse_import(text, normalised) == value


@pytest.mark.parametrize(("type_id", "options", "raw"), cases())
def test_display_and_search_keys_are_strings(type_id: str, options: Any, raw: Any) -> None:
    field_type = field_type_registry.get(type_id)
    normalised = field_type.validate_options(options)
    value = field_type.clean(raw, normalised)
    assert isinstance(field_type.display(value, normalised), str)
    assert isinstance(field_type.display(value, normalised, era=False), str)
    keys = field_type.search_keys(value, normalised)
    # No whitespace, but the one space between a name's family and given parts (the search
    # forms drop it; ``name_forms`` reads the parts from it).
    assert all(isinstance(key, str) and key and " ".join(key.split()) == key for key in keys)
    assert all(" " not in key for key in keys) or type_id in {"person_name", "repeating_group"}


@pytest.mark.parametrize("type_id", EXPECTED_TYPES)
def test_serialized_options_validate_back_to_the_same_options(type_id: str) -> None:
    field_type = field_type_registry.get(type_id)
    normalised = field_type.validate_options(SAMPLES[type_id][0])
    serialized = field_type.serialize_options(normalised)
    assert json.loads(json.dumps(serialized)) == serialized
    assert field_type.validate_options(serialized) == normalised


@pytest.mark.parametrize("type_id", sorted(set(EXPECTED_TYPES) - {"my_number"}))
def test_mask_hides_the_value_by_default(type_id: str) -> None:
    assert field_type_registry.get(type_id).mask("秘密") == MASK == "＊＊＊"


@pytest.mark.parametrize("type_id", EXPECTED_TYPES)
def test_parse_import_refuses_non_text(type_id: str) -> None:
    field_type = field_type_registry.get(type_id)
    with pytest.raises(FieldValueError):
        field_type.parse_import(123, field_type.validate_options(SAMPLES[type_id][0]))  # type: ignore[arg-type]


def test_one_cache_key_for_inputs_and_cleaned_values_and_no_two_kinds_meet() -> None:
    """value_cache_key keys both the records services' clean cache and the search
    indexer's: values that differ must never share a key, whatever their kinds."""
    from ledgers.fields.registry import value_cache_key

    values = [
        "1", 1, 1.0, True, 0, False, "", ["1"], {"a": "1"}, {"a": True}, {"a": None},
        {"kanji": "山田 花子", "kana": "ヤマダ ハナコ"}, {"kanji": "山田 花子", "kana": "ヤマダ ハナ"},
    ]  # fmt: skip
    keys = [value_cache_key(v) for v in values]
    assert None not in keys
    for i, key in enumerate(keys):
        for j, other in enumerate(keys):
            assert (key == other) == (i == j), (values[i], values[j])
    assert value_cache_key({"a": 1}) is None  # 1 would meet True
    assert value_cache_key({"a": ["x"]}) is None
    assert value_cache_key([1]) is None
    assert value_cache_key(None) is None
    # Long texts are not remembered (``CACHEABLE_TEXT``): unique ones would fill the caches.
    long = "備考" * 40
    assert value_cache_key(long) is None
    assert value_cache_key({"text": long}) is None
    assert value_cache_key([long]) is None
    assert value_cache_key("備考" * 32) == "備考" * 32
