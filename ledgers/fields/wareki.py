"""Japanese era (和暦) dates: reading the ways staff write them, and writing them back.

Eras follow the official first days; each ends the day before the next begins. 明治 began
on 1868-10-23 but was applied to the whole of 1868, so 明治元年 is accepted from
1868-01-01. Dates are proleptic Gregorian throughout: the lunar calendar used until
明治5年 is out of scope for ledgers.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from ledgers.fields.exceptions import WarekiError
from ledgers.fields.normalize import nfkc, unify_hyphens
from ledgers.fields.numbers import kanji_number


@dataclass(frozen=True)
class Era:
    """One era: its name, the abbreviations staff use, and the days it covers."""

    name: str
    letter: str
    kanji: str
    start: date
    end: date | None
    #: First day read as belonging to this era (明治: the whole of 1868).
    accepted_from: date

    @property
    def last_year(self) -> int | None:
        """The highest era year (昭和 → 64), or None for the current era."""
        return None if self.end is None else self.end.year - self.start.year + 1

    def contains(self, day: date) -> bool:
        return self.accepted_from <= day and (self.end is None or day <= self.end)


def _eras() -> tuple[Era, ...]:
    table = [
        ("明治", "M", "明", date(1868, 10, 23)),
        ("大正", "T", "大", date(1912, 7, 30)),
        ("昭和", "S", "昭", date(1926, 12, 25)),
        ("平成", "H", "平", date(1989, 1, 8)),
        ("令和", "R", "令", date(2019, 5, 1)),
    ]
    eras = []
    for index, (name, letter, kanji, start) in enumerate(table):
        following = table[index + 1][3] if index + 1 < len(table) else None
        end = following - timedelta(days=1) if following else None
        accepted_from = date(1868, 1, 1) if name == "明治" else start
        eras.append(Era(name, letter, kanji, start, end, accepted_from))
    return tuple(eras)


ERAS: tuple[Era, ...] = _eras()
EARLIEST_WAREKI_DATE = ERAS[0].accepted_from
_ERA_BY_TOKEN = {token: era for era in ERAS for token in (era.name, era.letter, era.kanji)}
_ERA_ALTERNATIVES = "|".join(sorted(map(re.escape, _ERA_BY_TOKEN), key=len, reverse=True))

_MONTH_DAY = (
    r"(?:年\s*(?P<m1>\d{1,2})\s*月\s*(?P<d1>\d{1,2})\s*日?"
    r"|[./-]\s*(?P<m2>\d{1,2})\s*[./-]\s*(?P<d2>\d{1,2}))"
)
_ERA_DATE_RE = re.compile(rf"(?P<era>{_ERA_ALTERNATIVES})\s*(?P<year>元|\d{{1,3}})\s*{_MONTH_DAY}")
_WESTERN_DATE_RE = re.compile(rf"(?P<year>\d{{4}})\s*{_MONTH_DAY}")
_COMPACT_DATE_RE = re.compile(r"(?P<year>\d{4})(?P<m1>\d{2})(?P<d1>\d{2})")
_ERA_DECADE_RE = re.compile(rf"(?P<era>{_ERA_ALTERNATIVES})\s*(?P<year>\d{{1,2}})\s*年代")
_WESTERN_DECADE_RE = re.compile(r"(?P<year>[1-9]\d{2}0)\s*年代")
_WEEKDAY_SUFFIX_RE = re.compile(r"\s*\(\s*(?P<weekday>[月火水木金土日])(?:曜日?)?\s*\)\s*$")
_WEEKDAYS = "月火水木金土日"
_KANJI_NUMBER_RE = re.compile(r"[〇零一二三四五六七八九十]+")
_EXAMPLES = "例: 令和5年4月1日、R5.4.1、2023/04/01"


def _kanji_number(match: re.Match[str]) -> str:
    """二十三 → 23, 二〇二三 → 2023; anything else is left for the garbage message."""
    run = match.group()
    tens, ten, ones = run.partition("十")
    if ten and (len(tens) > 1 or len(ones) > 1 or "十" in ones):
        return run
    return str(kanji_number(run))


def prepare_date_text(text: str) -> str:
    """Full-width to ASCII, every dash to "-", kanji numerals to digits, letters upper."""
    return _KANJI_NUMBER_RE.sub(_kanji_number, unify_hyphens(nfkc(text))).strip().upper()


def era_year_label(era: Era, year: int) -> str:
    """令和 + 1 → 令和元年, 令和 + 5 → 令和5年."""
    return f"{era.name}{'元' if year == 1 else year}年"


def _build_date(year: int, month: int, day: int, *, label: str) -> date:
    if not 1 <= month <= 12:
        raise WarekiError(f"月が正しくありません（{month}月）", code="invalid_month")
    if not 1 <= year <= 9999:
        raise WarekiError(f"年が正しくありません（{year}年）", code="invalid_year")
    last_day = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last_day:
        raise WarekiError(
            f"日が正しくありません（{label}{month}月は{last_day}日までです）", code="invalid_day"
        )
    return date(year, month, day)


def _month_day(match: re.Match[str]) -> tuple[int, int]:
    month = match.group("m1") or match.group("m2")
    day = match.group("d1") or match.group("d2")
    return int(month), int(day)


def check_era_year(era: Era, year: int) -> None:
    """WarekiError unless ``year`` is a year of ``era`` (元年 is 1)."""
    if year < 1:
        raise WarekiError(
            f"{era.name}{year}年は存在しません（最初の年は{era.name}元年です）",
            code="invalid_era_year",
        )
    if era.last_year is not None and year > era.last_year:
        raise WarekiError(
            f"{era.name}{year}年は存在しません（{era.name}は{era.last_year}年までです）",
            code="invalid_era_year",
        )


def _parse_era_date(match: re.Match[str]) -> date:
    era = _ERA_BY_TOKEN[match.group("era")]
    year = 1 if match.group("year") == "元" else int(match.group("year"))
    check_era_year(era, year)
    month, day = _month_day(match)
    label = era_year_label(era, year)
    result = _build_date(era.start.year + year - 1, month, day, label=label)
    if not era.contains(result):
        if result < era.accepted_from:
            bound = f"{era.name}は{format_western(era.accepted_from)}から"
        else:
            assert era.end is not None
            bound = f"{era.name}は{format_western(era.end)}まで"
        raise WarekiError(
            f"{label}{month}月{day}日は{era.name}の期間外です（{bound}）", code="outside_era"
        )
    return result


_ASCII_DIGITS = frozenset("0123456789")


def _plain_western_date(text: str) -> date | None:
    """``2023-04-01`` or ``2023/04/01`` exactly (what the API, exports and most files
    send) as a valid date, without the general path's normalising and regular expressions
    (a tenth of its time); ``None`` for anything else, which the general path reads or
    refuses with its message."""
    if len(text) != 10 or text[4] not in "-/" or text[7] != text[4]:
        return None
    year, month, day = text[:4], text[5:7], text[8:]
    if not _ASCII_DIGITS.issuperset(year + month + day):
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:  # 2023-02-30, year 0: the general path names the problem
        return None


#: The longest date or moment text read, in characters (surrounding spaces aside):
#: 令和五年十二月三十一日（日曜日） 23時59分59秒 fits three times over.
MAX_DATE_TEXT = 100


def check_date_text_length(text: str) -> None:
    """WarekiError ``too_long`` for a text longer than ``MAX_DATE_TEXT``: the date and
    moment patterns scan a run of spaces again from each of its characters (20,000 spaces
    cost 7 s in a moment, a 2.5 MB body hours), and kanji numerals past 4,300 digits were
    a number Python refuses to write (a server error)."""
    if len(text.strip()) > MAX_DATE_TEXT:
        raise WarekiError(
            f"日付・日時の文字列が長すぎます（{MAX_DATE_TEXT}文字まで）", code="too_long"
        )


def parse_date(text: str) -> date:
    """Read a date written as 和暦 or 西暦 (raises WarekiError with a Japanese message).

    Accepts 令和5年4月1日, 令和元年5月1日, R5.4.1, R05.04.01, r5/4/1, 令5.4.1,
    2023/04/01, 2023-04-01, 2023.4.1, 20230401, 2023年4月1日, full-width characters,
    kanji numerals (令和五年四月一日) and a trailing weekday such as （土）.
    """
    if not isinstance(text, str):
        raise WarekiError("日付は文字列で入力してください", code="invalid_type")
    if (quick := _plain_western_date(text)) is not None:
        return quick
    check_date_text_length(text)
    prepared = prepare_date_text(text)
    weekday = None
    if suffix := _WEEKDAY_SUFFIX_RE.search(prepared):
        weekday = suffix.group("weekday")
        prepared = prepared[: suffix.start()]
    if match := _ERA_DATE_RE.fullmatch(prepared):
        result = _parse_era_date(match)
    elif match := _WESTERN_DATE_RE.fullmatch(prepared) or _COMPACT_DATE_RE.fullmatch(prepared):
        year = int(match.group("year"))
        month, day = _month_day(match)
        result = _build_date(year, month, day, label=f"{year}年")
    else:
        raise WarekiError(
            f"日付として読み取れません: 「{text.strip()}」（{_EXAMPLES}）", code="unreadable_date"
        )
    if weekday is not None and _WEEKDAYS[result.weekday()] != weekday:
        raise WarekiError(
            f"曜日が合いません（{format_western(result)}は{_WEEKDAYS[result.weekday()]}曜日です）",
            code="wrong_weekday",
        )
    return result


def era_of(day: date) -> tuple[Era, int]:
    """The era and era year of a day (raises WarekiError before 1868)."""
    for era in reversed(ERAS):
        if day >= era.accepted_from:
            return era, day.year - era.start.year + 1
    raise WarekiError(
        f"{format_western(day)}は和暦にできません（明治より前です）", code="before_meiji"
    )


def to_wareki(day: date) -> str:
    """2023-04-01 → 令和5年4月1日; 2019-05-01 → 令和元年5月1日."""
    era, year = era_of(day)
    return f"{era_year_label(era, year)}{day.month}月{day.day}日"


def format_western(day: date) -> str:
    """2023-04-01 → 2023年4月1日."""
    return f"{day.year}年{day.month}月{day.day}日"


def format_date(day: date, era: bool = True) -> str:
    """A date for people: 和暦 when ``era`` (西暦 before 明治), otherwise 西暦."""
    if era and day >= EARLIEST_WAREKI_DATE:
        return to_wareki(day)
    return format_western(day)


def parse_era_decade(text: str) -> tuple[date, date]:
    """昭和40年代 → (1965-01-01, 1974-12-31); 1960年代 → (1960-01-01, 1969-12-31).

    A decade that runs past its era is cut at the era's bounds (昭和60年代 ends
    1989-01-07), because a 昭和 date after that day does not exist.
    """
    if not isinstance(text, str):
        raise WarekiError("年代は文字列で入力してください", code="invalid_type")
    prepared = prepare_date_text(text)
    if match := _WESTERN_DECADE_RE.fullmatch(prepared):
        year = int(match.group("year"))
        return date(year, 1, 1), date(year + 9, 12, 31)
    match = _ERA_DECADE_RE.fullmatch(prepared)
    if match is None or int(match.group("year")) % 10:
        raise WarekiError(
            f"年代として読み取れません: 「{text.strip()}」（例: 昭和40年代、1960年代）",
            code="unreadable_decade",
        )
    era = _ERA_BY_TOKEN[match.group("era")]
    first_year = int(match.group("year"))
    if era.last_year is not None and first_year > era.last_year:
        raise WarekiError(
            f"{era.name}{first_year}年代は存在しません（{era.name}は{era.last_year}年までです）",
            code="invalid_era_year",
        )
    western = era.start.year + first_year - 1
    start = max(date(max(western, 1), 1, 1), era.accepted_from)
    end = date(western + 9, 12, 31)
    if era.end is not None:
        end = min(end, era.end)
    return start, end
