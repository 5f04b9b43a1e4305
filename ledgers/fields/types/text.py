"""テキスト: one line of free text, stored as written (only trimmed)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import check_storable_text
from ledgers.fields.options import int_option
from ledgers.fields.registry import FieldType


class TextFieldType(FieldType):
    """Single-line text. Kept exactly as typed (variant kanji, widths) apart from trimming;
    search keys carry the normalised form."""

    pure = True
    type = "text"
    label = "テキスト"
    option_keys: ClassVar[frozenset[str]] = frozenset({"max_length"})
    default_max_length: ClassVar[int] = 255
    limit: ClassVar[int] = 1000
    multiline: ClassVar[bool] = False

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = super().validate_options(options)
        max_length = int_option(
            options, "max_length", default=self.default_max_length, minimum=1, maximum=self.limit
        )
        return {"max_length": max_length}

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise FieldValueError("文字列で入力してください", code="invalid_type")
        text = self.normalise(str(value))
        check_storable_text(text, allow_newlines=self.multiline)
        max_length = options.get("max_length") or self.default_max_length
        if len(text) > max_length:
            raise FieldValueError(
                f"{max_length}文字以内で入力してください（現在{len(text)}文字）",
                code="too_long",
                max_length=max_length,
            )
        return text

    def normalise(self, text: str) -> str:
        """Trim surrounding whitespace; line breaks are checked, not removed."""
        return text.strip()
