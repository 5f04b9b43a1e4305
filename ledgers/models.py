"""Models of the ledger engine; each concept keeps its own in its sub-package."""

from ledgers.access.models import BreakGlassAccess, Capability, Grant
from ledgers.api.idempotency.models import IdempotentRequest
from ledgers.api.tokens.models import ApiToken
from ledgers.audit.models import AuditEvent
from ledgers.definitions.models import Ledger, LedgerVersion, Sensitivity
from ledgers.records.models import Record, RecordVersion
from ledgers.search.models import SearchValue
from ledgers.webhooks.models import WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiToken",
    "AuditEvent",
    "BreakGlassAccess",
    "Capability",
    "Grant",
    "IdempotentRequest",
    "Ledger",
    "LedgerVersion",
    "Record",
    "RecordVersion",
    "SearchValue",
    "Sensitivity",
    "WebhookDelivery",
    "WebhookSubscription",
]
