"""Audit events: one row per write and per read of personal data, in the city's schema."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Something a person (or a system) did, kept for ever.

    ``seq`` orders a city's events; the access/audit layer chains them by hash. Details
    carry ids, screens, search terms and counts: this table is the one protected place
    that records who looked up whom.
    """

    seq = models.BigAutoField(primary_key=True)
    at = models.DateTimeField("日時", db_default=models.functions.Now())
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作者", null=True, blank=True,
        on_delete=models.PROTECT, related_name="+", db_constraint=False,
    )  # fmt: skip
    action = models.CharField("操作", max_length=64)
    ledger_code = models.CharField("台帳", max_length=64, blank=True, default="")
    record_id = models.UUIDField("記録ID", null=True, blank=True)
    generation = models.PositiveIntegerField("世代", null=True, blank=True)
    details = models.JSONField("詳細", default=dict, blank=True)

    class Meta:
        verbose_name = "監査ログ"
        verbose_name_plural = "監査ログ"
        indexes = [
            models.Index(fields=["record_id", "seq"], name="audit_record_idx"),
            models.Index(fields=["actor", "seq"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"
