"""小数: amounts and measures, stored as a decimal string so no precision is lost."""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldOptionsError, FieldValueError
from ledgers.fields.numbers import MAX_DIGITS, parse_number
from ledgers.fields.options import check_range, int_option
from ledgers.fields.registry import FieldType

# Enough precision that normalising and quantising never round a value we accept.
_CONTEXT = decimal.Context(prec=MAX_DIGITS * 2 + 20)


def canonical_decimal(number: Decimal, places: int | None) -> str:
    """Plain notation without exponent; trailing zeros dropped unless ``places`` is set."""
    with decimal.localcontext(_CONTEXT):
        if number == 0:
            number = Decimal(0)
        if places is None:
            return format(number.normalize(), "f")
        try:
            return format(number.quantize(Decimal(1).scaleb(-places)), "f")
        except decimal.InvalidOperation:  # more digits than the context holds
            raise FieldValueError(
                "桁数が多すぎます（小数点以下を含めて大きすぎる値です）", code="too_many_digits"
            ) from None


class DecimalFieldType(FieldType):
    """A decimal number kept as a string ("1234.5"); ``decimal_places`` fixes the scale
    ("1234.50") and refuses more digits after the point; ``min``/``max`` bound it."""

    pure = True
    type = "decimal"
    label = "小数"
    option_keys: ClassVar[frozenset[str]] = frozenset({"decimal_places", "min", "max"})

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = super().validate_options(options)
        places = int_option(options, "decimal_places", minimum=0, maximum=20)
        bounds: dict[str, str | None] = {}
        for key in ("min", "max"):
            raw = options.get(key)
            try:
                bounds[key] = None if raw is None else canonical_decimal(parse_number(raw), None)
            except FieldValueError:
                raise FieldOptionsError(
                    f"オプション「{key}」は数値で指定してください", key=key
                ) from None
        low = None if bounds["min"] is None else Decimal(bounds["min"])
        high = None if bounds["max"] is None else Decimal(bounds["max"])
        check_range(options, low, high)
        return {"decimal_places": places, "min": bounds["min"], "max": bounds["max"]}

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> str:
        number = parse_number(value)
        places = options.get("decimal_places")
        if places is not None:
            with decimal.localcontext(_CONTEXT):
                exponent = number.normalize().as_tuple().exponent
            if isinstance(exponent, int) and -exponent > places:
                raise FieldValueError(
                    f"小数点以下は{places}桁までで入力してください", code="too_many_places"
                )
        low, high = options.get("min"), options.get("max")
        if low is not None and number < Decimal(low):
            raise FieldValueError(f"{low}以上で入力してください", code="below_min", min=low)
        if high is not None and number > Decimal(high):
            raise FieldValueError(f"{high}以下で入力してください", code="above_max", max=high)
        return canonical_decimal(number, places)

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        return "" if value is None else format(Decimal(value), ",f")
