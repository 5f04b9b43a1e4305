"""複数選択: lists or separated text in, values stored in definition order."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.fields.exceptions import FieldOptionsError
from ledgers.fields.types.multi_choice import MultiChoiceFieldType
from tests.ledgers.fields.helpers import clean, error, fmt

SUPPORT = {
    "choices": [
        {"value": "juminhyo", "label": "住民票"},
        {"value": "koseki", "label": "戸籍の附票"},
        {"value": "kazei", "label": "課税証明"},
    ]
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["juminhyo"], ["juminhyo"]),
        (["課税証明", "住民票"], ["juminhyo", "kazei"]),
        (["住民票", "juminhyo"], ["juminhyo"]),
        ("住民票、課税証明", ["juminhyo", "kazei"]),
        ("住民票,課税証明", ["juminhyo", "kazei"]),
        ("住民票，戸籍の附票", ["juminhyo", "koseki"]),
        ("住民票; 課税証明", ["juminhyo", "kazei"]),
        ("住民票\n課税証明", ["juminhyo", "kazei"]),
        ("住民票、、", ["juminhyo"]),
        (("koseki",), ["koseki"]),
        ([], None),
        (["", None], None),
    ],
)
def test_multi_choice_accepts(raw: Any, expected: list[str] | None) -> None:
    assert clean("multi_choice", raw, SUPPORT) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (["住民票", "印鑑証明"], "選択肢にない値があります: 「印鑑証明」"),
        ("印鑑証明、戸籍謄本", "「印鑑証明」、「戸籍謄本」"),
        ([1], "「1」"),
        (1, "選択肢のリストで入力してください"),
        ({"juminhyo": True}, "選択肢のリストで入力してください"),
    ],
)
def test_multi_choice_refuses(raw: Any, message: str) -> None:
    text = str(error("multi_choice", raw, SUPPORT))
    assert message in text
    if isinstance(raw, list | str):
        assert "選択肢: 住民票、戸籍の附票、課税証明" in text


def test_labels_are_shown_joined() -> None:
    assert fmt("multi_choice", "display", ["juminhyo", "kazei"], SUPPORT) == "住民票、課税証明"
    assert fmt("multi_choice", "search_keys", ["kazei"], SUPPORT) == ["kazei", "課税証明"]


@pytest.mark.parametrize("text", ["a,b", "住民票、写し", "a;b", "一\n二"])
def test_separators_inside_choices_are_refused(text: str) -> None:
    with pytest.raises(FieldOptionsError, match="区切り文字"):
        MultiChoiceFieldType().validate_options({"choices": [{"value": "x", "label": text}]})
