"""The values a record held in a searchable field and no longer holds, for 本人検索(過去).

A search over every generation is the current index (``Record.search_keys``) plus this
table. Most changes leave names alone, so instead of indexing every snapshot a value gets a
row only when a change removes it: one row per (record, field, normalised value) with the
last generation that held it, so a search over all generations answers "found in generation
1, field 氏名". Registering a record writes nothing here, and a change writes only what it
replaced (a status moving on, a surname changed by marriage).
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
    # search_value_unique (record, path, value) serves the record's values.
    record = models.ForeignKey(
        Record, on_delete=models.CASCADE, related_name="search_values", db_index=False
    )
    path = models.CharField("項目", max_length=130)
    value = models.TextField("正規化値")
    keys = ArrayField(models.IntegerField(), verbose_name="検索キー", default=list)
    # The last generation that held the value (a value that comes back and leaves again
    # moves this forward).
    generation = models.PositiveIntegerField("最後に保持した世代")

    class Meta:
        verbose_name = "検索値（過去の世代）"
        verbose_name_plural = "検索値（過去の世代）"
        constraints = [
            models.UniqueConstraint(fields=["record", "path", "value"], name="search_value_unique")
        ]
        indexes = [GinIndex(fields=["keys"], name="search_value_keys_gin")]

    def __str__(self) -> str:
        return f"{self.record_id} {self.path} 第{self.generation}世代まで"
