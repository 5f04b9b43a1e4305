"""Reads of records and their generations. Output paths apply the access policy on top."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from ledgers.exceptions import VersionNotFound
from ledgers.records.models import Record, RecordVersion, values_diff


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
