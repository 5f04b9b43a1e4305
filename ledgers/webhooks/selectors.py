"""Reads of webhook subscriptions and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from daicho.tenancy.guard import require_tenant
from ledgers.definitions.models import Ledger
from ledgers.webhooks.exceptions import WebhookNotFound
from ledgers.webhooks.models import WebhookDelivery, WebhookSubscription


def webhook_subscriptions(*, ledger: Ledger) -> QuerySet[WebhookSubscription]:
    """The ledger's subscriptions, oldest first."""
    require_tenant()
    return (
        WebhookSubscription.objects.filter(ledger=ledger)
        .select_related("owner", "ledger")
        .order_by("created_at", "id")
    )


def webhook_subscription_get(*, ledger: Ledger, subscription_id: Any) -> WebhookSubscription:
    """One subscription of the ledger; ``WebhookNotFound`` for any other id (or a malformed one)."""
    try:
        return webhook_subscriptions(ledger=ledger).get(pk=subscription_id)
    except (WebhookSubscription.DoesNotExist, ValueError, TypeError, ValidationError):
        raise WebhookNotFound() from None


def webhook_deliveries(
    *, subscription: WebhookSubscription, status: str | None = None
) -> QuerySet[WebhookDelivery]:
    """The subscription's deliveries, newest first (optionally of one status)."""
    require_tenant()
    deliveries = WebhookDelivery.objects.filter(subscription=subscription)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-created_at", "-id")


def webhook_deliveries_due(*, before: datetime, limit: int = 1000) -> list[tuple[str, int]]:
    """``(delivery id, attempts so far)`` of open deliveries of active subscriptions due before ``before``."""
    require_tenant()
    rows = (
        WebhookDelivery.objects.filter(
            status__in=WebhookDelivery.OPEN,
            next_attempt_at__lte=before,
            subscription__active=True,
        )
        .order_by("next_attempt_at")
        .values_list("id", "attempts")[:limit]
    )
    return [(str(delivery_id), attempts) for delivery_id, attempts in rows]


def webhook_open_deliveries(*, subscription: WebhookSubscription) -> list[tuple[str, int]]:
    """``(delivery id, attempts so far)`` of the subscription's deliveries still to be sent."""
    rows = WebhookDelivery.objects.filter(
        subscription=subscription, status__in=WebhookDelivery.OPEN
    ).values_list("id", "attempts")
    return [(str(delivery_id), attempts) for delivery_id, attempts in rows]
