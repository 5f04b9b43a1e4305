"""和暦: every written form staff use, the era boundaries, and the round trip."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgers.fields.exceptions import FieldValueError, WarekiError
from ledgers.fields.wareki import (
    ERAS,
    era_of,
    format_date,
    parse_date,
    parse_era_decade,
    to_wareki,
)
from tests.ledgers.fields.helpers import HYPOTHESIS

APRIL_1 = date(2023, 4, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和5年4月1日", APRIL_1),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("令和1年5月1日", date(2019, 5, 1)),
        ("R5.4.1", APRIL_1),
        ("R05.04.01", APRIL_1),
        ("r5/4/1", APRIL_1),
        ("R5-4-1", APRIL_1),
        ("R5年4月1日", APRIL_1),
        ("R元.5.1", date(2019, 5, 1)),
        ("令5.4.1", APRIL_1),
        ("令和5.4.1", APRIL_1),
        ("H31.4.30", date(2019, 4, 30)),
        ("h1.1.8", date(1989, 1, 8)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("平1.1.8", date(1989, 1, 8)),
        ("S60.3.3", date(1985, 3, 3)),
        ("S64.1.7", date(1989, 1, 7)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("昭60.3.3", date(1985, 3, 3)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("T15.12.24", date(1926, 12, 24)),
        ("大正元年7月30日", date(1912, 7, 30)),
        ("大1.7.30", date(1912, 7, 30)),
        ("M45.7.29", date(1912, 7, 29)),
        ("明治45年7月29日", date(1912, 7, 29)),
        ("明1.10.23", date(1868, 10, 23)),
        # 明治 was applied to the whole of 1868.
        ("明治元年1月1日", date(1868, 1, 1)),
        ("2023/04/01", APRIL_1),
        ("2023/4/1", APRIL_1),
        ("2023-04-01", APRIL_1),
        ("2023.4.1", APRIL_1),
        ("20230401", APRIL_1),
        ("2023年4月1日", APRIL_1),
        ("2023年04月01日", APRIL_1),
        ("2023年4月1", APRIL_1),
        # Full width, spaces, odd dashes.
        ("令和５年４月１日", APRIL_1),
        ("Ｒ５．４．１", APRIL_1),
        ("２０２３／０４／０１", APRIL_1),
        ("２０２３－０４－０１", APRIL_1),
        ("2023ー04ー01", APRIL_1),
        ("2023−04−01", APRIL_1),
        ("  令和5年4月1日\u3000", APRIL_1),
        ("令和 5 年 4 月 1 日", APRIL_1),
        ("R 5 . 4 . 1", APRIL_1),
        ("令和１年１１月２７日", date(2019, 11, 27)),
        # Kanji numerals and a weekday, as in printed notices.
        ("令和五年四月一日", APRIL_1),
        ("令和五年十二月二十五日", date(2023, 12, 25)),
        ("平成三十一年四月三十日", date(2019, 4, 30)),
        ("二〇二三年四月一日", APRIL_1),
        ("令和5年4月1日（土）", APRIL_1),
        ("令和5年4月1日(土曜日)", APRIL_1),
        # Leap days.
        ("令和2年2月29日", date(2020, 2, 29)),
        ("H12.2.29", date(2000, 2, 29)),
    ],
)
def test_parse_date_reads_every_form(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("令和5年13月1日", "月が正しくありません"),
        ("令和5年0月1日", "月が正しくありません"),
        ("2023/13/01", "月が正しくありません"),
        ("令和5年2月29日", "日が正しくありません（令和5年2月は28日までです）"),
        ("令和5年4月31日", "日が正しくありません"),
        ("2023-02-30", "日が正しくありません（2023年2月は28日までです）"),
        ("H11.2.29", "日が正しくありません"),
        ("令和5年4月0日", "日が正しくありません"),
        ("20230230", "日が正しくありません"),
        ("昭和70年1月1日", "昭和70年は存在しません（昭和は64年までです）"),
        ("S65.1.1", "昭和65年は存在しません"),
        ("大正16年1月1日", "大正16年は存在しません（大正は15年までです）"),
        ("明治46年1月1日", "明治46年は存在しません"),
        ("平成32年1月1日", "平成32年は存在しません（平成は31年までです）"),
        ("平成31年5月1日", "平成31年5月1日は平成の期間外です（平成は2019年4月30日まで）"),
        ("昭和64年1月8日", "昭和64年1月8日は昭和の期間外です（昭和は1989年1月7日まで）"),
        ("大正15年12月25日", "大正の期間外です（大正は1926年12月24日まで）"),
        ("明治45年7月30日", "明治の期間外です（明治は1912年7月29日まで）"),
        ("令和元年4月30日", "令和元年4月30日は令和の期間外です（令和は2019年5月1日から）"),
        ("平成元年1月7日", "平成の期間外です（平成は1989年1月8日から）"),
        ("昭和元年12月24日", "昭和の期間外です（昭和は1926年12月25日から）"),
        ("大正元年7月29日", "大正の期間外です（大正は1912年7月30日から）"),
        ("令和0年5月1日", "令和0年は存在しません（最初の年は令和元年です）"),
        ("R0.5.1", "令和0年は存在しません"),
        ("平成123年1月1日", "平成123年は存在しません"),
        ("令和1234年1月1日", "日付として読み取れません"),
        ("0000-01-01", "年が正しくありません"),
        ("令和5年4月1日（日）", "曜日が合いません（2023年4月1日は土曜日です）"),
        ("garbage", "日付として読み取れません: 「garbage」"),
        ("", "日付として読み取れません"),
        ("令和5年", "日付として読み取れません"),
        ("令和5年4月", "日付として読み取れません"),
        ("2023/04", "日付として読み取れません"),
        ("23/4/1", "日付として読み取れません"),
        ("X5.4.1", "日付として読み取れません"),
        ("2023-04-01T10:00", "日付として読み取れません"),
        ("202341", "日付として読み取れません"),
        ("令和5年4月1日 ほか", "日付として読み取れません"),
        ("十十年", "日付として読み取れません"),
    ],
)
def test_parse_date_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(WarekiError) as info:
        parse_date(text)
    assert message in str(info.value)
    assert isinstance(info.value, FieldValueError)


@pytest.mark.parametrize("value", [None, 20230401, APRIL_1])
def test_parse_date_wants_text(value: object) -> None:
    with pytest.raises(WarekiError, match="文字列"):
        parse_date(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (APRIL_1, "令和5年4月1日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(1868, 10, 23), "明治元年10月23日"),
        (date(1868, 1, 1), "明治元年1月1日"),
    ],
)
def test_to_wareki(day: date, expected: str) -> None:
    assert to_wareki(day) == expected


def test_to_wareki_refuses_days_before_meiji() -> None:
    with pytest.raises(WarekiError, match="明治より前"):
        to_wareki(date(1867, 12, 31))


@pytest.mark.parametrize(
    ("day", "era", "expected"),
    [
        (APRIL_1, True, "令和5年4月1日"),
        (APRIL_1, False, "2023年4月1日"),
        (date(1867, 12, 31), True, "1867年12月31日"),
    ],
)
def test_format_date(day: date, era: bool, expected: str) -> None:
    assert format_date(day, era=era) == expected


def test_era_of_gives_era_and_year() -> None:
    era, year = era_of(date(1985, 3, 3))
    assert (era.name, era.letter, era.kanji, year) == ("昭和", "S", "昭", 60)


def test_each_era_ends_the_day_before_the_next_begins() -> None:
    for current, following in itertools.pairwise(ERAS):
        assert current.end == following.start - timedelta(days=1)
    assert ERAS[-1].end is None
    assert [era.last_year for era in ERAS] == [45, 15, 64, 31, None]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("昭和40年代", (date(1965, 1, 1), date(1974, 12, 31))),
        ("S40年代", (date(1965, 1, 1), date(1974, 12, 31))),
        ("昭和４０年代", (date(1965, 1, 1), date(1974, 12, 31))),
        ("昭和四十年代", (date(1965, 1, 1), date(1974, 12, 31))),
        # Cut at the era's bounds: no 昭和 day exists after 1989-01-07.
        ("昭和60年代", (date(1985, 1, 1), date(1989, 1, 7))),
        ("昭和0年代", (date(1926, 12, 25), date(1934, 12, 31))),
        ("平成30年代", (date(2018, 1, 1), date(2019, 4, 30))),
        ("令和10年代", (date(2028, 1, 1), date(2037, 12, 31))),
        ("明治0年代", (date(1868, 1, 1), date(1876, 12, 31))),
        ("1960年代", (date(1960, 1, 1), date(1969, 12, 31))),
        ("１９６０年代", (date(1960, 1, 1), date(1969, 12, 31))),
    ],
)
def test_parse_era_decade(text: str, expected: tuple[date, date]) -> None:
    assert parse_era_decade(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("昭和45年代", "年代として読み取れません"),
        ("昭和70年代", "昭和70年代は存在しません"),
        ("平成40年代", "平成40年代は存在しません"),
        ("1965年代", "年代として読み取れません"),
        ("昭和", "年代として読み取れません"),
        ("40年代", "年代として読み取れません"),
    ],
)
def test_parse_era_decade_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(WarekiError, match=message):
        parse_era_decade(text)


@settings(HYPOTHESIS, max_examples=1000)
@given(st.dates(min_value=date(1868, 1, 1), max_value=date.today()))
def test_parse_to_wareki_round_trips(day: date) -> None:
    assert parse_date(to_wareki(day)) == day


@settings(HYPOTHESIS, max_examples=500)
@given(
    st.dates(min_value=date(1868, 1, 1), max_value=date(2099, 12, 31)),
    st.sampled_from(["letter", "kanji", "iso", "slash", "compact", "full_width"]),
)
def test_every_written_form_round_trips(day: date, form: str) -> None:
    era, year = era_of(day)
    text = {
        "letter": f"{era.letter}{year}.{day.month}.{day.day}",
        "kanji": f"{era.kanji}{year:02}/{day.month:02}/{day.day:02}",
        "iso": day.isoformat(),
        "slash": f"{day.year}/{day.month}/{day.day}",
        "compact": day.strftime("%Y%m%d"),
        "full_width": to_wareki(day).translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    }[form]
    assert parse_date(text) == day


def boundary_days() -> list[date]:
    starts = [era.start for era in ERAS] + [date(1868, 1, 1)]
    return sorted({start + timedelta(days=offset) for start in starts for offset in range(-3, 4)})


@pytest.mark.parametrize("day", boundary_days(), ids=str)
def test_era_boundaries_round_trip(day: date) -> None:
    if day < date(1868, 1, 1):
        with pytest.raises(WarekiError):
            to_wareki(day)
        return
    text = to_wareki(day)
    assert parse_date(text) == day
    era, _ = era_of(day)
    assert era.contains(day)
    # The same day written in the neighbouring era is refused (except 明治's 1868 grace).
    for other in ERAS:
        if other is not era and not other.contains(day):
            year = day.year - other.start.year + 1
            with pytest.raises(WarekiError):
                parse_date(f"{other.name}{year}年{day.month}月{day.day}日")


def test_every_day_since_meiji_round_trips() -> None:
    """Exhaustive: about 58,000 days, cheap enough to check all of them."""
    day, last = date(1868, 1, 1), date.today()
    while day <= last:
        assert parse_date(to_wareki(day)) == day
        day += timedelta(days=1)


@settings(HYPOTHESIS)
@given(st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.sampled_from(["-", "/"]))
def test_the_quick_western_path_reads_what_the_general_path_reads(
    year: int, month: int, day: int, separator: str
) -> None:
    """``2023-04-01`` and ``2023/04/01`` take a short way; it must give the same date as
    the general path, and leave every impossible date to it (and its message)."""
    from ledgers.fields import wareki

    text = f"{year:04d}{separator}{month:02d}{separator}{day:02d}"
    quick = wareki._plain_western_date(text)
    try:
        general: date | None = wareki._build_date(year, month, day, label=f"{year}年")
    except WarekiError:
        general = None
    assert quick == general
    if general is None:
        with pytest.raises(WarekiError):
            parse_date(text)
    else:
        assert parse_date(text) == general
