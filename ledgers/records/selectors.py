"""Reads of records and their generations. Output paths apply the access policy on top."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, QuerySet, Window

from daicho.caching import LocalCache
from ledgers.exceptions import VersionNotFound
from ledgers.records.models import Record, RecordVersion, values_diff
from ledgers.records.rows import has_plan, records_from_rows


def record_versions(*, record: Record) -> QuerySet[RecordVersion]:
    """Every generation of a record, oldest first (履歴一覧)."""
    return RecordVersion.objects.filter(record=record).order_by("generation")


def record_get_version(*, record: Record, generation: int) -> RecordVersion:
    """The snapshot of one generation (raises ``VersionNotFound``)."""
    try:
        return RecordVersion.objects.get(record=record, generation=generation)
    except RecordVersion.DoesNotExist:
        raise VersionNotFound(generation) from None


#: Generations a diff reads at a time (``record_values_between``).
VALUES_CHUNK = 25


def record_values_between(*, record: Record, first: int, last: int) -> Iterator[dict[str, Any]]:
    """The values of every generation from ``first`` to ``last`` (either order), oldest
    first: what a diff needs to tell whether a value changed anywhere between the two.
    Read ``VALUES_CHUNK`` generations at a time, for one pass: the diff of the first and
    the last generation of a record a robot changes every day held thousands of snapshots
    in memory at once."""
    low, high = min(first, last), max(first, last)
    return (
        RecordVersion.objects.filter(record=record, generation__range=(low, high))
        .order_by("generation")
        .values_list("data", flat=True)
        .iterator(chunk_size=VALUES_CHUNK)
    )


def record_as_of(*, record: Record, at: datetime) -> RecordVersion | None:
    """The generation that was current at ``at``; ``None`` before the record existed."""
    return RecordVersion.objects.filter(record=record, at__lte=at).order_by("-generation").first()


def record_diff(
    *, record: Record, from_generation: int, to_generation: int
) -> dict[str, dict[str, Any]]:
    """What changed between two generations: ``{key: {"from": …, "to": …}}``."""
    older = record_get_version(record=record, generation=from_generation)
    newer = record_get_version(record=record, generation=to_generation)
    return {
        key: {"from": pair[0], "to": pair[1]}
        for key, pair in values_diff(older.data, newer.data).items()
    }


def version_definition(*, version: RecordVersion) -> dict[str, Any]:
    """The ledger definition a generation was written under (to render it as it was)."""
    return version.record.ledger.versions.get(version=version.definition_version).definition


#: Whether the records table's planner statistics cover most of its rows, per city: a
#: time-to-live entry only (no writer bumps a counter for it; generation 0 throughout).
_statistics = LocalCache("record-statistics", ttl=30.0)


def statistics_stale() -> bool:
    """Whether the planner lacks statistics for much of the city's records table: never
    analysed, or grown by half since (a large import, before autovacuum's analyse).

    Then it estimates every search as a few rows and scans the matches by bitmap for the
    page and for the count alike. Read from the catalogue at most every 30 s per process.
    """
    schema = connection.schema_name
    stale = _statistics.get(schema, 0)
    if stale is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.reltuples, s.n_live_tup FROM pg_class c"
                " JOIN pg_stat_user_tables s ON s.relid = c.oid"
                " WHERE c.oid = to_regclass('ledgers_record')"
            )
            row = cursor.fetchone()
        stale = row is not None and stale_statistics(row[0], row[1])
        _statistics.put(schema, 0, stale)
    return bool(stale)


def stale_statistics(reltuples: float, live_rows: int) -> bool:
    """The rule of ``statistics_stale``: never analysed (``reltuples`` is -1), or more than
    half as many rows again as the last analyse counted (and a thousand more)."""
    return reltuples < 0 or live_rows > 1.5 * reltuples + 1000


# The one-pass form's ledger condition when a search-keys condition narrows the matches:
# a filter, not an index condition. Without planner statistics (when one pass is chosen)
# the planner takes ``ledger_id = …`` for a few rows and ANDs the ``(ledger, updated_at)``
# index's bitmap of every record of the ledger with the GIN index's, which the keys (each
# names its ledger) already confine to the ledger: in-process, name-contains lists of
# 20,000 records right after their load (300 each way, alternating, two runs), p50 7.92 /
# 7.52 → 7.19 / 6.71 ms, p95 10.12 / 9.14 → 9.15 / 8.47 (docs/benchmarks.md). The
# condition stays, as a filter: two ledgers' keys may share a hash.
_KEYS_CONDITION = '"ledgers_record"."search_keys" @>'
_LEDGER_CONDITION = '"ledgers_record"."ledger_id" = %s'
_LEDGER_FILTER = '"ledgers_record"."ledger_id" + 0 = %s'


def records_first(
    queryset: QuerySet[Record], limit: int, *, count: bool = False, one_pass: bool | None = None
) -> tuple[list[Record], int | None]:
    """The first ``limit`` records of the ordered ``queryset`` and, with ``count``, how many
    it holds in all, by one statement: the matches' ids and ordering columns sorted first,
    then only the chosen rows read whole.

    Sorting whole rows cost a list right after an import (no planner statistics yet, the
    matches taken by a bitmap scan and sorted) 2.3 against 1.6 ms of PostgreSQL for 2,005
    matches. The count comes with the page, in one of two forms (measured 2026-11-29; a
    separate ``COUNT`` statement, with its round trip and query build, took a
    name-contains list from 6.0–6.4 to 7.8–9.8 ms, p50 over 20,000 records):

    - a scalar subquery beside the page, planned on its own: with statistics the page
      walks the ``(ledger, updated_at)`` index until it has its rows, the count takes the
      GIN bitmap, or parallel workers for large results;
    - one pass (``count(*) OVER ()`` over the matches, then the page): while the
      statistics are stale (``statistics_stale``) the planner would scan the matches by
      bitmap twice (5.2 against 3.0–3.7 ms for 2,005 matches); with them, one pass lost on
      large results (no parallel workers, every match buffered: 108 against 66 ms over
      100,000 matching records). With a search-keys condition its ledger condition is a
      filter only (``_LEDGER_FILTER``).

    ``one_pass`` forces a form (tests); by default the statistics choose.
    """
    ordering = [str(name) for name in queryset.query.order_by]
    if not ordering:
        raise ValueError("records_first needs an ordered query set")
    order_columns = [name.lstrip("-") for name in ordering]
    narrow_columns = ["id", *(column for column in order_columns if column != "id")]
    if one_pass is None:
        one_pass = count and statistics_stale()
    quote = connection.ops.quote_name

    def order(alias: str) -> str:
        return ", ".join(
            f"{alias}.{quote(Record._meta.get_field(column).column)}"
            f"{' DESC' if name.startswith('-') else ''}"
            for name, column in zip(ordering, order_columns, strict=True)
        )

    try:
        if count and one_pass:
            matches, params = (
                queryset.order_by()
                .annotate(_total=Window(Count("*")))
                .values_list(*narrow_columns, "_total")
                .query.sql_with_params()
            )
            if _KEYS_CONDITION in matches:
                matches = matches.replace(_LEDGER_CONDITION, _LEDGER_FILTER, 1)
            inner = f"SELECT * FROM ({matches}) m ORDER BY {order('m')} LIMIT {int(limit)}"  # noqa: S608
            total = ", n._total"
        elif count:
            # The matches compiled once, for the page and for its count: PostgreSQL pulls
            # the plain subquery up, so the page is planned as the ordered query itself.
            matches, params = (
                queryset.order_by().values_list(*narrow_columns).query.sql_with_params()
            )
            inner = f"SELECT * FROM ({matches}) m ORDER BY {order('m')} LIMIT {int(limit)}"  # noqa: S608
            total = f", (SELECT count(*) FROM ({matches}) c) AS _total"  # noqa: S608
            params = (*params, *params)
        else:
            inner, params = queryset.values_list(*narrow_columns)[:limit].query.sql_with_params()
            total = ""
    except EmptyResultSet:
        return [], 0 if count else None
    names, deferring = queryset.query.deferred_loading
    fields = [
        f for f in Record._meta.concrete_fields
        if f.primary_key or ((f.attname not in names) if deferring else (f.attname in names))
    ]  # fmt: skip
    columns = ", ".join(f"r.{quote(f.column)}" for f in fields)
    sql = (
        f"SELECT {columns}{total} FROM ({inner}) n"  # noqa: S608 (the ORM's own SQL)
        f" JOIN {quote(Record._meta.db_table)} r ON r.id = n.id ORDER BY {order('n')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        described = None if has_plan(sql) else [c.name for c in cursor.description]
    if not count:
        return records_from_rows(sql, rows, described), None
    if not rows:
        return [], 0
    records = records_from_rows(sql, [row[:-1] for row in rows], described and described[:-1])
    return records, rows[0][-1]
