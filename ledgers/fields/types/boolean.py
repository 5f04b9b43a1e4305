"""はい/いいえ: yes-no values as staff mark them (可/不可, ○/×, true/false, 1/0)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import nfkc, remove_whitespace
from ledgers.fields.options import str_option
from ledgers.fields.registry import FieldType

TRUE_WORDS = frozenset(
    {"true", "t", "yes", "y", "on", "1", "はい", "可", "○", "〇", "◯", "有", "有り", "あり"}
)
FALSE_WORDS = frozenset(
    {"false", "f", "no", "n", "off", "0", "いいえ", "不可", "×", "✕", "✖", "☓", "無", "無し", "なし"}
)  # fmt: skip
ACCEPTED_HINT = "はい・いいえ、可・不可、○・×、1・0 などで入力してください"


def parse_flag(value: Any, *, extra_true: str = "", extra_false: str = "") -> bool:
    """A bool from the marks used in ledgers; raises FieldValueError for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = remove_whitespace(nfkc(value)).lower()
        if word in TRUE_WORDS or (
            extra_true and word == remove_whitespace(nfkc(extra_true)).lower()
        ):
            return True
        if word in FALSE_WORDS or (
            extra_false and word == remove_whitespace(nfkc(extra_false)).lower()
        ):
            return False
    raise FieldValueError(
        f"「{value}」は はい/いいえ として読み取れません（{ACCEPTED_HINT}）", code="invalid_flag"
    )


class BooleanFieldType(FieldType):
    """A yes-no value stored as a JSON boolean; ``true_label``/``false_label`` name the
    two states on screen and in exports (for example 済/未)."""

    pure = True
    type = "boolean"
    label = "はい/いいえ"
    option_keys: ClassVar[frozenset[str]] = frozenset({"true_label", "false_label"})

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = super().validate_options(options)
        return {
            "true_label": str_option(options, "true_label", default="はい"),
            "false_label": str_option(options, "false_label", default="いいえ"),
        }

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> bool:
        return parse_flag(
            value,
            extra_true=options.get("true_label") or "",
            extra_false=options.get("false_label") or "",
        )

    def format_export(self, value: Any, options: Mapping[str, Any]) -> str:
        if value is None:
            return ""
        return (
            (options.get("true_label") or "はい")
            if value
            else (options.get("false_label") or "いいえ")
        )
