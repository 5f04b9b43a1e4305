"""日付: 和暦 or 西暦 in, ISO "2023-04-01" stored, 和暦 shown."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import search_normalize
from ledgers.fields.registry import FieldType
from ledgers.fields.wareki import EARLIEST_WAREKI_DATE, format_date, parse_date, to_wareki


class DateFieldType(FieldType):
    """A calendar date. Stored as ISO 8601 so JSONB sorts and compares it as text; read
    from every way staff write dates (see ``wareki.parse_date``)."""

    pure = True
    type = "date"
    label = "日付"

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> str:
        if isinstance(value, datetime):
            raise FieldValueError(
                "日付だけを入力してください（時刻は不要です）", code="invalid_type"
            )
        if isinstance(value, date):
            return value.isoformat()
        if not isinstance(value, str):
            raise FieldValueError("日付は文字列で入力してください", code="invalid_type")
        return parse_date(value).isoformat()

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        return "" if value is None else format_date(date.fromisoformat(value), era=era)

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        """ISO and 和暦 forms, so "2023-04" and "令和5年4月" both find the record."""
        if value is None:
            return []
        day = date.fromisoformat(value)
        keys = [value]
        if day >= EARLIEST_WAREKI_DATE:
            keys.append(search_normalize(to_wareki(day)))
        return keys
