"""Every value a record has ever held in a searchable field, for 本人検索(過去).

Most changes leave names alone, so instead of indexing every snapshot this keeps one row per
(record, field, normalised value) with the first and last generation that held it: a search
over all generations answers "found in generation 1, field 氏名" from here.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from ledgers.definitions.models import Ledger
from ledgers.records.models import Record


class SearchValue(models.Model):
    id = models.BigAutoField(primary_key=True)
    ledger = models.ForeignKey(
        Ledger, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="search_values")
    path = models.CharField("項目", max_length=130)
    value = models.TextField("正規化値")
    keys = ArrayField(models.TextField(), verbose_name="検索キー", default=list)
    first_generation = models.PositiveIntegerField("最初の世代")
    last_generation = models.PositiveIntegerField("最後の世代")

    class Meta:
        verbose_name = "検索値（全世代）"
        verbose_name_plural = "検索値（全世代）"
        constraints = [
            models.UniqueConstraint(fields=["record", "path", "value"], name="search_value_unique")
        ]
        indexes = [GinIndex(fields=["keys"], name="search_value_keys_gin")]

    def __str__(self) -> str:
        return f"{self.record_id} {self.path} 第{self.first_generation}〜{self.last_generation}世代"
