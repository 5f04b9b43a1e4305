"""繰り返し項目: a small table inside a record (住所履歴, 関係者 …)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldOptionsError, FieldValueError, UnknownFieldType
from ledgers.fields.normalize import is_blank
from ledgers.fields.options import int_option
from ledgers.fields.registry import FieldType, FieldTypeRegistry, field_type_registry

_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
SUB_FIELD_KEYS = frozenset(
    {"key", "label", "type", "options", "required", "help_text", "sensitivity"}
)
# Each sub-field is masked by its own sensitivity (the access policy reads it).
SENSITIVITIES = ("public", "internal", "personal", "special_care")
ROW_SEPARATOR = "／"


class RepeatingGroupFieldType(FieldType):
    """A list of rows, each a dict cleaned by its sub-fields' own types.

    Options: ``fields`` = [{"key", "label", "type", "options", "required"?}], sub-field
    types taken
    from the same registry (groups do not nest), and ``max_rows``. Rows whose every
    value is blank are dropped; errors name the row and the sub-field
    ("2行目の「生年月日」: …").
    """

    type = "repeating_group"
    label = "繰り返し項目"
    aliases: ClassVar[tuple[str, ...]] = ("group",)
    option_keys: ClassVar[frozenset[str]] = frozenset({"fields", "max_rows"})

    def __init__(self, registry: FieldTypeRegistry | None = None) -> None:
        self._registry = registry

    @property
    def registry(self) -> FieldTypeRegistry:
        """Where sub-field types are looked up: the global registry unless one was given."""
        return field_type_registry if self._registry is None else self._registry

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = super().validate_options(options)
        fields = options.get("fields")
        if not isinstance(fields, list) or not fields:
            raise FieldOptionsError(
                "繰り返し項目の列（fields）を1つ以上指定してください", key="fields"
            )
        cleaned: list[dict[str, Any]] = []
        for index, field in enumerate(fields, start=1):
            cleaned.append(self._validate_sub_field(index, field, cleaned))
        max_rows = int_option(options, "max_rows", minimum=1, maximum=1000)
        return {"fields": cleaned, "max_rows": max_rows}

    def _validate_sub_field(
        self, index: int, field: Any, previous: list[dict[str, Any]]
    ) -> dict[str, Any]:
        where = f"{index}番目の列"
        if not isinstance(field, Mapping) or set(field) - SUB_FIELD_KEYS:
            raise FieldOptionsError(
                f"{where}は key・label・type・options（required・help_text・sensitivity）で指定してください",
                key="fields",
            )
        key, label, type_id = field.get("key"), field.get("label"), field.get("type")
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
            raise FieldOptionsError(
                f"{where}のキーは半角英小文字で始まる英数字と _ で指定してください", key="fields"
            )
        if any(item["key"] == key for item in previous):
            raise FieldOptionsError(f"列のキー「{key}」が重複しています", key="fields")
        if not isinstance(label, str) or not label.strip():
            raise FieldOptionsError(f"{where}の表示名がありません", key="fields")
        if type_id == self.type or type_id in self.aliases:
            raise FieldOptionsError(
                f"「{label}」: 繰り返し項目の中に繰り返し項目は置けません", key="fields"
            )
        try:
            sub_type = self.registry.get(type_id)
        except UnknownFieldType:
            raise FieldOptionsError(
                f"「{label}」: 不明なフィールド型です: 「{type_id}」", key="fields"
            ) from None
        try:
            sub_options = sub_type.validate_options(field.get("options"))
        except FieldOptionsError as error:
            raise FieldOptionsError(f"「{label}」: {error.message}", key="fields") from None
        required = field.get("required", False)
        help_text = field.get("help_text", "")
        if not isinstance(required, bool):
            raise FieldOptionsError(
                f"「{label}」: required は true か false で指定してください", key="fields"
            )
        if not isinstance(help_text, str):
            raise FieldOptionsError(
                f"「{label}」: help_text は文字列で指定してください", key="fields"
            )
        sub_field: dict[str, Any] = {
            "key": key,
            "label": label.strip(),
            "type": sub_type.type,
            "options": sub_options,
        }
        if required:
            sub_field["required"] = True
        if help_text.strip():
            sub_field["help_text"] = help_text.strip()
        sensitivity = field.get("sensitivity", "internal")
        if sensitivity not in SENSITIVITIES:
            raise FieldOptionsError(
                f"「{label}」: 機密区分は {', '.join(SENSITIVITIES)} のいずれかにしてください",
                key="fields",
            )
        sub_field["sensitivity"] = sensitivity
        return sub_field

    def _sub_fields(self, options: Mapping[str, Any]) -> list[tuple[dict[str, Any], FieldType]]:
        return [(field, self.registry.get(field["type"])) for field in options["fields"]]

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        if not isinstance(value, list | tuple):
            raise FieldValueError("繰り返し項目は行のリストで入力してください", code="invalid_type")
        sub_fields = self._sub_fields(options)
        keys = {field["key"] for field, _ in sub_fields}
        rows: list[dict[str, Any]] = []
        for number, row in enumerate(value, start=1):
            if row is None:
                continue
            if not isinstance(row, Mapping):
                raise FieldValueError(
                    f"{number}行目: 行は項目と値の組で入力してください",
                    code="invalid_row",
                    row=number,
                )
            if unknown := sorted(str(key) for key in row if key not in keys):
                raise FieldValueError(
                    f"{number}行目: 不明な項目があります: {'、'.join(unknown)}",
                    code="unknown_keys",
                    row=number,
                )
            if all(is_blank(row.get(key)) for key in keys):
                continue
            cleaned: dict[str, Any] = {}
            for field, sub_type in sub_fields:
                try:
                    cleaned[field["key"]] = sub_type.clean(row.get(field["key"]), field["options"])
                    if cleaned[field["key"]] is None and field.get("required"):
                        raise FieldValueError("入力してください", code="required")
                except FieldValueError as error:
                    raise FieldValueError(
                        f"{number}行目の「{field['label']}」: {error.message}",
                        code=error.code,
                        row=number,
                        field=field["key"],
                    ) from error
            rows.append(cleaned)
        max_rows = options.get("max_rows")
        if max_rows is not None and len(rows) > max_rows:
            raise FieldValueError(
                f"{max_rows}行までしか入力できません（現在{len(rows)}行）", code="too_many_rows"
            )
        return rows or None

    def parse_import(self, text: str, options: Mapping[str, Any]) -> Any:
        """A cell holds the rows as JSON (what ``format_export`` writes)."""
        if not isinstance(text, str):
            raise FieldValueError("取り込みの値は文字列で渡してください", code="invalid_type")
        if not text.strip():
            return None
        try:
            rows = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
            raise FieldValueError(
                "繰り返し項目の書式が正しくありません（JSON の配列が必要です）",
                code="invalid_format",
            ) from None
        return self.clean(rows, options)

    def format_export(self, value: Any, options: Mapping[str, Any]) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False)

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        if value is None:
            return ""
        lines = []
        for row in value:
            cells = [
                f"{field['label']}: {sub_type.display(row.get(field['key']), field['options'], era=era)}"
                for field, sub_type in self._sub_fields(options)
                if row.get(field["key"]) is not None
            ]
            lines.append("、".join(cells))
        return ROW_SEPARATOR.join(lines)

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        keys: list[str] = []
        for row in value or []:
            for field, sub_type in self._sub_fields(options):
                keys += sub_type.search_keys(row.get(field["key"]), field["options"])
        return list(dict.fromkeys(keys))

    def serialize_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        fields = [
            {**field, "options": sub_type.serialize_options(field["options"])}
            for field, sub_type in self._sub_fields(options)
        ]
        return {"fields": fields, "max_rows": options.get("max_rows")}
