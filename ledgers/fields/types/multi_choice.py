"""複数選択: several values out of a fixed list (支援の種類: 住民票、戸籍附票 …)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldOptionsError, FieldValueError
from ledgers.fields.normalize import check_storable_text, search_normalize
from ledgers.fields.registry import FieldType
from ledgers.fields.types.choice import allowed_labels, label_of, match_choice, validate_choices

# Separators staff put between several choices in one cell (、 , ， ; ； and new lines).
_SEPARATOR_RE = re.compile(r"(?<!\s)\s*[、,，;；\n]\s*")
EXPORT_SEPARATOR = "、"


class MultiChoiceFieldType(FieldType):
    """A list of ``choices`` values, stored in the order the choices are defined and
    without duplicates, so the same selection always stores the same list."""

    type = "multi_choice"
    label = "複数選択"
    option_keys: ClassVar[frozenset[str]] = frozenset({"choices"})

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """As for 選択肢, and no separator inside a value or label: one cell of text must
        split back into the same choices."""
        options = super().validate_options(options)
        choices = validate_choices(options)
        for choice in choices:
            for text in (choice["value"], choice["label"]):
                if _SEPARATOR_RE.search(text):
                    raise FieldOptionsError(
                        f"複数選択の選択肢に区切り文字（、,;）は使えません: 「{text}」",
                        key="choices",
                    )
        return {"choices": choices}

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> list[str] | None:
        choices = options["choices"]
        if isinstance(value, str):
            items: list[Any] = _SEPARATOR_RE.split(value.strip())
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise FieldValueError("選択肢のリストで入力してください", code="invalid_type")
        chosen: set[str] = set()
        unknown: list[str] = []
        for item in items:
            if item is None or (isinstance(item, str) and not item.strip()):
                continue
            matched = match_choice(item.strip(), choices) if isinstance(item, str) else None
            if matched is None:
                if isinstance(item, str):
                    check_storable_text(
                        item, allow_newlines=True
                    )  # why it matched no choice, as 選択肢 says
                unknown.append(str(item))
            else:
                chosen.add(matched)
        if unknown:
            raise FieldValueError(
                f"選択肢にない値があります: {'、'.join(f'「{item}」' for item in unknown)}"
                f"（選択肢: {allowed_labels(choices)}）",
                code="invalid_choice",
            )
        ordered = [choice["value"] for choice in choices if choice["value"] in chosen]
        return ordered or None

    def format_export(self, value: Any, options: Mapping[str, Any]) -> str:
        if not value:
            return ""
        return EXPORT_SEPARATOR.join(label_of(item, options["choices"]) for item in value)

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        keys: list[str] = []
        for item in value or []:
            keys += [search_normalize(item), search_normalize(label_of(item, options["choices"]))]
        return list(dict.fromkeys(keys))
