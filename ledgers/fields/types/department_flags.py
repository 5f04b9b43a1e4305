"""課ごとの開示可否: per department 可/不可, as on DV support ledgers (市民課: 可 …)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldOptionsError, FieldValueError
from ledgers.fields.registry import FieldType
from ledgers.fields.types.boolean import parse_flag

TRUE_LABEL, FALSE_LABEL = "可", "不可"
# "shimin:可、hoken:不可" (the export form), also with = and , ; or new lines.
_PAIR_SEPARATOR_RE = re.compile(r"(?<!\s)\s*[、,，;；\n]\s*")
_PAIR_RE = re.compile(r"(?P<code>[^:：=＝]+)[:：=＝]\s*(?P<flag>.*)")


class DepartmentFlagsFieldType(FieldType):
    """{department code: bool} for every department in ``options["departments"]``.

    A department left out is False (不可): disclosure must be granted, never assumed.
    An unknown code is an error rather than ignored, since a typo would otherwise hide
    a grant. The access layer reads these flags; this type only validates them.

    Option ``default``: the departments flagged 可 on a record created without the field
    (DV_LEDGER.md: 市民課 可, the others 不可). Without it such a record was 不可 for every
    department, the registering one included: nobody could open or find it again.
    """

    type = "department_flags"
    label = "課ごとの開示可否"
    option_keys: ClassVar[frozenset[str]] = frozenset({"departments", "default"})

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = super().validate_options(options)
        departments = options.get("departments")
        if not isinstance(departments, list) or not departments:
            raise FieldOptionsError(
                "課の一覧（departments）を1つ以上指定してください", key="departments"
            )
        codes: list[str] = []
        for code in departments:
            if not isinstance(code, str) or not code.strip():
                raise FieldOptionsError(
                    "課コードは空でない文字列で指定してください", key="departments"
                )
            if code.strip() in codes:
                raise FieldOptionsError(
                    f"課コード「{code.strip()}」が重複しています", key="departments"
                )
            codes.append(code.strip())
        default = options.get("default") or []
        if not isinstance(default, list) or any(
            not isinstance(code, str) or code not in codes for code in default
        ):
            raise FieldOptionsError(
                "初期値で可にする課（default）は、課の一覧（departments）にある課コードの配列で指定してください",
                key="default",
            )
        if default:
            return {"departments": codes, "default": list(dict.fromkeys(default))}
        return {"departments": codes}

    def initial(self, options: Mapping[str, Any]) -> dict[str, bool] | None:
        default = options.get("default")
        if not default:
            return None
        return {code: code in default for code in options["departments"]}

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> dict[str, bool]:
        if isinstance(value, str):
            value = self._from_text(value)
        if not isinstance(value, Mapping):
            raise FieldValueError(
                "課ごとの可/不可を「課コード: 可」の組で入力してください", code="invalid_type"
            )
        departments: list[str] = options["departments"]
        unknown = [str(code) for code in value if code not in departments]
        if unknown:
            raise FieldValueError(
                f"不明な課コードです: {'、'.join(f'「{code}」' for code in unknown)}"
                f"（設定されている課: {'、'.join(departments)}）",
                code="unknown_department",
                departments=unknown,
            )
        flags: dict[str, bool] = {}
        for code in departments:
            flag = value.get(code)
            if flag is None or (isinstance(flag, str) and not flag.strip()):
                flags[code] = False
                continue
            try:
                flags[code] = parse_flag(flag)
            except FieldValueError:
                raise FieldValueError(
                    f"「{code}」の「{flag}」は可/不可として読み取れません（可・不可、○・× などで入力してください）",
                    code="invalid_flag",
                    department=code,
                ) from None
        return flags

    def _from_text(self, text: str) -> Any:
        """A JSON object, or "code:可、code:不可" pairs as ``format_export`` writes."""
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                return json.loads(stripped)
            except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
                raise FieldValueError(
                    "課ごとの可/不可の書式が正しくありません", code="invalid_format"
                ) from None
        pairs: dict[str, str] = {}
        for item in _PAIR_SEPARATOR_RE.split(stripped):
            match = _PAIR_RE.fullmatch(item)
            if match is None:
                raise FieldValueError(
                    f"「{item}」は「課コード: 可」の形になっていません", code="invalid_format"
                )
            pairs[match.group("code").strip()] = match.group("flag")
        return pairs

    def format_export(self, value: Any, options: Mapping[str, Any]) -> str:
        if value is None:
            return ""
        return "、".join(
            f"{code}:{TRUE_LABEL if flag else FALSE_LABEL}" for code, flag in value.items()
        )

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        return self.format_export(value, options)

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        return []
