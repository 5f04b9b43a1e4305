"""電話番号: "03-1234-5678" from "０３－１２３４－５６７８", "(03)1234-5678", "+81 90 …"."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import nfkc, unify_hyphens
from ledgers.fields.registry import FieldType

_SEPARATORS_RE = re.compile(r"[\s()-]+")
_INTERNATIONAL_PREFIX_RE = re.compile(r"^\+\s*81[\s()-]*(?:\(?0\)?)?[\s-]*")


def clean_phone(value: Any) -> str:
    """Digits with the hyphens staff wrote (other separators become hyphens), or
    FieldValueError. A number is 10 or 11 digits starting with 0, as dialled in Japan."""
    if not isinstance(value, str):
        raise FieldValueError(
            "電話番号は文字列で入力してください（先頭の0が消えないように）", code="invalid_type"
        )
    prepared = unify_hyphens(nfkc(value)).strip()
    prepared = _INTERNATIONAL_PREFIX_RE.sub("0", prepared)
    if bad := [
        char
        for char in prepared
        if not (char.isascii() and char.isdigit()) and char not in " ()-\t\u3000"
    ]:
        raise FieldValueError(
            f"電話番号に使えない文字が含まれています: 「{''.join(dict.fromkeys(bad))}」",
            code="invalid_phone",
        )
    formatted = _SEPARATORS_RE.sub("-", prepared).strip("-")
    digits = formatted.replace("-", "")
    if len(digits) not in (10, 11):
        raise FieldValueError(
            f"電話番号は市外局番から10桁または11桁で入力してください（現在{len(digits)}桁）",
            code="invalid_phone_length",
        )
    if not digits.startswith("0"):
        raise FieldValueError("電話番号は0から始まる番号で入力してください", code="invalid_phone")
    return formatted


class PhoneFieldType(FieldType):
    """A Japanese phone number. Hyphens are kept where they were typed (the area code
    split is not derivable from digits alone); search keys hold the digits only."""

    pure = True
    type = "phone"
    label = "電話番号"

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> str:
        return clean_phone(value)

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        return [] if value is None else [value.replace("-", "")]
