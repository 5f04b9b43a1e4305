"""日付: every form staff write in, ISO stored, 和暦 or 西暦 shown."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from tests.ledgers.fields.helpers import clean, error, fmt


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("令和5年4月1日", "2023-04-01"),
        ("令和元年5月1日", "2019-05-01"),
        ("R5.4.1", "2023-04-01"),
        ("R05.04.01", "2023-04-01"),
        ("r5/4/1", "2023-04-01"),
        ("H31.4.30", "2019-04-30"),
        ("S60.3.3", "1985-03-03"),
        ("M45.7.29", "1912-07-29"),
        ("T1.7.30", "1912-07-30"),
        ("明45.7.29", "1912-07-29"),
        ("大15.12.24", "1926-12-24"),
        ("昭64.1.7", "1989-01-07"),
        ("平1.1.8", "1989-01-08"),
        ("令1.5.1", "2019-05-01"),
        ("2023/04/01", "2023-04-01"),
        ("2023-04-01", "2023-04-01"),
        ("2023.4.1", "2023-04-01"),
        ("20230401", "2023-04-01"),
        ("2023年4月1日", "2023-04-01"),
        ("令和５年４月１日", "2023-04-01"),
        ("２０２３／０４／０１", "2023-04-01"),
        (" 令和5年4月1日 ", "2023-04-01"),
        (date(2023, 4, 1), "2023-04-01"),
        (date(1800, 1, 1), "1800-01-01"),
    ],
)
def test_date_accepts(raw: Any, expected: str) -> None:
    assert clean("date", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("令和5年13月1日", "月が正しくありません"),
        ("昭和70年1月1日", "昭和70年は存在しません"),
        ("平成31年5月1日", "平成31年5月1日は平成の期間外です（平成は2019年4月30日まで）"),
        ("令和0年1月1日", "令和0年は存在しません"),
        ("令和元年4月30日", "令和の期間外です"),
        ("2023/02/29", "日が正しくありません"),
        ("きのう", "日付として読み取れません"),
        (datetime(2023, 4, 1, 10, 0), "日付だけを入力してください"),
        (20230401, "文字列で入力してください"),
    ],
)
def test_date_refuses(raw: Any, message: str) -> None:
    assert message in str(error("date", raw))


@pytest.mark.parametrize(
    ("value", "era", "expected"),
    [
        ("2023-04-01", True, "令和5年4月1日"),
        ("2019-05-01", True, "令和元年5月1日"),
        ("1989-01-07", True, "昭和64年1月7日"),
        ("2023-04-01", False, "2023年4月1日"),
        ("1800-01-01", True, "1800年1月1日"),
    ],
)
def test_date_display(value: str, era: bool, expected: str) -> None:
    assert fmt("date", "display", value, era=era) == expected


def test_date_export_is_iso_and_search_keys_hold_both_calendars() -> None:
    assert fmt("date", "format_export", "2023-04-01") == "2023-04-01"
    assert fmt("date", "search_keys", "2023-04-01") == ["2023-04-01", "令和5年4月1日"]
    assert fmt("date", "search_keys", "1800-01-01") == ["1800-01-01"]
