"""本人検索(過去): the past-generation index holds exactly the values records no longer hold.

Every write path keeps it: single updates, restores, the bulk update; a registration writes
nothing there. A search over every generation answers from the current index and this one.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from ledgers.records.models import Record
from ledgers.records.services import (
    record_bulk_create,
    record_bulk_update,
    record_create,
    record_delete,
    record_restore,
    record_update,
)
from ledgers.search.models import SearchValue
from ledgers.search.services import SearchError, search_run

FIELDS: list[dict[str, Any]] = [
    {"key": "name", "label": "氏名", "type": "person_name", "required": True},
    {"key": "birth_date", "label": "生年月日", "type": "date"},
    {"key": "status", "label": "状況", "type": "text"},
    {"key": "related", "label": "関係者", "type": "group", "fields": [
        {"key": "name", "label": "氏名", "type": "person_name"}]},
]  # fmt: skip
SCREENS: list[dict[str, Any]] = [
    {"code": "past", "name": "本人検索（過去）", "generations": "all",
     "criteria": [{"field": "name", "match": "contains"}, {"field": "birth_date", "match": "range"},
                  {"field": "related.name", "match": "contains"}],
     "result_fields": ["name"]},
    {"code": "latest", "name": "本人検索（最新）", "generations": "current",
     "criteria": [{"field": "name", "match": "contains"}], "result_fields": ["name"]},
]  # fmt: skip


def _name(kanji: str, kana: str) -> dict[str, str]:
    return {"kanji": kanji, "kana": kana}


@pytest.fixture
def people(clerk: Any) -> Ledger:
    return ledger_create(
        actor=clerk, code="people", name="支援対象者", fields=FIELDS, search_screens=SCREENS
    )


def _past(record: Record) -> set[tuple[str, str, int]]:
    return set(SearchValue.objects.filter(record=record).values_list("path", "value", "generation"))


def _search(clerk: Any, ledger: Ledger, screen: str = "past", **criteria: Any) -> Any:
    return search_run(actor=clerk, ledger=ledger, screen_code=screen, criteria=criteria)


def test_registering_writes_nothing_to_the_past_index(clerk: Any, people: Ledger) -> None:
    record = record_create(
        actor=clerk, ledger=people, values={"name": _name("山田 花子", "ヤマダ ハナコ")}
    )
    record_bulk_create(actor=clerk, ledger=people, values_list=[{"name": _name("佐藤 一郎", "")}])
    assert SearchValue.objects.count() == 0
    # ...and the all-generation search still finds the current value, in its generation.
    hits = _search(clerk, people, name="山田").hits
    assert [(h.record.pk, h.matched) for h in hits] == [
        (record.pk, [{"field": "name", "generation": 1}])
    ]


def test_an_update_moves_only_the_replaced_values(clerk: Any, people: Ledger) -> None:
    record = record_create(
        actor=clerk, ledger=people,
        values={"name": _name("山田 花子", "ヤマダ ハナコ"), "status": "申請受付"},
    )  # fmt: skip
    record = record_update(
        actor=clerk, record=record, values={"status": "審査中"}, expected_generation=1
    )
    assert _past(record) == {("status", "申請受付", 1)}
    record = record_update(
        actor=clerk, record=record, expected_generation=2,
        values={"name": _name("佐藤 花子", "サトウ ハナコ")},
    )  # fmt: skip
    assert _past(record) == {
        ("status", "申請受付", 1), ("name", "山田花子", 2), ("name", "ヤマダハナコ", 2),
    }  # fmt: skip
    assert _search(clerk, people, "latest", name="山田").hits == []
    (hit,) = _search(clerk, people, name="山田").hits
    assert hit.record.pk == record.pk
    assert hit.matched == [{"field": "name", "generation": 2}]
    # ハナコ is in the old reading and the new one: both generations are reported.
    (hit,) = _search(clerk, people, name="ハナコ").hits
    assert hit.matched == [{"field": "name", "generation": 2}, {"field": "name", "generation": 3}]


def test_a_value_that_comes_back_and_leaves_again_moves_its_generation(
    clerk: Any, people: Ledger
) -> None:
    record = record_create(actor=clerk, ledger=people, values={"name": _name("山田 花子", "")})
    for generation, kanji in enumerate(["佐藤 花子", "山田 花子", "鈴木 花子"], start=1):
        record = record_update(
            actor=clerk, record=record, values={"name": _name(kanji, "")},
            expected_generation=generation,
        )  # fmt: skip
    assert ("name", "山田花子", 3) in _past(record)
    assert ("name", "山田花子", 1) not in _past(record)
    (hit,) = _search(clerk, people, name="山田").hits
    assert hit.matched == [{"field": "name", "generation": 3}]


def test_restoring_an_old_generation_moves_the_values_it_replaces(
    clerk: Any, people: Ledger
) -> None:
    record = record_create(actor=clerk, ledger=people, values={"name": _name("山田 花子", "")})
    record = record_update(
        actor=clerk, record=record, values={"name": _name("佐藤 花子", "")}, expected_generation=1
    )
    record = record_restore(actor=clerk, record=record, generation=1, expected_generation=2)
    assert record.generation == 3
    assert _past(record) == {("name", "山田花子", 1), ("name", "佐藤花子", 2)}
    (hit,) = _search(clerk, people, name="山田").hits
    assert hit.matched == [{"field": "name", "generation": 1}, {"field": "name", "generation": 3}]
    # Deleting and undeleting changes no value: nothing moves.
    record = record_delete(actor=clerk, record=record, reason="誤登録のため")
    assert _search(clerk, people, name="山田").hits == []
    record = record_restore(actor=clerk, record=record)
    assert _past(record) == {("name", "山田花子", 1), ("name", "佐藤花子", 2)}


def test_the_bulk_update_moves_the_replaced_values(clerk: Any, people: Ledger) -> None:
    created = record_bulk_create(
        actor=clerk, ledger=people,
        values_list=[{"name": _name(f"山田 {given}", ""), "status": "申請受付"} for given in ["花子", "一郎"]],
    )  # fmt: skip
    (first, _), (second, _) = created
    record_bulk_update(
        actor=clerk, ledger=people,
        changes=[(first, 1, {"name": _name("佐藤 花子", "")}), (second, 1, {"status": "申請受付"})],
    )  # fmt: skip
    assert set(SearchValue.objects.values_list("record_id", "path", "value", "generation")) == {
        (first, "name", "山田花子", 1)
    }
    hits = _search(clerk, people, name="山田").hits
    assert {h.record.pk: h.matched for h in hits} == {
        first: [{"field": "name", "generation": 1}],
        second: [{"field": "name", "generation": 1}],
    }


def test_criteria_intersect_across_generations_and_group_rows(clerk: Any, people: Ledger) -> None:
    record = record_create(
        actor=clerk, ledger=people,
        values={"name": _name("山田 花子", ""), "birth_date": "昭和60年3月3日",
                "related": [{"name": _name("山田 太郎", "")}]},
    )  # fmt: skip
    record_create(
        actor=clerk,
        ledger=people,
        values={"name": _name("山田 次郎", ""), "birth_date": "1990-01-01"},
    )
    record = record_update(
        actor=clerk, record=record, expected_generation=1,
        values={"name": _name("佐藤 花子", ""), "related": [{"name": _name("田中 太郎", "")}]},
    )  # fmt: skip
    (hit,) = _search(clerk, people, name="山田", birth_date="昭和60年").hits
    assert hit.record.pk == record.pk
    assert hit.matched == [
        {"field": "birth_date", "generation": 2}, {"field": "name", "generation": 1},
    ]  # fmt: skip
    (hit,) = _search(clerk, people, **{"related.name": "山田太郎"}).hits
    assert hit.matched == [{"field": "related.name", "generation": 1}]
    assert _search(clerk, people, name="佐藤", birth_date="1990").hits == []


def test_an_excluded_or_unknown_criterion_writes_no_audit_event(clerk: Any, people: Ledger) -> None:
    from ledgers.audit.models import AuditEvent

    before = AuditEvent.objects.filter(action="search.run").count()
    with pytest.raises(SearchError):
        _search(clerk, people, status="審査中")
    assert AuditEvent.objects.filter(action="search.run").count() == before


@pytest.mark.parametrize("term", ["山田", "佐藤", "田", "鈴木花子"])
def test_both_ways_of_searching_every_generation_give_the_same_pages(
    clerk: Any, people: Ledger, monkeypatch: pytest.MonkeyPatch, term: str
) -> None:
    """Newest first within a recent window, or by candidates when the window does not fill
    the page: the same records in the same order, page by page."""
    from ledgers.search import services

    records = [
        record_create(actor=clerk, ledger=people, values={"name": _name(f"{family} {i}", "")})
        for i, family in enumerate(["山田", "佐藤", "山田", "鈴木", "田中", "山田", "佐藤", "鈴木"])
    ]
    for generation_from, record in enumerate(records[::3]):
        record_update(
            actor=clerk, record=record, values={"name": _name(f"鈴木 花子{generation_from}", "")},
            expected_generation=1,
        )  # fmt: skip

    def pages(window: int) -> list[list[Any]]:
        monkeypatch.setattr(services, "RECENT_WINDOW", window)
        return [
            [h.record.pk for h in search_run(
                actor=clerk, ledger=people, screen_code="past", criteria={"name": term},
                page=page, page_size=2,
            ).hits]
            for page in (1, 2, 3, 4)
        ]  # fmt: skip

    everything = pages(10_000)  # the window holds the whole ledger
    assert pages(2) == everything
    assert pages(5) == everything
    assert any(everything)


@pytest.mark.parametrize("screen", ["latest", "past"])
def test_the_audit_event_lists_the_page_shown_in_order(
    clerk: Any, people: Ledger, screen: str
) -> None:
    from ledgers.audit.models import AuditEvent

    for given in ["一", "二", "三"]:
        record_create(actor=clerk, ledger=people, values={"name": _name(f"山田 {given}", "")})
    result = search_run(
        actor=clerk, ledger=people, screen_code=screen, criteria={"name": "山田"}, reason="確認",
        page=1, page_size=2,
    )  # fmt: skip
    assert result.has_next
    event = AuditEvent.objects.filter(action="search.run").latest("seq")
    assert event.details["results"] == [str(hit.record.pk) for hit in result.hits]
    assert len(event.details["results"]) == 2
    assert (event.details["screen"], event.details["reason"], event.actor_id) == (
        screen,
        "確認",
        clerk.pk,
    )
