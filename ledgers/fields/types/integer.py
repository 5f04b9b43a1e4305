"""整数: counts and amounts in yen ("120,000", "¥120,000", "120000円", "▲500")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.numbers import parse_number
from ledgers.fields.options import check_range, int_option
from ledgers.fields.registry import FieldType

# Values stay exact in JavaScript clients (Number.MAX_SAFE_INTEGER).
SAFE_INTEGER = 2**53 - 1


class IntegerFieldType(FieldType):
    """A whole number, stored as a JSON integer, optionally bounded by ``min``/``max``."""

    pure = True
    type = "integer"
    label = "整数"
    option_keys: ClassVar[frozenset[str]] = frozenset({"min", "max"})

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = super().validate_options(options)
        low = int_option(options, "min", minimum=-SAFE_INTEGER, maximum=SAFE_INTEGER)
        high = int_option(options, "max", minimum=-SAFE_INTEGER, maximum=SAFE_INTEGER)
        check_range(options, low, high)
        return {"min": low, "max": high}

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> int:
        number = parse_number(value)
        if number != number.to_integral_value():
            raise FieldValueError("整数で入力してください（小数は使えません）", code="not_integer")
        result = int(number)
        if abs(result) > SAFE_INTEGER:
            raise FieldValueError("値が大きすぎます", code="out_of_range")
        low, high = options.get("min"), options.get("max")
        if low is not None and result < low:
            raise FieldValueError(f"{low:,}以上で入力してください", code="below_min", min=low)
        if high is not None and result > high:
            raise FieldValueError(f"{high:,}以下で入力してください", code="above_max", max=high)
        return result

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        return "" if value is None else f"{value:,}"
