"""整数: amounts as staff write them ("120,000", "¥120,000", "１２０，０００円", ▲)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledgers.fields.exceptions import FieldOptionsError
from ledgers.fields.types.integer import SAFE_INTEGER, IntegerFieldType
from tests.ledgers.fields.helpers import clean, error, fmt


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("120000", 120000),
        ("120,000", 120000),
        ("¥120,000", 120000),
        ("￥120,000", 120000),
        ("\\120,000", 120000),  # Shift_JIS shows the backslash as ¥
        ("120,000円", 120000),
        ("¥120,000円", 120000),
        ("１２０，０００", 120000),
        ("１２０，０００円", 120000),
        ("  42 ", 42),
        ("+5", 5),
        ("-5", -5),
        ("−5", -5),
        ("▲5,000", -5000),
        ("△500円", -500),
        ("¥-500", -500),
        ("1,234,567", 1234567),
        ("120000.0", 120000),
        ("0", 0),
        (7, 7),
        (7.0, 7),
        (Decimal("7"), 7),
        (SAFE_INTEGER, SAFE_INTEGER),
    ],
)
def test_integer_reads_amounts(raw: Any, expected: int) -> None:
    value = clean("integer", raw)
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1.5", "整数で入力してください（小数は使えません）"),
        (1.5, "整数で入力してください"),
        ("1,20,000", "桁区切りのカンマの位置が正しくありません"),
        ("120,00", "桁区切りのカンマの位置が正しくありません"),
        (",120", "数値として読み取れません"),
        ("十二", "数値として読み取れません"),
        ("12万", "数値として読み取れません"),
        ("1e3", "数値として読み取れません"),
        ("abc", "数値として読み取れません"),
        ("¥", "数値として読み取れません"),
        ("--5", "符号が二重"),
        ("-▲5", "符号が二重"),
        (True, "真偽値は使えません"),
        (float("nan"), "無限大や非数"),
        (float("inf"), "無限大や非数"),
        ([1], "数値で入力してください"),
        (SAFE_INTEGER + 1, "値が大きすぎます"),
        ("9" * 41, "桁数が多すぎます"),
    ],
)
def test_integer_refuses(raw: Any, message: str) -> None:
    assert message in str(error("integer", raw))


@pytest.mark.parametrize(
    ("raw", "message"),
    [(-1, "0以上で入力してください"), (1_000_001, "1,000,000以下で入力してください")],
)
def test_integer_bounds(raw: int, message: str) -> None:
    options = {"min": 0, "max": 1_000_000}
    assert message in str(error("integer", raw, options))
    assert clean("integer", 0, options) == 0
    assert clean("integer", "1,000,000", options) == 1_000_000


@pytest.mark.parametrize(
    "options", [{"min": "0"}, {"max": 1.5}, {"min": True}, {"min": 5, "max": 1}, {"max": 2**60}]
)
def test_integer_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(FieldOptionsError):
        IntegerFieldType().validate_options(options)


def test_integer_display_groups_thousands_and_export_does_not() -> None:
    assert fmt("integer", "display", 1234567) == "1,234,567"
    assert fmt("integer", "format_export", 1234567) == "1234567"
    assert fmt("integer", "search_keys", -5) == ["-5"]
