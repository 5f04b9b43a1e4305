"""Grants: which department (or role) may do what with a ledger, up to which sensitivity."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from daicho.accounts.models import Department, Role
from ledgers.definitions.models import Ledger, Sensitivity


class Capability(models.TextChoices):
    VIEW = "view", "閲覧"
    SEARCH = "search", "検索"
    CREATE = "create", "登録"
    UPDATE = "update", "変更"
    DELETE = "delete", "削除"
    EXPORT = "export", "出力"
    IMPORT = "import", "取込"
    PRINT = "print", "印刷"
    DESIGN = "design", "設計"
    AUDIT = "audit", "監査"


class Grant(models.Model):
    """Capabilities on one ledger for a department, a role, or a role within a department.

    Fields whose sensitivity is above ``clearance`` are masked for those it applies to
    (a grant with a read capability); with ``create`` (``import``) a new record they write
    may hold fields up to it (``ledgers.access.policy.LedgerPolicy.write_clearance``).

    ``search_screens``: the codes of the search screens its ``search`` runs (a 窓口 that
    checks whether a requester is a registered perpetrator runs 加害者検索 only, never
    本人検索); ``None`` for every screen of the ledger.
    """

    ledger = models.ForeignKey(Ledger, on_delete=models.CASCADE, related_name="grants")
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    role = models.CharField("役割", max_length=16, choices=Role.choices, blank=True, default="")
    capabilities = ArrayField(
        models.CharField(max_length=16, choices=Capability.choices),
        verbose_name="権限",
        default=list,
    )
    clearance = models.CharField(
        "閲覧できる機密区分",
        max_length=16,
        choices=Sensitivity.choices,
        default=Sensitivity.INTERNAL,
    )
    search_screens = ArrayField(
        models.CharField(max_length=64),
        verbose_name="実行できる検索画面",
        null=True,
        blank=True,
        default=None,
    )
    created_at = models.DateTimeField("作成日時", auto_now_add=True)

    class Meta:
        verbose_name = "権限付与"
        verbose_name_plural = "権限付与"
        constraints = [
            models.CheckConstraint(
                condition=Q(department__isnull=False) | ~Q(role=""), name="grant_has_a_subject"
            ),
            models.UniqueConstraint(
                fields=["ledger", "department", "role"], name="grant_unique_subject",
                nulls_distinct=False,
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.ledger_id}: {self.department_id or '*'}/{self.role or '*'}"


class BreakGlassAccess(models.Model):
    """A record opened outside the actor's grants, with a written reason (緊急閲覧).

    Allowed, flagged and audited; an auditor approves or questions it afterwards.
    """

    class Review(models.TextChoices):
        PENDING = "pending", "未確認"
        APPROVED = "approved", "承認"
        QUESTIONED = "questioned", "要確認"

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+")
    record_id = models.UUIDField("記録ID")
    reason = models.TextField("理由")
    at = models.DateTimeField("日時", auto_now_add=True)
    review = models.CharField("確認", max_length=16, choices=Review.choices, default=Review.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField("確認日時", null=True, blank=True)
    review_note = models.TextField("確認メモ", blank=True)

    class Meta:
        verbose_name = "緊急閲覧"
        verbose_name_plural = "緊急閲覧"
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.actor_id} → {self.record_id}"
