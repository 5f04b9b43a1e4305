"""個人番号: 12 digits, official check digit, masked, never indexed or echoed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgers.fields import field_type_registry
from ledgers.fields.types.my_number import check_digit
from tests.ledgers.fields.helpers import HYPOTHESIS, clean, error, fmt

VALID = "123456789018"


@pytest.mark.parametrize(
    ("first_eleven", "expected"),
    [
        # Σ = 212, 212 mod 11 = 3 → 11 − 3 = 8.
        ("12345678901", 8),
        # Remainders 0 and 1 both give 0.
        ("00000000000", 0),
        ("00000000300", 0),  # 3 × 4 = 12 → remainder 1 → 0
        ("00000000005", 1),  # 5 × 2 = 10 → remainder 10 → 1
        ("00000000010", 8),  # 1 × 3 = 3 → 8
        ("10000000000", 5),  # P11 weight 6 → 6 → 5
        ("00000100000", 4),  # P6 weight 7 → 7 → 4
        ("00001000000", 9),  # P7 weight 2 → 2 → 9
        ("00000000006", 0),  # 6 × 2 = 12 → remainder 1 → 0
    ],
)
def test_check_digit(first_eleven: str, expected: int) -> None:
    assert check_digit(first_eleven) == expected


@pytest.mark.parametrize(
    "bad", ["1234567890", "123456789012", "１２３４５６７８９０１", "abcdefghijk"]
)
def test_check_digit_needs_eleven_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="11 ASCII digits"):
        check_digit(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (VALID, VALID),
        ("1234 5678 9018", VALID),
        ("1234-5678-9018", VALID),
        ("１２３４５６７８９０１８", VALID),
        ("１２３４　５６７８　９０１８", VALID),
        ("1234－5678－9018", VALID),
        ("1234ー5678ー9018", VALID),
        (" 123456789018 ", VALID),
        ("000000000000", "000000000000"),
    ],
)
def test_my_number_accepts(raw: str, expected: str) -> None:
    assert clean("my_number", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("123456789012", "検査用数字（最後の1桁）が合いません"),
        ("123456789019", "検査用数字"),
        ("12345678901", "12桁の数字で入力してください（現在11桁）"),
        ("1234567890188", "現在13桁"),
        ("1234567890AB", "数字以外の文字"),
        ("１２３４５６７８９０１Ｘ", "数字以外の文字"),
        (123456789018, "文字列で入力してください"),
    ],
)
def test_my_number_refuses(raw: Any, message: str) -> None:
    text = str(error("my_number", raw))
    assert message in text
    # The number itself must never reach a message (messages end up in logs).
    assert "12345678" not in text


def test_masked_grouped_and_not_searchable() -> None:
    field_type = field_type_registry.get("my_number")
    assert field_type.mask(VALID) == "＊＊＊＊＊＊＊＊＊＊＊＊"
    assert len(field_type.mask(VALID)) == 12
    assert fmt("my_number", "display", VALID) == "1234 5678 9018"
    assert fmt("my_number", "format_export", VALID) == VALID
    assert fmt("my_number", "search_keys", VALID) == []


@settings(HYPOTHESIS, max_examples=300)
@given(
    st.text(st.sampled_from("0123456789"), min_size=11, max_size=11),
    st.sampled_from(["", " ", "-", "　", "－", "ー"]),
    st.booleans(),
)
def test_any_number_with_its_check_digit_cleans_idempotently(
    digits: str, separator: str, full_width: bool
) -> None:
    number = digits + str(check_digit(digits))
    written = separator.join([number[:4], number[4:8], number[8:]])
    if full_width:
        written = written.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    once = clean("my_number", written)
    assert once == number
    assert clean("my_number", once) == once


@settings(HYPOTHESIS, max_examples=200)
@given(st.text(st.sampled_from("0123456789"), min_size=11, max_size=11), st.integers(1, 9))
def test_a_wrong_check_digit_is_always_refused(digits: str, offset: int) -> None:
    wrong = (check_digit(digits) + offset) % 10
    assert "検査用数字" in str(error("my_number", digits + str(wrong)))
