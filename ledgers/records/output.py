"""Records as every output shows them: always through the reader's policy (masks applied).

The API, webhooks and any later output path (export, print, pages) format records here,
never on their own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from ledgers.access.policy import MASKED, LedgerPolicy, stricter_of_both
from ledgers.records.models import Record, RecordVersion, values_diff
from ledgers.records.references import references_hidden


def record_output(record: Record, policy: LedgerPolicy) -> dict[str, Any]:
    """The record as ``policy``'s actor sees it. Its values only for one who may view the
    ledger's records: a grant to search and update (no view) finds records through search
    screens, which choose the fields it sees, and its writes answer with no values. A
    reference to a record the reader may not see is masked (``references_hidden``)."""
    return record_outputs([record], policy)[0]


def record_outputs(records: list[Record], policy: LedgerPolicy) -> list[dict[str, Any]]:
    """``record_output`` of each record, the references' targets checked for all at once.
    Each record as the policy applies to it (``LedgerPolicy.for_record``: on a ledger with
    a 照会可否 field, through the departments it is disclosed to)."""
    values_list = []
    for r in records:
        applies = policy.for_record(r.data, written_under=r.definition_version)
        values_list.append(
            applies.mask(r.data, complete=True, written_under=r.definition_version)
            if applies.can("view")
            else {}
        )
    shown = references_hidden(policy=policy, values_list=values_list)
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


def version_diff(
    older: RecordVersion,
    newer: RecordVersion,
    policy: LedgerPolicy,
    definitions: tuple[dict[str, Any], dict[str, Any]],
    between: Iterable[Mapping[str, Any]] = (),
) -> dict[str, dict[str, Any]]:
    """What changed from ``older`` to ``newer`` (``{key: {"from", "to"}}``) as ``policy``'s
    actor sees it; ``definitions``: the two generations' own; ``between``: the values of
    every generation from one to the other (``record_values_between``).

    Both sides are masked alike: by the stricter of their two definitions (and, as every
    old generation, the current one), over every field either holds. Each by its own made a
    value masked on one side and shown on the other look changed when only its sensitivity
    had. A change inside what the reader sees masked (a field, or a sub-field of a group)
    shows that the field changed, never its values: a masked field is reported changed when
    it changed anywhere from one generation to the other, not when its two ends differ.
    Else the diff compared hidden values: after an address A, then B, then A again, the
    diff of 1 and 3 said "unchanged" where 1 and 2 said "changed", and whoever knew A
    learnt that the person had moved back there."""
    both = {
        "fields": stricter_of_both(
            definitions[0].get("fields", []), definitions[1].get("fields", [])
        )
    }
    before, after = references_hidden(
        policy=policy,
        values_list=[
            policy.mask(older.data, definition=both, complete=True),
            policy.mask(newer.data, definition=both, complete=True),
        ],
        definition=both,
    )
    changes = {
        key: {"from": pair[0], "to": pair[1]} for key, pair in values_diff(before, after).items()
    }
    changed = set(values_diff(older.data, newer.data))
    for earlier, later in itertools.pairwise(between):
        changed.update(values_diff(earlier, later))
    for key in changed:
        shown = before.get(key) == older.data.get(key) and after.get(key) == newer.data.get(key)
        if key not in changes and not shown:
            changes[key] = {"from": dict(MASKED), "to": dict(MASKED)}
    return changes
