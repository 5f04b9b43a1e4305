"""課ごとの開示可否: per-department 可/不可; unknown departments refused, missing ones 不可."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.fields.exceptions import FieldOptionsError
from ledgers.fields.types.department_flags import DepartmentFlagsFieldType
from tests.ledgers.fields.helpers import clean, error, fmt

OPTIONS = {"departments": ["shimin", "zeimu", "hoken"]}
NONE_GRANTED = {"shimin": False, "zeimu": False, "hoken": False}


@pytest.mark.parametrize(
    ("mark", "expected"),
    [("可", True), ("不可", False), ("○", True), ("×", False), ("〇", True), ("✕", False),
     ("true", True), ("false", False), ("1", True), ("0", False), ("はい", True), ("いいえ", False),
     (True, True), (False, False), (1, True), (0, False), ("", False), (None, False), (" 可 ", True)],
)  # fmt: skip
def test_each_mark_is_read_per_department(mark: Any, expected: bool) -> None:
    assert clean("department_flags", {"zeimu": mark}, OPTIONS) == {
        **NONE_GRANTED,
        "zeimu": expected,
    }


def test_missing_departments_default_to_not_granted() -> None:
    assert clean("department_flags", {}, OPTIONS) == NONE_GRANTED
    assert clean("department_flags", {"shimin": "可"}, OPTIONS) == {**NONE_GRANTED, "shimin": True}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("shimin:可、hoken:○", {**NONE_GRANTED, "shimin": True, "hoken": True}),
        ("shimin=1, zeimu=0", {**NONE_GRANTED, "shimin": True}),
        ("shimin：不可；hoken：可", {**NONE_GRANTED, "hoken": True}),
        ('{"shimin": true}', {**NONE_GRANTED, "shimin": True}),
    ],
)
def test_text_forms(raw: str, expected: dict[str, bool]) -> None:
    assert clean("department_flags", raw, OPTIONS) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"kodomo": "可"},
            "不明な課コードです: 「kodomo」（設定されている課: shimin、zeimu、hoken）",
        ),
        ({"shimin": "可", "x": "×", "y": "○"}, "「x」、「y」"),
        ({"shimin": "△"}, "「shimin」の「△」は可/不可として読み取れません"),
        ({"shimin": 2}, "「shimin」の「2」は可/不可"),
        ("shimin", "「課コード: 可」の形になっていません"),
        ("{broken", "書式が正しくありません"),
        (["shimin"], "「課コード: 可」の組で入力してください"),
        ("kodomo:可", "不明な課コードです"),
    ],
)
def test_department_flags_refuse(raw: Any, message: str) -> None:
    assert message in str(error("department_flags", raw, OPTIONS))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "1つ以上"),
        ({"departments": []}, "1つ以上"),
        ({"departments": "shimin"}, "1つ以上"),
        ({"departments": ["shimin", ""]}, "空でない文字列"),
        ({"departments": ["shimin", 3]}, "空でない文字列"),
        ({"departments": ["shimin", "shimin"]}, "「shimin」が重複"),
        ({"departments": ["shimin"], "default": ["zeimu"]}, "初期値で可にする課"),
        ({"departments": ["shimin"], "default": "shimin"}, "初期値で可にする課"),
    ],
)
def test_department_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(FieldOptionsError, match=message):
        DepartmentFlagsFieldType().validate_options(options)


def test_export_lists_every_department_and_is_not_searchable() -> None:
    value = {**NONE_GRANTED, "zeimu": True}
    assert (
        fmt("department_flags", "format_export", value, OPTIONS)
        == "shimin:不可、zeimu:可、hoken:不可"
    )
    assert fmt("department_flags", "display", value, OPTIONS) == "shimin:不可、zeimu:可、hoken:不可"
    assert fmt("department_flags", "search_keys", value, OPTIONS) == []


def test_default_departments_are_the_initial_flags_of_a_new_record() -> None:
    """The departments ``default`` names are 可 on a record created without the field (as
    DV_LEDGER.md's 市民課); without the option a new record gets no flags (None)."""
    field_type = DepartmentFlagsFieldType()
    options = field_type.validate_options({**OPTIONS, "default": ["shimin", "shimin"]})
    assert options == {**OPTIONS, "default": ["shimin"]}
    assert field_type.initial(options) == {**NONE_GRANTED, "shimin": True}
    assert field_type.initial(field_type.validate_options(OPTIONS)) is None
    # Flags given are read as before: a department left out is 不可, default or not.
    assert clean("department_flags", {"zeimu": "可"}, {**OPTIONS, "default": ["shimin"]}) == {
        **NONE_GRANTED,
        "zeimu": True,
    }
