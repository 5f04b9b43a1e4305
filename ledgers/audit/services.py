"""The one function every write and personal-data read calls to leave an audit event."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from daicho.tenancy.guard import require_tenant
from ledgers.audit.models import AuditEvent


@dataclass(frozen=True)
class AuditEntry:
    """One event to write; ``audit_record_many`` takes many at once (bulk paths)."""

    action: str
    ledger_code: str = ""
    record_id: uuid.UUID | None = None
    generation: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def audit_record(
    *,
    actor: Any,
    action: str,
    ledger_code: str = "",
    record_id: uuid.UUID | None = None,
    generation: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event in the current city's schema (inside the caller's transaction)."""
    require_tenant()
    return AuditEvent.objects.create(
        actor_id=getattr(actor, "pk", None),
        action=action,
        ledger_code=ledger_code,
        record_id=record_id,
        generation=generation,
        details=dict(details or {}),
    )


def audit_record_many(*, actor: Any, entries: Iterable[AuditEntry]) -> int:
    """Write many events in one statement; returns how many were written."""
    require_tenant()
    actor_id = getattr(actor, "pk", None)
    rows = [
        AuditEvent(
            actor_id=actor_id, action=e.action, ledger_code=e.ledger_code,
            record_id=e.record_id, generation=e.generation, details=dict(e.details),
        )
        for e in entries
    ]  # fmt: skip
    AuditEvent.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
