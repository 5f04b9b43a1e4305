"""個人番号 (My Number): 12 digits whose last is a check digit; always masked by default."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import HYPHENS, nfkc
from ledgers.fields.registry import FieldType

MASK = "＊" * 12
_SEPARATORS_RE = re.compile(rf"[\s{re.escape(HYPHENS)}]+")


def check_digit(first_eleven: str) -> int:
    """The 個人番号 check digit (総務省令: 個人番号の検査用数字).

    With Pn the n-th of the eleven digits counted from the right and Qn = n + 1 for
    n ≤ 6, n − 5 for n ≥ 7: remainder = Σ Pn × Qn mod 11; the check digit is 0 when
    the remainder is 0 or 1, otherwise 11 − remainder.
    """
    if len(first_eleven) != 11 or not first_eleven.isascii() or not first_eleven.isdigit():
        raise ValueError("check_digit needs exactly 11 ASCII digits")
    total = 0
    for n, digit in enumerate(reversed(first_eleven), start=1):
        weight = n + 1 if n <= 6 else n - 5
        total += int(digit) * weight
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def clean_my_number(value: Any) -> str:
    """Twelve ASCII digits with a correct check digit, or FieldValueError."""
    if not isinstance(value, str):
        raise FieldValueError(
            "個人番号は文字列で入力してください（先頭の0が消えないように）", code="invalid_type"
        )
    digits = _SEPARATORS_RE.sub("", nfkc(value))
    if not (digits.isascii() and digits.isdigit()):
        raise FieldValueError("個人番号に数字以外の文字が含まれています", code="invalid_my_number")
    if len(digits) != 12:
        raise FieldValueError(
            f"個人番号は12桁の数字で入力してください（現在{len(digits)}桁）",
            code="invalid_my_number_length",
        )
    if check_digit(digits[:11]) != int(digits[11]):
        raise FieldValueError(
            "個人番号の検査用数字（最後の1桁）が合いません。入力を確認してください",
            code="invalid_check_digit",
        )
    return digits


class MyNumberFieldType(FieldType):
    """A 個人番号. Messages never repeat the number (it must not reach logs), masking
    hides all twelve digits, and it has no search keys: the contains-search index must
    not hold fragments of it (an exact-match lookup, if ever needed, belongs to search)."""

    type = "my_number"
    label = "個人番号"

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> str:
        return clean_my_number(value)

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        """Grouped 4-4-4 as printed on the card."""
        return "" if value is None else f"{value[:4]} {value[4:8]} {value[8:]}"

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        return []

    def mask(self, value: Any) -> Any:
        return MASK
