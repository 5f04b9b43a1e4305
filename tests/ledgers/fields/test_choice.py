"""選択肢: value or label in, value stored, unknown input lists the allowed labels."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.fields.exceptions import FieldOptionsError
from ledgers.fields.types.choice import ChoiceFieldType
from tests.ledgers.fields.helpers import clean, error, fmt

CATEGORY = {
    "choices": [
        {"value": "new", "label": "新規"},
        {"value": "renew", "label": "更新"},
        {"value": "change", "label": "変更"},
    ]
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("new", "new"),
        ("新規", "new"),
        (" 更新 ", "renew"),
        ("ＣＨＡＮＧＥ", None),
        ("change", "change"),
    ],
)
def test_value_or_label_is_accepted(raw: str, expected: str | None) -> None:
    if expected is None:
        assert "選択肢にありません" in str(error("choice", raw, CATEGORY))
        return
    assert clean("choice", raw, CATEGORY) == expected


def test_width_is_ignored_when_matching() -> None:
    options = {"choices": [{"value": "A1", "label": "Ａ区分"}]}
    assert clean("choice", "Ａ１", options) == "A1"
    assert clean("choice", "A区分", options) == "A1"


@pytest.mark.parametrize("raw", ["取消", "New", 1, ["new"]])
def test_unknown_choice_lists_allowed_labels(raw: Any) -> None:
    message = str(error("choice", raw, CATEGORY))
    assert "は選択肢にありません（選択肢: 新規、更新、変更）" in message


def test_plain_strings_are_choices_with_the_same_label() -> None:
    options = ChoiceFieldType().validate_options({"choices": ["女", "男"]})
    assert options == {"choices": [{"value": "女", "label": "女"}, {"value": "男", "label": "男"}]}
    assert "選択肢: 女、男" in str(error("choice", "X", {"choices": ["女", "男"]}))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "1つ以上"),
        ({"choices": []}, "1つ以上"),
        ({"choices": "新規"}, "1つ以上"),
        ({"choices": [{"value": ""}]}, "値が空です"),
        ({"choices": [{"value": "a", "label": " "}]}, "表示名が空です"),
        ({"choices": [{"value": 1}]}, "値が空です"),
        ({"choices": [{"value": "a", "colour": "red"}]}, "value と label"),
        ({"choices": ["a", "a"]}, "値「a」が重複"),
        (
            {"choices": [{"value": "a", "label": "X"}, {"value": "b", "label": "X"}]},
            "表示名「X」が重複",
        ),
    ],
)
def test_choice_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(FieldOptionsError, match=message):
        ChoiceFieldType().validate_options(options)


def test_label_is_shown_and_exported_and_both_are_search_keys() -> None:
    assert fmt("choice", "display", "renew", CATEGORY) == "更新"
    assert fmt("choice", "format_export", "renew", CATEGORY) == "更新"
    assert fmt("choice", "search_keys", "renew", CATEGORY) == ["renew", "更新"]
