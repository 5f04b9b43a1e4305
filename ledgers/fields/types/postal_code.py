"""郵便番号: stored as "123-4567" from "1234567", "〒123-4567", "１２３－４５６７"."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import nfkc, remove_whitespace, unify_hyphens
from ledgers.fields.registry import FieldType

# ASCII digits only (after NFKC, full-width ones are): \d would also take Arabic-Indic
# and other digits, which NFKC keeps, and store them.
_POSTAL_RE = re.compile(r"([0-9]{3})-?([0-9]{4})")


def clean_postal_code(value: Any) -> str:
    """The canonical "123-4567" form, or FieldValueError."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9_999_999:
        # Excel turns 060-0001 into the number 600001: the leading zeros are restored.
        return clean_postal_code(f"{value:07d}")
    if not isinstance(value, str):
        raise FieldValueError("郵便番号は文字列で入力してください", code="invalid_type")
    prepared = remove_whitespace(unify_hyphens(nfkc(value))).removeprefix("〒")
    match = _POSTAL_RE.fullmatch(prepared)
    if match is None:
        raise FieldValueError(
            f"郵便番号は7桁の数字で入力してください（例: 123-4567）: 「{value.strip()}」",
            code="invalid_postal_code",
        )
    return f"{match.group(1)}-{match.group(2)}"


class PostalCodeFieldType(FieldType):
    """A Japanese postal code; search keys hold it with and without the hyphen."""

    pure = True
    type = "postal_code"
    label = "郵便番号"

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> str:
        return clean_postal_code(value)

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        return "" if value is None else f"〒{value}"

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        return [] if value is None else [value, value.replace("-", "")]
