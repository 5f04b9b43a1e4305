"""Reading numbers the way they appear in ledgers: "120,000", "¥120,000", "▲5,000円".

Amounts arrive with full-width digits, thousands separators, a yen sign (or the
backslash that Shift_JIS shows as ¥), a 円 suffix, and ▲/△ for negatives as in Japanese
accounts. Floats are never used so that no precision is lost.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import nfkc, unify_hyphens

MAX_DIGITS = 40
#: The longest number text read, in characters: 40 digits with their commas, a sign, a
#: yen sign, a 円 and the spaces between them fit many times over.
MAX_NUMBER_TEXT = 100
# Possessive (``\s*+``): no token the spaces separate starts with a space, so a run of
# spaces is never split between two of them. Backtracking into each split cost O(n⁴): a
# sign, 300 spaces and a letter took 4 s of CPU, in a query-string filter too.
_NUMBER_RE = re.compile(
    r"(?P<sign1>[-+▲△])?\s*+(?P<currency>[¥\\])?\s*+(?P<sign2>[-+▲△])?\s*+"
    r"(?P<integer>\d[\d,]*+)?(?:\.(?P<fraction>\d++))?\s*+円?"
)
_GROUPED_RE = re.compile(r"\d{1,3}(?:,\d{3})+")


def parse_number(value: Any) -> Decimal:
    """A finite Decimal from a number or ledger-style text (raises FieldValueError)."""
    if isinstance(value, bool):
        raise FieldValueError("数値で入力してください（真偽値は使えません）", code="invalid_type")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        number = _parse_text(value)
    else:
        raise FieldValueError("数値で入力してください", code="invalid_type")
    if not number.is_finite():
        raise FieldValueError(
            "数値で入力してください（無限大や非数は使えません）", code="invalid_number"
        )
    # Counted as stored (plain notation): a JSON 1e300 is one significant digit but 301
    # digits written out, which no later read of the stored text would accept.
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    written = max(number.adjusted() + 1, 1) + max(-exponent, 0)
    if len(number.as_tuple().digits) > MAX_DIGITS or written > MAX_DIGITS:
        raise FieldValueError(f"桁数が多すぎます（{MAX_DIGITS}桁まで）", code="too_many_digits")
    return number


def _parse_text(text: str) -> Decimal:
    prepared = unify_hyphens(nfkc(text)).strip()
    if len(prepared) > MAX_NUMBER_TEXT:
        raise FieldValueError(
            f"数値の文字列が長すぎます（{MAX_NUMBER_TEXT}文字まで）", code="too_long"
        )
    match = _NUMBER_RE.fullmatch(prepared)
    if match is None or (match.group("integer") is None and match.group("fraction") is None):
        raise FieldValueError(
            f"数値として読み取れません: 「{text.strip()}」", code="invalid_number"
        )
    if match.group("sign1") and match.group("sign2"):
        raise FieldValueError(
            f"符号が二重になっています: 「{text.strip()}」", code="invalid_number"
        )
    integer = match.group("integer") or "0"
    if "," in integer:
        if not _GROUPED_RE.fullmatch(integer):
            raise FieldValueError(
                f"桁区切りのカンマの位置が正しくありません: 「{text.strip()}」",
                code="invalid_number",
            )
        integer = integer.replace(",", "")
    fraction = match.group("fraction")
    sign = "-" if (match.group("sign1") or match.group("sign2")) in {"-", "▲", "△"} else ""
    literal = f"{sign}{integer}.{fraction}" if fraction else f"{sign}{integer}"
    try:
        return Decimal(literal)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise FieldValueError(
            f"数値として読み取れません: 「{text.strip()}」", code="invalid_number"
        ) from None


_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}


def kanji_number(numeral: str) -> int:
    """三 → 3, 十二 → 12, 二十三 → 23, 百五 → 105, 二〇三 → 203 (digit by digit when
    written without 十・百・千). ``numeral`` holds kanji digits and units only."""
    if not any(unit in numeral for unit in _KANJI_UNITS):
        return int("".join(str(_KANJI_DIGITS[char]) for char in numeral))
    total = digit = 0
    for char in numeral:
        if char in _KANJI_DIGITS:
            digit = digit * 10 + _KANJI_DIGITS[char]
        else:
            total += (digit or 1) * _KANJI_UNITS[char]
            digit = 0
    return total + digit
