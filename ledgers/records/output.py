"""Records as every output shows them: always through the reader's policy (masks applied).

The API, webhooks and any later output path (export, print, pages) format records here,
never on their own.
"""

from __future__ import annotations

from typing import Any

from ledgers.access.policy import LedgerPolicy
from ledgers.records.models import Record, RecordVersion
from ledgers.records.references import references_hidden


def record_output(record: Record, policy: LedgerPolicy) -> dict[str, Any]:
    """The record as ``policy``'s actor sees it. Its values only for one who may view the
    ledger's records: a grant to search and update (no view) finds records through search
    screens, which choose the fields it sees, and its writes answer with no values. A
    reference to a record the reader may not see is masked (``references_hidden``)."""
    return record_outputs([record], policy)[0]


def record_outputs(records: list[Record], policy: LedgerPolicy) -> list[dict[str, Any]]:
    """``record_output`` of each record, the references' targets checked for all at once."""
    viewer = policy.can("view")
    shown = references_hidden(
        policy=policy,
        values_list=[
            policy.mask(r.data, complete=True, written_under=r.definition_version) if viewer else {}
            for r in records
        ],
    )
    return [
        {
            "id": str(record.pk),
            "generation": record.generation,
            "state": record.state,
            "values": values,
            "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat(),
            "deleted": record.deleted_at is not None,
        }
        for record, values in zip(records, shown, strict=True)
    ]


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
        "values": references_hidden(
            policy=policy,
            values_list=[policy.mask(version.data, definition=definition, complete=True)],
            definition=definition,
        )[0],
    }
