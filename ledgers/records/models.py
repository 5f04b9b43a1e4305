"""Records and their generations (世代)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from ledgers.definitions.models import Ledger


class Record(models.Model):
    """One entry of a ledger, as it is now.

    ``data`` holds the current values by field key, validated by the field types;
    ``generation`` counts the changes (世代, from 1). History lives in ``RecordVersion``.
    Only ``ledgers.records.services`` writes this table.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Ledgers and accounts are never deleted (PROTECT in code, deactivation for staff), so
    # these references skip the database's per-insert foreign-key check and row lock: the
    # services are the only writers. Nor do they get an index of their own: the ledger is
    # the first column of record_ledger_updated_idx, and no query looks records up by who
    # wrote them; each index is one more entry (and page image in the WAL) on every write.
    ledger = models.ForeignKey(
        Ledger, on_delete=models.PROTECT, related_name="records", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    data = models.JSONField("値", default=dict)
    # The search index of the current values (ledgers.search.index): n-gram keys (stored as
    # integers, ledgers.search.keys.stored_key) under one GIN index, and the normalised
    # values per field for the recheck.
    search_keys = ArrayField(models.IntegerField(), verbose_name="検索キー", default=list)
    search_text = models.JSONField("検索用の正規化値", default=dict)
    generation = models.PositiveIntegerField("世代", default=1)
    definition_version = models.PositiveIntegerField("定義の版")
    state = models.CharField("状態", max_length=64, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    created_at = models.DateTimeField("登録日時")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    updated_at = models.DateTimeField("更新日時")
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    deleted_at = models.DateTimeField("削除日時", null=True, blank=True)
    deleted_reason = models.CharField("削除理由", max_length=500, blank=True, default="")

    class Meta:
        verbose_name = "記録"
        verbose_name_plural = "記録"
        indexes = [
            models.Index(fields=["ledger", "-updated_at"], name="record_ledger_updated_idx"),
            # A pending list of 1 MB (~500 records' keys) rather than 4 MB: the API's bulk
            # requests leave their entries to PostgreSQL's merge, and a list of 4 MB made
            # the planner of a table without statistics yet (right after a load) choose a
            # sequential scan for every search (84 ms against 22 ms); docs/ledger-engine.md.
            GinIndex(
                fields=["search_keys"], name="record_search_keys_gin", gin_pending_list_limit=1024
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ledger_id}:{self.id} 第{self.generation}世代"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class RecordVersion(models.Model):
    """An immutable full snapshot of a record after one change."""

    class Action(models.TextChoices):
        CREATE = "create", "登録"
        UPDATE = "update", "変更"
        DELETE = "delete", "削除"
        RESTORE = "restore", "復元"

    id = models.BigAutoField(primary_key=True)
    # No database constraint either: the services write a version in the same statement or
    # transaction as its record, and the constraint's deferred check cost every write a
    # lookup and a row lock of the record at commit (~7 µs per version, measured on the
    # bulk path). Records are never deleted (soft deletion keeps them). Its own index would
    # repeat the first column of record_version_generation_unique; the actor's, serve no query.
    record = models.ForeignKey(
        Record, on_delete=models.PROTECT, related_name="versions", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    generation = models.PositiveIntegerField("世代")
    action = models.CharField("操作", max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    at = models.DateTimeField("日時")
    reason = models.CharField("理由", max_length=500, blank=True, default="")
    definition_version = models.PositiveIntegerField("定義の版")
    data = models.JSONField("値")
    state = models.CharField("状態", max_length=64, blank=True, default="")
    deleted = models.BooleanField("削除済み", default=False)
    # {field key: [before, after]} against the previous generation; NULL for a create,
    # whose every value is new (its snapshot, not stored twice): read ``changes``.
    diff = models.JSONField("差分", null=True, blank=True, default=None)

    class Meta:
        verbose_name = "記録の世代"
        verbose_name_plural = "記録の世代"
        constraints = [
            models.UniqueConstraint(
                fields=["record", "generation"], name="record_version_generation_unique"
            )
        ]
        ordering = ["record", "generation"]

    def __str__(self) -> str:
        return f"{self.record_id} 第{self.generation}世代 ({self.action})"

    @property
    def changes(self) -> dict[str, list[Any]]:
        """``{field key: [before, after]}`` against the previous generation; a create's
        (not stored) is every value of its snapshot, each ``[None, value]``."""
        return values_diff({}, self.data) if self.diff is None else self.diff


def values_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{key: [before, after]}`` for every key whose value differs."""
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
