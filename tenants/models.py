"""Municipalities and their host names, in the public schema."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import ProtectedError, Q
from django_tenants.models import DomainMixin, TenantMixin

from tenants.codes import PREFECTURE_CHOICES, validate_municipality_code

# A schema name and the city's sub-domain: lowercase ASCII, starting with a letter.
SLUG_RE = r"^[a-z][a-z0-9_]{1,39}$"
slug_validator = RegexValidator(
    SLUG_RE, "スラッグは英小文字で始まる英小文字・数字・_ の2〜40文字にしてください。"
)


class Municipality(TenantMixin):
    """A city (自治体); its records live in the PostgreSQL schema ``schema_name``.

    The platform itself is the one row whose schema is ``public``; it has no code.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "利用中"
        SUSPENDED = "suspended", "停止中"

    name = models.CharField("自治体名", max_length=100)
    code = models.CharField(
        "全国地方公共団体コード",
        max_length=6,
        blank=True,
        validators=[validate_municipality_code],
        help_text="6桁（5桁＋検査数字）",
    )
    prefecture = models.CharField("都道府県", max_length=2, choices=PREFECTURE_CHOICES, blank=True)
    status = models.CharField("状態", max_length=16, choices=Status.choices, default=Status.ACTIVE)
    suspended_reason = models.CharField("停止理由", max_length=500, blank=True)
    status_changed_at = models.DateTimeField("状態変更日時", null=True, blank=True)
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    # What the operator typed at provisioning (public, as the rest of this row): a repeated
    # provisioning is compared with it, never with the city's own staff directory.
    admin_username = models.CharField("最初の管理者のユーザー名", max_length=150, blank=True)

    # Schemas are created by tenants.services.municipality_provision, in one transaction
    # with the rows and the first administrator: never implicitly on save().
    auto_create_schema = False
    auto_drop_schema = False

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        """Never: a city is suspended, not deleted (docs/operations.md).

        django-tenants' ``delete_tenant`` sets ``auto_drop_schema`` and calls this: it
        dropped the city's schema (its records, history and audit trail with its seals,
        committed at once and leaving no event), then failed on the city's audit anchors
        (``ProtectedError``) and left the row and its hosts pointing at no schema. Deleting
        the row alone would leave the schema with no city. Refused before either."""
        raise ProtectedError(
            f"自治体「{self.name}」（{self.schema_name}）は削除できません。記録・履歴・監査ログを"
            "失うためです。利用をやめるときは停止してください（docs/operations.md）。",
            {self},
        )

    class Meta:
        verbose_name = "自治体"
        verbose_name_plural = "自治体"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=~Q(code=""), name="municipality_code_unique"
            ),
            models.CheckConstraint(
                condition=Q(schema_name="public") | (~Q(code="") & ~Q(prefecture="")),
                name="municipality_code_required",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）" if self.code else self.name

    @property
    def slug(self) -> str:
        return self.schema_name

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED


class Domain(DomainMixin):
    """A host name that serves one municipality (or the platform's public host)."""

    class Meta:
        verbose_name = "ドメイン"
        verbose_name_plural = "ドメイン"

    def __str__(self) -> str:
        return self.domain


# The daily audit anchors are the tenants app's too (kept in their own module).
from tenants.anchors import AuditAnchor  # noqa: E402

__all__ = ["AuditAnchor", "Domain", "Municipality"]
