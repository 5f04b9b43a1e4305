"""Date and datetime criteria mean the same days in every part of a search: the current
values' condition, the past values' condition and the match details."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from ledgers.records.services import record_create, record_update
from ledgers.search.services import SearchError, search_run

FIELDS = [
    {"key": "name", "label": "氏名", "type": "text", "required": True},
    {"key": "received", "label": "受付日時", "type": "datetime"},
    {"key": "born", "label": "生年月日", "type": "date"},
    {"key": "visits", "label": "来所", "type": "group", "fields": [
        {"key": "on", "label": "来所日", "type": "date"}]},
]  # fmt: skip
CRITERIA = [{"field": "received", "match": "exact"}, {"field": "born", "match": "exact"},
            {"field": "visits.on", "match": "exact"}]  # fmt: skip
SCREENS = [
    {"code": "now", "name": "最新", "generations": "current", "result_fields": ["name"], "criteria": CRITERIA},
    {"code": "all", "name": "過去", "generations": "all", "result_fields": ["name"], "criteria": CRITERIA},
]  # fmt: skip


@pytest.fixture
def people(clerk: Any) -> Ledger:
    ledger = ledger_create(
        actor=clerk, code="d", name="受付簿", fields=FIELDS, search_screens=SCREENS
    )
    record_create(actor=clerk, ledger=ledger, values={
        "name": "一", "received": "2024-04-01T09:30:00+09:00", "born": "1985-03-31",
        "visits": [{"on": "2024-04-02"}, {"on": "2024-05-01"}]})  # fmt: skip
    two = record_create(actor=clerk, ledger=ledger, values={
        "name": "二", "received": "2024-04-02T23:59:00+09:00", "born": "1985-03-31"})  # fmt: skip
    # 二 was born on 1985-03-31 in its first generation (a correction since).
    record_update(actor=clerk, record=two, values={"born": "1990-01-01"}, expected_generation=1)
    return ledger


@pytest.mark.parametrize("screen", ["now", "all"])
@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"received": "2024-04-01"}, {"一"}),
        ({"received": "令和6年4月2日"}, {"二"}),
        ({"received": "令和6年4月"}, {"一", "二"}),  # a month given to a day criterion
        ({"visits.on": "2024-05-01"}, {"一"}),
        ({"visits.on": "2024-04-03"}, set()),
        ({"born": "1990-01-01"}, {"二"}),
    ],
)
def test_a_day_finds_the_same_records_in_every_generation_mode(
    clerk: Any, people: Ledger, screen: str, criteria: dict[str, str], expected: set[str]
) -> None:
    result = search_run(actor=clerk, ledger=people, screen_code=screen, criteria=criteria)
    assert {hit.record.data["name"] for hit in result.hits} == expected
    for hit in result.hits:
        assert {m["field"] for m in hit.matched} == set(criteria)


def test_a_past_day_is_found_only_over_every_generation(clerk: Any, people: Ledger) -> None:
    now = search_run(actor=clerk, ledger=people, screen_code="now", criteria={"born": "S60.3.31"})
    assert {hit.record.data["name"] for hit in now.hits} == {"一"}
    every = search_run(actor=clerk, ledger=people, screen_code="all", criteria={"born": "S60.3.31"})
    assert {hit.record.data["name"]: hit.matched for hit in every.hits} == {
        "一": [{"field": "born", "generation": 1}],
        "二": [{"field": "born", "generation": 1}],  # held until the correction
    }


def test_a_group_date_criterion_takes_one_day(clerk: Any, people: Ledger) -> None:
    with pytest.raises(SearchError, match="1日"):
        search_run(
            actor=clerk, ledger=people, screen_code="now", criteria={"visits.on": "令和6年4月"}
        )
