"""Reads of records and their generations. Output paths apply the access policy on top."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, QuerySet, Window

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


def records_page_counted(queryset: QuerySet[Record], limit: int) -> tuple[list[Record], int]:
    """The first ``limit`` records of the ordered ``queryset`` and how many it holds in
    all, from one pass over the matches.

    A list that shows its total must visit every match (a "contains" filter rechecks each
    one's text), so the page comes out of the same pass: the matches' ids and ordering
    columns with a window count, the first ``limit`` joined back to their rows. A page
    query and then a count visited the matches twice, and without planner statistics
    (right after an import) the page query sorted every whole matching row.
    """
    ordering = [str(name) for name in queryset.query.order_by]
    if not ordering:
        raise ValueError("records_page_counted needs an ordered query set")
    order_columns = [name.lstrip("-") for name in ordering]
    # The window is counted over the matches without an order: ordered, the planner would
    # walk the (ledger, updated_at) index for the LIMIT through every row of the ledger,
    # though the count must see all of them first.
    narrow = (
        queryset.order_by()
        .annotate(_total=Window(Count("*")))
        .values_list("id", *order_columns, "_total")
    )
    try:
        inner, params = narrow.query.sql_with_params()
    except EmptyResultSet:
        return [], 0
    names, deferring = queryset.query.deferred_loading
    fields = [
        f for f in Record._meta.concrete_fields
        if f.primary_key or ((f.attname not in names) if deferring else (f.attname in names))
    ]  # fmt: skip
    quote = connection.ops.quote_name
    columns = ", ".join(f"r.{quote(f.column)}" for f in fields)

    def order(alias: str) -> str:
        return ", ".join(
            f"{alias}.{quote(Record._meta.get_field(column).column)}"
            f"{' DESC' if name.startswith('-') else ''}"
            for name, column in zip(ordering, order_columns, strict=True)
        )

    sql = (
        f"SELECT {columns}, n._total FROM (SELECT * FROM ({inner}) m"  # noqa: S608 (the ORM's)
        f" ORDER BY {order('m')} LIMIT %s) n JOIN {quote(Record._meta.db_table)} r"
        f" ON r.id = n.id ORDER BY {order('n')}"
    )
    params = (*params, limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        described = None if has_plan(sql) else [c.name for c in cursor.description][:-1]
    if not rows:
        return [], 0
    return records_from_rows(sql, [row[:-1] for row in rows], described), rows[0][-1]
