"""Audit anchors: each city's audit chain head, copied daily into the public schema.

A city's audit trail lives in its own schema; an anchor is the chain head (position,
hash, count) written outside it: the public schema and object storage. It protects
against a rewrite of the city's schema by anyone who cannot also write there; in the
shipped deployment the application's one role can write the public rows (docs/audit.md,
"What the triggers do not stop"). The daily files can be put out of its reach with S3
Object Lock (``AUDIT_ANCHOR_LOCK_DAYS``, ``ledgers.audit.anchor_files``), and verify
compares every one of them.
A chain that was rewritten end to end inside the city schema still differs from the
anchors at their positions (``ledgers.audit.services.audit_verify``). Insert-only: the
database refuses UPDATE, DELETE and TRUNCATE (trigger in ``0002_database_rules``).

The model lives outside ``tenants/models.py``; ``ledgers.audit.models`` imports it so that
it is registered whenever the apps load.
"""

from __future__ import annotations

from django.db import models


class AuditAnchor(models.Model):
    """One city's audit chain head at one moment (監査ログの連鎖の先頭の控え)."""

    municipality = models.ForeignKey(
        "tenants.Municipality", verbose_name="自治体", on_delete=models.PROTECT,
        related_name="audit_anchors",
    )  # fmt: skip
    position = models.BigIntegerField("連鎖位置", help_text="先頭の封印の位置（封印済み件数）")
    head_seq = models.BigIntegerField("先頭の監査ログ番号", null=True, blank=True)
    head_hash = models.CharField("先頭ハッシュ", max_length=64, help_text="SHA-256（16進）")
    sealed_events = models.BigIntegerField("封印済み件数")
    anchored_at = models.DateTimeField("控えの日時", db_default=models.functions.Now())
    storage_name = models.CharField("オブジェクトストレージの控え", max_length=255, blank=True)

    class Meta:
        app_label = "tenants"
        verbose_name = "監査ログの控え"
        verbose_name_plural = "監査ログの控え"
        indexes = [
            models.Index(fields=["municipality", "position"], name="audit_anchor_city_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.municipality_id}@{self.position} {self.head_hash[:12]}"
