"""日時: a moment, stored as ISO 8601 in Japan time ("2023-04-01T10:30:00+09:00")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import nfkc, search_normalize
from ledgers.fields.registry import FieldType
from ledgers.fields.wareki import check_date_text_length, format_date, parse_date

TOKYO = ZoneInfo("Asia/Tokyo")
_DATE_ONLY_ISO_RE = re.compile(r"\d{4}-?\d{2}-?\d{2}")
_TIME_RE = re.compile(
    r"(?P<date>.+?)\s*"
    r"(?:(?P<h1>\d{1,2}):(?P<m1>\d{2})(?::(?P<s1>\d{2}))?"
    r"|(?P<h2>\d{1,2})\s*時(?:\s*(?P<m2>\d{1,2})\s*分(?:\s*(?P<s2>\d{1,2})\s*秒)?)?)"
)


def _to_tokyo(moment: datetime) -> datetime:
    """Naive times are Japan time; aware ones are converted so equal moments store equal.
    A moment whose conversion leaves the years 1–9999 (0001-01-01T00:00+14:00) is refused."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=TOKYO)
    try:
        return moment.astimezone(TOKYO)
    except OverflowError:
        raise FieldValueError(
            "日時が扱える範囲（西暦1年〜9999年）の外です", code="out_of_range"
        ) from None


def _time(hour: str, minute: str | None, second: str | None) -> time:
    values = int(hour), int(minute or 0), int(second or 0)
    if not (values[0] <= 23 and values[1] <= 59 and values[2] <= 59):
        raise FieldValueError(
            f"時刻が正しくありません（{values[0]}:{values[1]:02}:{values[2]:02}）",
            code="invalid_time",
        )
    return time(*values)


def parse_datetime_text(text: str) -> datetime:
    """ISO 8601, or any date ``parse_date`` reads followed by 10:30, 10:30:15 or 10時30分."""
    check_date_text_length(text)
    prepared = nfkc(text).strip()
    if not _DATE_ONLY_ISO_RE.fullmatch(prepared):
        try:
            return datetime.fromisoformat(prepared)
        except ValueError:
            pass
    match = _TIME_RE.fullmatch(prepared)
    if match is None:
        try:
            parse_date(prepared)
        except FieldValueError:
            pass
        else:
            raise FieldValueError(
                "時刻も入力してください（例: 令和5年4月1日 10:30）", code="missing_time"
            )
        raise FieldValueError(
            f"日時として読み取れません: 「{text.strip()}」（例: 令和5年4月1日 10:30、2023-04-01T10:30）",
            code="unreadable_datetime",
        )
    try:
        day = parse_date(match.group("date"))
    except FieldValueError as error:
        if error.code != "unreadable_date":
            raise  # a real date with a real problem (13月, 平成31年5月 …): say which
        raise FieldValueError(
            f"日時として読み取れません: 「{text.strip()}」（例: 令和5年4月1日 10:30、2023-04-01T10:30）",
            code="unreadable_datetime",
        ) from None
    if match.group("h1") is not None:
        clock = _time(match.group("h1"), match.group("m1"), match.group("s1"))
    else:
        clock = _time(match.group("h2"), match.group("m2"), match.group("s2"))
    return datetime.combine(day, clock)


class DateTimeFieldType(FieldType):
    """A date and time. Naive input is Asia/Tokyo; the stored string always carries
    +09:00 so that text order is time order."""

    type = "datetime"
    label = "日時"

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> str:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            raise FieldValueError(
                "時刻も入力してください（例: 令和5年4月1日 10:30）", code="missing_time"
            )
        elif isinstance(value, str):
            moment = parse_datetime_text(value)
        else:
            raise FieldValueError("日時は文字列で入力してください", code="invalid_type")
        return _to_tokyo(moment).isoformat()

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        if value is None:
            return ""
        moment = _to_tokyo(datetime.fromisoformat(value))
        return f"{format_date(moment.date(), era=era)} {moment:%H:%M}"

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        if value is None:
            return []
        return [value, search_normalize(self.display(value, options))]
