"""日時: ISO 8601 and 和暦 + time in, ISO with +09:00 stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.ledgers.fields.helpers import clean, error, fmt

TEN_THIRTY = "2023-04-01T10:30:00+09:00"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-04-01T10:30:00+09:00", TEN_THIRTY),
        ("2023-04-01T10:30", TEN_THIRTY),
        ("2023-04-01 10:30", TEN_THIRTY),
        ("2023-04-01T01:30:00Z", TEN_THIRTY),
        ("2023-04-01T01:30:00+00:00", TEN_THIRTY),
        ("2023-03-31T21:30:00-04:00", TEN_THIRTY),
        ("20230401T103000", TEN_THIRTY),
        ("令和5年4月1日 10:30", TEN_THIRTY),
        ("令和5年4月1日10:30", TEN_THIRTY),
        ("令和５年４月１日　１０：３０", TEN_THIRTY),
        ("令和5年4月1日 10時30分", TEN_THIRTY),
        ("令和5年4月1日10時30分0秒", TEN_THIRTY),
        ("R5.4.1 10:30", TEN_THIRTY),
        ("2023/04/01 10:30:00", TEN_THIRTY),
        ("2023年4月1日 10:30", TEN_THIRTY),
        ("令和5年4月1日 10時", "2023-04-01T10:00:00+09:00"),
        ("令和5年4月1日 9:05:07", "2023-04-01T09:05:07+09:00"),
        ("令和5年4月1日（土） 10:30", TEN_THIRTY),
        (datetime(2023, 4, 1, 10, 30), TEN_THIRTY),
        (datetime(2023, 4, 1, 1, 30, tzinfo=UTC), TEN_THIRTY),
        (datetime(2023, 4, 1, 10, 30, 0, 123456), "2023-04-01T10:30:00.123456+09:00"),
    ],
)
def test_datetime_accepts(raw: Any, expected: str) -> None:
    assert clean("datetime", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2023-04-01", "時刻も入力してください"),
        ("20230401", "時刻も入力してください"),
        ("令和5年4月1日", "時刻も入力してください"),
        (date(2023, 4, 1), "時刻も入力してください"),
        ("令和5年4月1日 25:00", "時刻が正しくありません"),
        ("令和5年4月1日 10:60", "時刻が正しくありません"),
        ("令和5年4月1日 10時61分", "時刻が正しくありません"),
        ("令和5年13月1日 10:30", "月が正しくありません"),
        ("平成31年5月1日 10:30", "平成の期間外です"),
        ("あした", "日時として読み取れません"),
        ("10:30", "日時として読み取れません"),
        (1680312600, "文字列で入力してください"),
    ],
)
def test_datetime_refuses(raw: Any, message: str) -> None:
    assert message in str(error("datetime", raw))


def test_equal_moments_store_equal_strings() -> None:
    utc = clean("datetime", datetime(2023, 4, 1, 1, 30, tzinfo=UTC))
    new_york = clean(
        "datetime", datetime(2023, 3, 31, 21, 30, tzinfo=timezone(timedelta(hours=-4)))
    )
    assert utc == new_york == TEN_THIRTY


@pytest.mark.parametrize(
    ("era", "expected"), [(True, "令和5年4月1日 10:30"), (False, "2023年4月1日 10:30")]
)
def test_datetime_display(era: bool, expected: str) -> None:
    assert fmt("datetime", "display", TEN_THIRTY, era=era) == expected


def test_datetime_export_and_search_keys() -> None:
    assert fmt("datetime", "format_export", TEN_THIRTY) == TEN_THIRTY
    assert fmt("datetime", "search_keys", TEN_THIRTY) == [TEN_THIRTY, "令和5年4月1日10:30"]
