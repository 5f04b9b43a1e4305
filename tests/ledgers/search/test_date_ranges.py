"""Date criteria: a range of up to a year also goes through the days' exact keys; longer
ranges filter only. Both include their first and last day."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from ledgers.records.services import record_create
from ledgers.search.services import MAX_KEYED_DAYS, _day_keys, search_run

FIELDS = [
    {"key": "name", "label": "氏名", "type": "text", "required": True},
    {"key": "birth_date", "label": "生年月日", "type": "date"},
]
SCREENS = [
    {"code": "latest", "name": "本人検索", "generations": "current", "result_fields": ["name"],
     "criteria": [{"field": "name", "match": "contains"}, {"field": "birth_date", "match": "range"}]},
]  # fmt: skip


@pytest.fixture
def people(clerk: Any) -> Ledger:
    ledger = ledger_create(
        actor=clerk, code="p", name="名簿", fields=FIELDS, search_screens=SCREENS
    )
    for name, born in [
        ("一", "1985-03-01"),
        ("二", "1985-03-31"),
        ("三", "1985-04-01"),
        ("四", "1990-01-01"),
    ]:
        record_create(actor=clerk, ledger=ledger, values={"name": name, "birth_date": born})
    return ledger


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("1985-03-31", {"二"}),
        ("昭和60年3月31日", {"二"}),
        ("昭和60年3月", {"一", "二"}),
        ("S60.3.31〜S60.4.1", {"二", "三"}),
        ("昭和60年", {"一", "二", "三"}),
        ("昭和60年代", {"一", "二", "三"}),  # 1985-1989: more days than are keyed
        ("昭和50年代", set()),
        ("平成2年", {"四"}),
    ],
)
def test_ranges_find_their_first_and_last_day(
    clerk: Any, people: Ledger, query: str, expected: set[str]
) -> None:
    result = search_run(
        actor=clerk, ledger=people, screen_code="latest", criteria={"birth_date": query}
    )
    assert {hit.record.data["name"] for hit in result.hits} == expected


def test_a_date_and_a_name_narrow_together(clerk: Any, people: Ledger) -> None:
    result = search_run(
        actor=clerk, ledger=people, screen_code="latest",
        criteria={"birth_date": "昭和60年3月", "name": "二"},
    )  # fmt: skip
    assert [hit.record.data["name"] for hit in result.hits] == ["二"]


def test_only_ranges_up_to_a_year_are_keyed() -> None:
    from datetime import date, timedelta

    start = date(2024, 1, 1)
    assert len(_day_keys("d", start, start)) == 1
    assert len(_day_keys("d", start, start + timedelta(days=MAX_KEYED_DAYS - 1))) == MAX_KEYED_DAYS
    assert _day_keys("d", start, start + timedelta(days=MAX_KEYED_DAYS)) is None
