"""Formatting records for output: always through the caller's policy (masks applied)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from ledgers.access.policy import LedgerPolicy, policy_for
from ledgers.definitions.models import Ledger
from ledgers.exceptions import LedgerNotFound
from ledgers.records.models import Record, RecordVersion


def ledger_for(request: Request, code: str) -> tuple[Ledger, LedgerPolicy]:
    """The ledger and the caller's policy; a ledger the caller has no right on is 404."""
    ledger = Ledger.objects.filter(code=code).first()
    if ledger is None:
        raise LedgerNotFound("台帳が見つかりません。")
    policy = policy_for(request.user, ledger)
    if not policy.capabilities:
        raise LedgerNotFound("台帳が見つかりません。")
    return ledger, policy


def record_output(record: Record, policy: LedgerPolicy) -> dict[str, Any]:
    return {
        "id": str(record.pk),
        "generation": record.generation,
        "state": record.state,
        "values": policy.mask(record.data),
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "deleted": record.deleted_at is not None,
    }


def version_summary(version: RecordVersion) -> dict[str, Any]:
    return {
        "generation": version.generation,
        "action": version.action,
        "actor": version.actor.username if version.actor_id and version.actor else None,
        "at": version.at.isoformat(),
        "reason": version.reason,
    }


def version_output(
    version: RecordVersion, policy: LedgerPolicy, definition: dict[str, Any]
) -> dict[str, Any]:
    """One generation as it was, masked with the definition it was written under."""
    return {
        **version_summary(version),
        "deleted": version.deleted,
        "definition_version": version.definition_version,
        "values": policy.mask(version.data, definition=definition),
    }
