"""電話番号: ASCII digits and hyphens, 10 or 11 digits from 0."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgers.fields.exceptions import FieldValueError
from tests.ledgers.fields.helpers import HYPOTHESIS, clean, error, fmt


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("03-1234-5678", "03-1234-5678"),
        ("0312345678", "0312345678"),
        ("090-1234-5678", "090-1234-5678"),
        ("09012345678", "09012345678"),
        ("０３－１２３４－５６７８", "03-1234-5678"),
        ("０３ー１２３４ー５６７８", "03-1234-5678"),
        ("03‐1234‐5678", "03-1234-5678"),
        ("03−1234−5678", "03-1234-5678"),
        ("03–1234–5678", "03-1234-5678"),
        ("03―1234―5678", "03-1234-5678"),
        ("0422ｰ45ｰ1151", "0422-45-1151"),
        ("(03)1234-5678", "03-1234-5678"),
        ("（０３）１２３４－５６７８", "03-1234-5678"),
        ("03(1234)5678", "03-1234-5678"),
        ("03 1234 5678", "03-1234-5678"),
        ("03\u30001234\u30005678", "03-1234-5678"),
        ("03--1234--5678", "03-1234-5678"),
        (" 0120-123-456 ", "0120-123-456"),
        ("+81 3-1234-5678", "03-1234-5678"),
        ("+81-90-1234-5678", "090-1234-5678"),
        ("+81 (0)3 1234 5678", "03-1234-5678"),
        ("＋８１９０１２３４５６７８", "09012345678"),
    ],
)
def test_phone_accepts(raw: str, expected: str) -> None:
    assert clean("phone", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("110", "10桁または11桁で入力してください（現在3桁）"),
        ("119", "現在3桁"),
        ("#7119", "使えない文字が含まれています: 「#」"),
        ("1234-5678", "現在8桁"),
        ("03-1234-567", "現在9桁"),
        ("090-1234-56789", "現在12桁"),
        ("3-1234-56789", "0から始まる番号"),
        ("03-1234-5678 内線12", "使えない文字が含まれています: 「内線」"),
        ("03-ABCD-5678", "使えない文字が含まれています: 「ABCD」"),
        ("tel:0312345678", "使えない文字"),
        ("+1 212 555 0100", "使えない文字が含まれています: 「+」"),
        ("03.1234.5678", "使えない文字が含まれています: 「.」"),
        (312345678, "文字列で入力してください"),
    ],
)
def test_phone_refuses(raw: Any, message: str) -> None:
    assert message in str(error("phone", raw))


def test_search_key_is_digits_only() -> None:
    assert fmt("phone", "search_keys", "03-1234-5678") == ["0312345678"]
    assert fmt("phone", "display", "03-1234-5678") == "03-1234-5678"


PHONE_CHARS = st.sampled_from("0123456789０１２３４５６７８９-－ー‐−–()（） 　+")
SEPARATOR = st.sampled_from(
    ["", "", "", "-", "－", "ー", "‐", "−", " ", "\u3000", "(", ")", "（", "）"]
)
DIGIT = st.sampled_from("0123456789０１２３４５６７８９")


@st.composite
def written_numbers(draw: st.DrawFn) -> str:
    """A valid number (0 + 9 or 10 digits) written with any separators and widths."""
    digits = ["0", *draw(st.lists(DIGIT, min_size=9, max_size=10))]
    return "".join(digit + draw(SEPARATOR) for digit in digits)


@settings(HYPOTHESIS, max_examples=500)
@given(written_numbers())
def test_cleaning_is_idempotent(text: str) -> None:
    once = clean("phone", text)
    assert clean("phone", once) == once
    assert set(once) <= set("0123456789-")
    assert not once.startswith("-")
    assert not once.endswith("-")
    assert "--" not in once


@settings(HYPOTHESIS, max_examples=300, suppress_health_check=list(HealthCheck))
@given(st.text(PHONE_CHARS, min_size=10, max_size=20))
def test_whatever_cleans_is_stable(text: str) -> None:
    try:
        once = clean("phone", text)
    except FieldValueError:
        return
    assert clean("phone", once) == once
