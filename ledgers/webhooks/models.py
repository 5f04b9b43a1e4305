"""Webhooks: a city's subscriptions of URLs to a ledger's record events, and each delivery.

A subscription names an owner, a staff member whose grants decide what a payload shows:
payloads are built at send time through the owner's policy, so a delivery row never holds
record values (``payload`` keeps the envelope: event, ledger, record id, generation).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from ledgers.definitions.models import Ledger


class WebhookEvent(models.TextChoices):
    RECORD_CREATED = "record.created", "記録の登録"
    RECORD_UPDATED = "record.updated", "記録の変更"
    RECORD_DELETED = "record.deleted", "記録の削除"
    RECORD_RESTORED = "record.restored", "記録の復元"
    RECORD_WORKFLOW_CHANGED = "record.workflow_changed", "記録の状態（ワークフロー）の変更"


class WebhookSubscription(models.Model):
    """A URL that receives some events of one ledger (Webhook の送信先).

    ``secret`` signs every delivery (HMAC-SHA256). It is kept as is because signing needs
    it, shown once when the subscription is created, and never returned afterwards.
    ``failure_count`` counts consecutive dead deliveries; at ``WEBHOOK_DISABLE_AFTER`` the
    subscription is switched off (``disabled_at``) until a ledger administrator enables it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ledger = models.ForeignKey(
        Ledger, verbose_name="台帳", on_delete=models.PROTECT, related_name="+"
    )
    url = models.URLField("送信先 URL", max_length=2000)
    events = ArrayField(
        models.CharField(max_length=32, choices=WebhookEvent.choices), verbose_name="イベント"
    )
    description = models.CharField("説明", max_length=200, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="権限の名義人", on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    secret = models.CharField("署名の鍵", max_length=128, editable=False)
    active = models.BooleanField("有効", default=True)
    failure_count = models.PositiveIntegerField("連続した配信失敗", default=0)
    disabled_at = models.DateTimeField("停止日時", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="作成者", null=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    #: Not stored: the secret the change that returned this instance issued
    #: (``webhook_subscription_update``: a new URL or ``rotate_secret``), for its caller to
    #: show once; None for any other change, and on a subscription read.
    issued_secret: str | None = None

    class Meta:
        verbose_name = "Webhook"
        verbose_name_plural = "Webhook"
        indexes = [
            # Every record write asks for the active subscriptions of its ledger.
            models.Index(
                fields=["ledger"], condition=Q(active=True), name="webhook_sub_active_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Webhook {self.id} ({self.ledger_id})"


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one subscription, with the receiver's answers.

    ``pending``: not tried yet; ``failed``: the last try failed and another is due at
    ``next_attempt_at``; ``succeeded``: a 2xx answer; ``dead``: every try failed;
    ``withheld``: not sent, since the owner could not see the record when it was due (a
    department the record is closed to must not learn that it exists, nor when it changes).
    ``dispatched_until``: handed to the queue or being sent (``ledgers.webhooks.dispatch``),
    and not handed out again, until then; a delivery whose worker died goes again after it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "送信待ち"
        SUCCEEDED = "succeeded", "成功"
        FAILED = "failed", "再送待ち"
        DEAD = "dead", "失敗（再送終了）"
        WITHHELD = "withheld", "送信せず（名義人が閲覧できない記録）"

    OPEN = (Status.PENDING, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by webhook_delivery_sub_idx (subscription, -created_at).
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event = models.CharField("イベント", max_length=32, choices=WebhookEvent.choices)
    record_id = models.UUIDField("記録ID")
    generation = models.PositiveIntegerField("世代")
    # The envelope only (ids); record values are never stored here.
    payload = models.JSONField("送信内容（ID のみ）", default=dict)
    attempts = models.PositiveSmallIntegerField("試行回数", default=0)
    status = models.CharField("状態", max_length=16, choices=Status.choices, default=Status.PENDING)
    response_status = models.PositiveSmallIntegerField("応答の HTTP ステータス", null=True)
    error = models.TextField("エラー", blank=True, default="")
    next_attempt_at = models.DateTimeField("次の送信予定", null=True)
    dispatched_until = models.DateTimeField("送信処理の期限", null=True)
    created_at = models.DateTimeField("作成日時")
    delivered_at = models.DateTimeField("配信日時", null=True)

    class Meta:
        verbose_name = "Webhook の配信"
        verbose_name_plural = "Webhook の配信"
        indexes = [
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_sub_idx"),
            # The city's dispatch reads each subscription's due deliveries, oldest first
            # (ledgers/webhooks/dispatch.py): open rows only, a paused one's apart.
            models.Index(
                fields=["subscription", "next_attempt_at"],
                condition=Q(status__in=["pending", "failed"]),
                name="webhook_delivery_open_sub_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.record_id} 第{self.generation}世代 → {self.subscription_id}"
