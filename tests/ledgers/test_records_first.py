"""``records_first``: the first page of an ordered list and its count, in either form,
equal to what the ORM's own page and ``count()`` give."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from ledgers.definitions.models import Ledger
from ledgers.records.models import Record
from ledgers.records.selectors import records_first, stale_statistics, statistics_stale
from ledgers.records.services import record_bulk_create, record_delete
from ledgers.search.query import contains_filter


@pytest.fixture
def filled(ledger: Ledger, clerk: Any) -> Ledger:
    created = record_bulk_create(
        actor=clerk, ledger=ledger,
        values_list=[{"name": f"{'佐藤' if i % 3 else '鈴木'} {i}", "amount": i} for i in range(40)],
    )  # fmt: skip
    record_delete(actor=clerk, record=Record.objects.get(pk=created[4][0]), reason="誤登録")
    # Distinct times, so that the order is the same in every form.
    for position, (record_id, _) in enumerate(created):
        Record.objects.filter(pk=record_id).update(
            updated_at=Record.objects.get(pk=record_id).created_at.replace(second=position % 60)
        )
    return ledger


@pytest.mark.parametrize("one_pass", [True, False])
@pytest.mark.parametrize("limit", [1, 5, 26, 100])
@pytest.mark.parametrize("term", ["佐藤", "鈴木", "山田", None])
def test_either_form_is_the_orm_s_page_and_count(
    filled: Ledger, one_pass: bool, limit: int, term: str | None
) -> None:
    queryset = Record.objects.filter(ledger=filled, deleted_at__isnull=True).defer(
        "search_keys", "search_text"
    )
    if term:
        queryset = queryset.filter(contains_filter(filled, "name", term))
    queryset = queryset.order_by("-updated_at")
    expected = list(queryset[:limit])
    records, total = records_first(queryset, limit, count=True, one_pass=one_pass)
    assert [r.pk for r in records] == [r.pk for r in expected]
    assert [(r.data, r.generation, r.updated_at) for r in records] == [
        (r.data, r.generation, r.updated_at) for r in expected
    ]
    assert total == queryset.count()
    assert records_first(queryset, limit)[0] == records
    assert records_first(queryset, limit) == (records, None)
    assert all("search_text" in r.get_deferred_fields() for r in records)


def test_no_match_and_no_visibility_count_nothing(filled: Ledger) -> None:
    queryset = Record.objects.filter(ledger=filled).order_by("-updated_at")
    for one_pass in (True, False):
        assert records_first(queryset.none(), 5, count=True, one_pass=one_pass) == ([], 0)
        empty = queryset.filter(contains_filter(filled, "name", "存在しない名前"))
        assert records_first(empty, 5, count=True, one_pass=one_pass) == ([], 0)
    with pytest.raises(ValueError, match="ordered"):
        records_first(queryset.order_by(), 5)


@pytest.mark.parametrize(
    ("reltuples", "live", "stale"),
    [(-1, 0, True), (-1, 50_000, True), (0, 500, False), (0, 1_001, True),
     (20_000, 20_500, False), (20_000, 31_000, False), (20_000, 31_001, True)],
)  # fmt: skip
def test_the_statistics_are_stale_when_most_rows_came_after_the_last_analyse(
    reltuples: float, live: int, stale: bool
) -> None:
    assert stale_statistics(reltuples, live) is stale


def test_an_analysed_table_has_fresh_statistics(filled: Ledger) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledgers_record")
    assert statistics_stale() is False


@pytest.mark.parametrize("one_pass", [True, False])
def test_ties_in_time_follow_the_id_as_the_orm_orders_them(
    ledger: Ledger, clerk: Any, one_pass: bool
) -> None:
    """One bulk request's records share their update time; ordered by time and id, either
    form gives the ORM's rows in the ORM's order."""
    created = record_bulk_create(
        actor=clerk, ledger=ledger, values_list=[{"name": f"同時 {i}"} for i in range(30)]
    )
    times = list(
        Record.objects.filter(pk__in=[i for i, _ in created])
        .order_by("created_at")
        .values_list("updated_at", flat=True)
    )
    # A bulk create's records are a microsecond apart; a bulk update gives them one time.
    assert all(b - a == timedelta(microseconds=1) for a, b in itertools.pairwise(times))
    Record.objects.filter(ledger=ledger).update(updated_at=times[0])
    queryset = Record.objects.filter(ledger=ledger).order_by("-updated_at", "-id")
    for limit in (1, 7, 30, 31):
        records, total = records_first(queryset, limit, count=True, one_pass=one_pass)
        assert [r.pk for r in records] == list(queryset.values_list("pk", flat=True)[:limit])
        assert total == 30


@pytest.mark.parametrize("term", ["佐藤", None])
def test_one_pass_filters_on_the_ledger_where_search_keys_narrow(
    filled: Ledger, term: str | None
) -> None:
    """Without planner statistics the one-pass form's ledger condition is a filter when a
    search-keys condition narrows the matches (the keys name their ledger; the ledger
    index's bitmap of every record cost ~0.6 ms a list), an index condition otherwise; the
    other form keeps it an index condition (it walks that index for the page)."""
    from django.test.utils import CaptureQueriesContext

    queryset = Record.objects.filter(ledger=filled, deleted_at__isnull=True)
    if term:
        queryset = queryset.filter(contains_filter(filled, "name", term))
    queryset = queryset.order_by("-updated_at")
    for one_pass in (True, False):
        with CaptureQueriesContext(connection) as captured:
            _records, total = records_first(queryset, 5, count=True, one_pass=one_pass)
        assert total == queryset.count()
        (statement,) = [q["sql"] for q in captured.captured_queries]
        filtered = f'"ledgers_record"."ledger_id" + 0 = {filled.pk}' in statement
        assert filtered is (one_pass and term is not None), statement
        assert f'"ledgers_record"."ledger_id" = {filled.pk}' in statement or filtered
