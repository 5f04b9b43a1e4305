"""他の台帳の記録への参照: {"ledger": code, "record": id}."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import check_storable_text
from ledgers.fields.options import str_option
from ledgers.fields.registry import FieldType

_CODE_RE = re.compile(r"[^\s:\x00-\x1f\x7f]{1,100}")
_TEXT_RE = re.compile(
    r"(?:(?P<ledger>[^\s:\x00-\x1f\x7f]+)\s*:\s*)?(?P<record>[^\s:\x00-\x1f\x7f]+)"
)


class ReferenceFieldType(FieldType):
    """A pointer to a record of another (or the same) ledger, both ids as strings.

    Option ``ledger`` restricts the target ledger and lets input name only the record.
    Whether the record exists (not deleted, in the writer's sight) is checked by the record
    services when the value is written (``ledgers.records.references``), not here: field
    types do not touch the database.
    """

    type = "reference"
    label = "他台帳の参照"
    option_keys: ClassVar[frozenset[str]] = frozenset({"ledger"})

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = super().validate_options(options)
        return {"ledger": str_option(options, "ledger")}

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> dict[str, str]:
        target = options.get("ledger")
        if isinstance(value, str):
            match = _TEXT_RE.fullmatch(value.strip())
            if match is None:
                raise FieldValueError(
                    f"参照先として読み取れません: 「{value.strip()}」（例: 台帳コード:記録番号）",
                    code="invalid_reference",
                )
            value = {"ledger": match.group("ledger") or target, "record": match.group("record")}
        elif isinstance(value, int) and not isinstance(value, bool):
            value = {"ledger": target, "record": value}
        if not isinstance(value, Mapping) or set(value) - {"ledger", "record"}:
            raise FieldValueError("参照先は台帳と記録の組で入力してください", code="invalid_type")
        ledger, record = value.get("ledger") or target, value.get("record")
        ledger = self._identifier(ledger, "台帳")
        record = self._identifier(record, "記録")
        if target is not None and ledger != target:
            raise FieldValueError(
                f"この項目は台帳「{target}」の記録しか参照できません（指定: 「{ledger}」）",
                code="wrong_ledger",
            )
        return {"ledger": ledger, "record": record}

    @staticmethod
    def _identifier(value: Any, what: str) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _CODE_RE.fullmatch(value.strip()):
            raise FieldValueError(
                f"参照先の{what}が指定されていないか、正しくありません", code="invalid_reference"
            )
        check_storable_text(value, part=f"参照先の{what}")
        return value.strip()

    def format_export(self, value: Any, options: Mapping[str, Any]) -> str:
        return "" if value is None else f"{value['ledger']}:{value['record']}"
