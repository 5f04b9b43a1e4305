"""選択肢: one value out of a fixed list (区分: 新規/更新/変更)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldOptionsError, FieldValueError
from ledgers.fields.normalize import check_storable_text, search_normalize
from ledgers.fields.registry import FieldType


def validate_choices(options: Mapping[str, Any]) -> list[dict[str, str]]:
    """``choices`` as [{"value", "label"}], values and labels unique; label defaults to value."""
    raw = options.get("choices")
    if not isinstance(raw, list) or not raw:
        raise FieldOptionsError("選択肢（choices）を1つ以上指定してください", key="choices")
    choices: list[dict[str, str]] = []
    for index, item in enumerate(raw, start=1):
        if isinstance(item, str):
            item = {"value": item}
        if not isinstance(item, Mapping) or set(item) - {"value", "label"}:
            raise FieldOptionsError(
                f"{index}番目の選択肢は value と label で指定してください", key="choices"
            )
        value, label = item.get("value"), item.get("label", item.get("value"))
        if not isinstance(value, str) or not value.strip():
            raise FieldOptionsError(f"{index}番目の選択肢の値が空です", key="choices")
        if not isinstance(label, str) or not label.strip():
            raise FieldOptionsError(f"{index}番目の選択肢の表示名が空です", key="choices")
        choices.append({"value": value.strip(), "label": label.strip()})
    for key, name in (("value", "値"), ("label", "表示名")):
        seen: set[str] = set()
        for choice in choices:
            if choice[key] in seen:
                raise FieldOptionsError(
                    f"選択肢の{name}「{choice[key]}」が重複しています", key="choices"
                )
            seen.add(choice[key])
    return choices


def match_choice(text: str, choices: list[dict[str, str]]) -> str | None:
    """The value of the choice whose value or label is ``text`` (exactly, then after
    width and space normalisation), or None."""
    for key in ("value", "label"):
        for choice in choices:
            if choice[key] == text:
                return choice["value"]
    wanted = search_normalize(text)
    for key in ("value", "label"):
        for choice in choices:
            if search_normalize(choice[key]) == wanted:
                return choice["value"]
    return None


def allowed_labels(choices: list[dict[str, str]]) -> str:
    return "、".join(choice["label"] for choice in choices)


def label_of(value: str, choices: list[dict[str, str]]) -> str:
    return next((choice["label"] for choice in choices if choice["value"] == value), value)


class ChoiceFieldType(FieldType):
    """One of ``choices``; input may be a value or a label, the value is stored."""

    pure = True
    type = "choice"
    label = "選択肢"
    option_keys: ClassVar[frozenset[str]] = frozenset({"choices"})

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = super().validate_options(options)
        return {"choices": validate_choices(options)}

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> str:
        choices = options["choices"]
        if isinstance(value, str):
            matched = match_choice(value.strip(), choices)
            if matched is not None:
                return matched
            # Refused either way (no choice holds such a character); this says why, where
            # 「新規」 would be quoted as no choice while one of them is on the list.
            check_storable_text(value, allow_newlines=True)
        raise FieldValueError(
            f"「{value}」は選択肢にありません（選択肢: {allowed_labels(choices)}）",
            code="invalid_choice",
        )

    def format_export(self, value: Any, options: Mapping[str, Any]) -> str:
        return "" if value is None else label_of(value, options["choices"])

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        if value is None:
            return []
        return list(
            dict.fromkeys(
                [search_normalize(value), search_normalize(label_of(value, options["choices"]))]
            )
        )
