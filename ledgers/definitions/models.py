"""Ledgers (台帳) and their versioned definitions.

A ledger's definition — fields, form layout, search screens — is one JSON document. Every
change writes a new ``LedgerVersion`` holding the whole document, and every record version
names the definition version it was written under, so an old generation renders as it was.
Ledgers are rows: a city's schema has the same few tables whatever it defines.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

LEDGER_CODE_RE = r"^[a-z][a-z0-9_]{0,63}$"
FIELD_KEY_RE = r"^[a-z][a-z0-9_]{0,63}$"


class Sensitivity(models.TextChoices):
    """How sensitive a field (or a whole ledger) is; grants clear up to a level."""

    PUBLIC = "public", "公開"
    INTERNAL = "internal", "庁内"
    PERSONAL = "personal", "個人情報"
    SPECIAL_CARE = "special_care", "要配慮個人情報"

    @classmethod
    def rank(cls, value: str) -> int:
        """0 for public … 3 for special care; ValueError for an unknown level."""
        try:
            return _SENSITIVITY_RANK[value]
        except KeyError:
            raise ValueError(f"unknown sensitivity {value!r}") from None


# Masking asks this for every field of every record shown: a dict, not a scan of the enum.
_SENSITIVITY_RANK = {choice.value: index for index, choice in enumerate(Sensitivity)}


class Ledger(models.Model):
    """A kind of record a city keeps (DV等支援措置台帳, 補助金交付台帳 …)."""

    code = models.CharField(
        "台帳コード", max_length=64, unique=True,
        validators=[RegexValidator(LEDGER_CODE_RE, "台帳コードは英小文字で始まる英小文字・数字・_ にしてください。")],
    )  # fmt: skip
    name = models.CharField("台帳名", max_length=200)
    description = models.TextField("説明", blank=True)
    category = models.CharField("分野", max_length=100, blank=True)
    # None is 永年 (kept for ever).
    retention_years = models.PositiveSmallIntegerField("保存年限（年）", null=True, blank=True)
    sensitivity = models.CharField(
        "機密区分", max_length=16, choices=Sensitivity.choices, default=Sensitivity.PERSONAL
    )
    definition = models.JSONField("定義（現在）", default=dict)
    definition_version = models.PositiveIntegerField("定義の版", default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)

    class Meta:
        verbose_name = "台帳"
        verbose_name_plural = "台帳"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def retention_label(self) -> str:
        return "永年" if self.retention_years is None else f"{self.retention_years}年"

    def fields(self, *, include_removed: bool = False) -> list[dict[str, Any]]:
        """The current definition's fields, in order."""
        fields = self.definition.get("fields", [])
        return [f for f in fields if include_removed or not f.get("removed")]


class LedgerVersion(models.Model):
    """The whole definition as it was after one change; immutable."""

    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField("版")
    definition = models.JSONField("定義")
    change = models.CharField("変更内容", max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField("日時", auto_now_add=True)

    class Meta:
        verbose_name = "台帳定義の版"
        verbose_name_plural = "台帳定義の版"
        constraints = [
            models.UniqueConstraint(fields=["ledger", "version"], name="ledger_version_unique")
        ]
        ordering = ["ledger", "version"]

    def __str__(self) -> str:
        return f"{self.ledger_id} v{self.version}"
