"""Reads of webhook subscriptions and deliveries."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from daicho.tenancy.guard import require_tenant
from ledgers.access.policy import LedgerPolicy
from ledgers.definitions.models import Ledger
from ledgers.records.models import Record
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
    *, subscription: WebhookSubscription, reader: LedgerPolicy, status: str | None = None
) -> QuerySet[WebhookDelivery]:
    """The subscription's deliveries that ``reader`` may know of, newest first (optionally
    of one status): those of records the reader may view (``LedgerPolicy.viewing``, as the
    records list and a read by id). A delivery names its record, its event (a deletion)
    and generation; for a record the API answers the reader 404, that told what the 404
    hides, a record reached only through a department that may search it included."""
    require_tenant()
    visible = reader.viewing().records(Record.objects.filter(ledger_id=subscription.ledger_id))
    deliveries = WebhookDelivery.objects.filter(
        subscription=subscription, record_id__in=visible.values("pk")
    )
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-created_at", "-id")
