"""小数: exact decimal strings, optional fixed scale, bounds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledgers.fields.exceptions import FieldOptionsError
from ledgers.fields.types.decimal import DecimalFieldType
from tests.ledgers.fields.helpers import clean, error, fmt


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.5", "1234.5"),
        ("1,234.50", "1234.5"),
        ("¥1,234.50", "1234.5"),
        ("１，２３４．５０円", "1234.5"),
        ("0.1", "0.1"),
        (".5", "0.5"),
        ("-0.0", "0"),
        ("▲0.25", "-0.25"),
        ("100", "100"),
        ("1E+2", None),
        (0.1, "0.1"),
        (1e-7, "0.0000001"),
        (Decimal("1E+2"), "100"),
        (3, "3"),
        # More digits than a float holds: nothing is lost.
        ("12345678901234567890.123456789", "12345678901234567890.123456789"),
    ],
)
def test_decimal_is_exact(raw: Any, expected: str | None) -> None:
    if expected is None:
        assert "数値として読み取れません" in str(error("decimal", raw))
        return
    assert clean("decimal", raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1234.5", "1234.50"), ("1234", "1234.00"), ("1234.500", "1234.50"), ("0", "0.00")],
)
def test_decimal_places_fix_the_scale(raw: str, expected: str) -> None:
    assert clean("decimal", raw, {"decimal_places": 2}) == expected


def test_decimal_places_refuse_more_digits() -> None:
    assert "小数点以下は2桁まで" in str(error("decimal", "1.234", {"decimal_places": 2}))
    assert "小数点以下は0桁まで" in str(error("decimal", "1.5", {"decimal_places": 0}))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("abc", "数値として読み取れません"),
        ("1.2.3", "数値として読み取れません"),
        (True, "真偽値"),
        (float("nan"), "無限大や非数"),
        (Decimal("Infinity"), "無限大や非数"),
        ("1" * 41, "桁数が多すぎます"),
    ],
)
def test_decimal_refuses(raw: Any, message: str) -> None:
    assert message in str(error("decimal", raw))


def test_decimal_bounds() -> None:
    options = {"min": "0", "max": "99.5"}
    assert clean("decimal", "99.5", options) == "99.5"
    assert "99.5以下" in str(error("decimal", "99.51", options))
    assert "0以上" in str(error("decimal", "-0.01", options))


def test_decimal_options_are_normalised_and_checked() -> None:
    field_type = DecimalFieldType()
    assert field_type.validate_options({"min": "１,０００", "max": 2000.5}) == {
        "decimal_places": None,
        "min": "1000",
        "max": "2000.5",
    }
    for bad in (
        {"min": "abc"},
        {"min": 5, "max": 1},
        {"decimal_places": -1},
        {"decimal_places": 21},
    ):
        with pytest.raises(FieldOptionsError):
            field_type.validate_options(bad)


def test_decimal_display_groups_thousands() -> None:
    assert fmt("decimal", "display", "1234567.50") == "1,234,567.50"
    assert fmt("decimal", "display", "0.0000001") == "0.0000001"
    assert fmt("decimal", "format_export", "1234567.50") == "1234567.50"
