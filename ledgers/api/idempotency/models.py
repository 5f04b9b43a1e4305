"""Writes sent with an ``Idempotency-Key``: what each one did, for its retries."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotentRequest(models.Model):
    """One create (single or bulk) sent with an ``Idempotency-Key`` header, kept for
    ``API_IDEMPOTENCY_HOURS``: a retry with the same key answers what it did instead of
    creating again.

    Keyed per staff account (every token of the account shares its keys) in the city's
    schema. It keeps the request's method and path, a SHA-256 of its body, and its outcome
    as ids and generations, never values: a replay reads the record anew through the
    caller's policy. Written in the same transaction as the records, so a failed or
    refused write leaves no key behind and its retry runs again.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField("キー", max_length=255)
    target = models.CharField("要求", max_length=300)
    body_sha256 = models.CharField("本文のハッシュ", max_length=64)
    created_at = models.DateTimeField("受付日時")
    status = models.PositiveSmallIntegerField("応答", null=True)
    result = models.JSONField("結果", null=True)

    class Meta:
        verbose_name = "再送防止キー"
        verbose_name_plural = "再送防止キー"
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotent_request_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotent_request_created")]

    def __str__(self) -> str:
        return f"{self.target} ({self.user_id})"
