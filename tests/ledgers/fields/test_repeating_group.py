"""繰り返し項目: rows cleaned per sub-field; errors name the row and the sub-field."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.fields import field_type_registry
from ledgers.fields.exceptions import FieldOptionsError, FieldValueError
from ledgers.fields.registry import FieldTypeRegistry
from ledgers.fields.types.repeating_group import RepeatingGroupFieldType
from ledgers.fields.types.text import TextFieldType
from tests.ledgers.fields.helpers import clean, error, fmt

RELATED = {
    "fields": [
        {"key": "name", "label": "氏名", "type": "person_name"},
        {"key": "birth_date", "label": "生年月日", "type": "date"},
        {
            "key": "relation",
            "label": "続柄",
            "type": "choice",
            "options": {"choices": ["配偶者", "子", "父"]},
        },
    ]
}


def test_rows_are_cleaned_by_their_sub_fields() -> None:
    rows = clean(
        "repeating_group",
        [
            {
                "name": {"name": "山田 太郎", "kana": "やまだ たろう"},
                "birth_date": "S60.3.3",
                "relation": "配偶者",
            },
            {"name": "山田 花子", "birth_date": "令和元年5月1日"},
        ],
        RELATED,
    )
    assert rows == [
        {
            "name": {
                "family": "山田",
                "given": "太郎",
                "family_kana": "ヤマダ",
                "given_kana": "タロウ",
                "kanji": "山田 太郎",
                "kana": "ヤマダ タロウ",
            },
            "birth_date": "1985-03-03",
            "relation": "配偶者",
        },
        {
            "name": {
                "family": "山田",
                "given": "花子",
                "family_kana": "",
                "given_kana": "",
                "kanji": "山田 花子",
                "kana": "",
            },
            "birth_date": "2019-05-01",
            "relation": None,
        },
    ]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], None),
        ([{}], None),
        ([{"name": "", "birth_date": None}, None], None),
        ([{}, {"relation": "子"}], [{"name": None, "birth_date": None, "relation": "子"}]),
    ],
)
def test_blank_rows_are_dropped(rows: list[Any], expected: Any) -> None:
    assert clean("repeating_group", rows, RELATED) == expected


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"birth_date": "S60.3.3"}, {"birth_date": "令和5年13月1日"}],
            "2行目の「生年月日」: 月が正しくありません（13月）",
        ),
        ([{"birth_date": "昭和70年1月1日"}], "1行目の「生年月日」: 昭和70年は存在しません"),
        (
            [{}, {"relation": "祖父"}],
            "2行目の「続柄」: 「祖父」は選択肢にありません（選択肢: 配偶者、子、父）",
        ),
        (
            [{"name": {"family": "山田", "family_kana": "山"}}],
            "1行目の「氏名」: 氏（カナ）にカナ以外の文字",
        ),
        ([{"nickname": "x"}], "1行目: 不明な項目があります: nickname"),
        (["山田"], "1行目: 行は項目と値の組で入力してください"),
        ({"name": "山田"}, "行のリストで入力してください"),
    ],
)
def test_errors_name_the_row_and_sub_field(rows: Any, message: str) -> None:
    assert message in str(error("repeating_group", rows, RELATED))


def test_error_details_carry_row_and_field() -> None:
    failure = error("repeating_group", [{}, {"birth_date": "令和5年13月1日"}], RELATED)
    assert failure.details == {"row": 2, "field": "birth_date"}
    assert failure.code == "invalid_month"


def test_required_sub_fields_and_max_rows() -> None:
    options = {
        "fields": [
            {"key": "name", "label": "氏名", "type": "text", "required": True},
            {"key": "note", "label": "備考", "type": "text", "help_text": "任意"},
        ],
        "max_rows": 2,
    }
    assert "1行目の「氏名」: 入力してください" in str(
        error("repeating_group", [{"note": "x"}], options)
    )
    rows = [{"name": str(n)} for n in range(3)]
    assert "2行までしか入力できません（現在3行）" in str(error("repeating_group", rows, options))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "1つ以上"),
        ({"fields": []}, "1つ以上"),
        (
            {"fields": [{"key": "a", "label": "A", "type": "repeating_group", "options": RELATED}]},
            "繰り返し項目の中に繰り返し項目は置けません",
        ),
        (
            {"fields": [{"key": "a", "label": "A", "type": "group"}]},
            "繰り返し項目の中に繰り返し項目は置けません",
        ),
        (
            {"fields": [{"key": "a", "label": "A", "type": "nope"}]},
            "不明なフィールド型です: 「nope」",
        ),
        ({"fields": [{"key": "A", "label": "A", "type": "text"}]}, "半角英小文字"),
        ({"fields": [{"key": "1a", "label": "A", "type": "text"}]}, "半角英小文字"),
        ({"fields": [{"key": "a", "label": "", "type": "text"}]}, "表示名がありません"),
        (
            {
                "fields": [
                    {"key": "a", "label": "A", "type": "text"},
                    {"key": "a", "label": "B", "type": "text"},
                ]
            },
            "キー「a」が重複",
        ),
        ({"fields": [{"key": "a", "label": "A", "type": "text", "width": 3}]}, "key・label・type"),
        (
            {"fields": [{"key": "a", "label": "A", "type": "choice"}]},
            "「A」: 選択肢（choices）を1つ以上",
        ),
        (
            {"fields": [{"key": "a", "label": "A", "type": "text", "required": "yes"}]},
            "required は true か false",
        ),
        ({"fields": ["a"]}, "key・label・type"),
        ({"fields": [{"key": "a", "label": "A", "type": "text"}], "max_rows": 0}, "max_rows"),
    ],
)
def test_group_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(FieldOptionsError, match=message):
        field_type_registry.get("repeating_group").validate_options(options)


def test_sub_field_options_are_normalised_and_aliases_resolved() -> None:
    options = field_type_registry.get("group").validate_options(
        {"fields": [{"key": "note", "label": " 備考 ", "type": "text"}]}
    )
    assert options == {
        "fields": [
            {
                "key": "note",
                "label": "備考",
                "type": "text",
                "options": {"max_length": 255},
                "sensitivity": "internal",
            }
        ],
        "max_rows": None,
    }


def test_display_uses_sub_field_display_and_era() -> None:
    value = clean(
        "repeating_group",
        [{"name": "山田 太郎", "birth_date": "S60.3.3"}, {"relation": "子"}],
        RELATED,
    )
    assert (
        fmt("repeating_group", "display", value, RELATED)
        == "氏名: 山田\u3000太郎、生年月日: 昭和60年3月3日／続柄: 子"
    )
    assert "生年月日: 1985年3月3日" in fmt("repeating_group", "display", value, RELATED, era=False)
    assert fmt("repeating_group", "search_keys", value, RELATED) == [
        "山田 太郎",
        "1985-03-03",
        "昭和60年3月3日",
        "子",
    ]


def test_import_reads_json_rows() -> None:
    field_type = field_type_registry.get("repeating_group")
    options = field_type.validate_options(RELATED)
    assert field_type.parse_import('[{"relation": "子"}]', options) == [
        {"name": None, "birth_date": None, "relation": "子"}
    ]
    with pytest.raises(FieldValueError, match="JSON の配列"):
        field_type.parse_import("子", options)


def test_a_group_looks_sub_types_up_in_its_own_registry() -> None:
    registry = FieldTypeRegistry()
    registry.register(TextFieldType())
    group = RepeatingGroupFieldType(registry)
    registry.register(group)
    options = group.validate_options({"fields": [{"key": "a", "label": "A", "type": "text"}]})
    assert group.clean([{"a": " x "}], options) == [{"a": "x"}]
    with pytest.raises(FieldOptionsError, match="不明なフィールド型"):
        group.validate_options({"fields": [{"key": "a", "label": "A", "type": "date"}]})
