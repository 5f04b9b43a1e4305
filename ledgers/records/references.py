"""A reference (``reference`` field type, also as a group's sub-field) must name a record
that exists, is not deleted, and that the writer may see.

The field type checks the value's form (``{"ledger": code, "record": id}``) and touches no
database; the record services check the target here, when a value is written: a record
the writer may not see answers exactly like one that does not exist, so a reference is no
way to learn whether a record is there. A reference already stored is not checked again
when other values of its record change (its target may have been deleted since), nor when
an older generation is restored (it comes back as it was).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ledgers.access.policy import LedgerPolicy, policy_for
from ledgers.definitions.models import Ledger
from ledgers.records.models import Record

MISSING = "参照先の記録が見つかりません（台帳「{ledger}」、記録「{record}」）。"


def reference_paths(ledger: Ledger) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The live reference fields: top-level keys, and per group its reference sub-fields."""
    top: set[str] = set()
    groups: dict[str, frozenset[str]] = {}
    for spec in ledger.fields():
        if spec["type"] == "reference":
            top.add(spec["key"])
        subs = (spec.get("options") or {}).get("fields") or []
        refs = frozenset(sub["key"] for sub in subs if sub.get("type") == "reference")
        if refs:
            groups[spec["key"]] = refs
    return frozenset(top), groups


def references_in(
    paths: tuple[frozenset[str], dict[str, frozenset[str]]], values: Mapping[str, Any]
) -> list[tuple[str, Mapping[str, Any]]]:
    """(top-level key, reference) of every reference among ``values`` (cleaned values)."""
    top, groups = paths
    found: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in values.items():
        if key in top and isinstance(value, Mapping):
            found.append((key, value))
        elif key in groups and isinstance(value, list):
            for row in value:
                if isinstance(row, Mapping):
                    found.extend(
                        (key, row[sub]) for sub in groups[key] if isinstance(row.get(sub), Mapping)
                    )
    return found


def references_missing(
    *,
    actor: Any,
    policy: LedgerPolicy,
    items: Iterable[tuple[int, str, Mapping[str, Any]]],
) -> dict[int, dict[str, list[str]]]:
    """The errors of the references among ``items`` (item index, field key, reference) whose
    record is missing, deleted or out of the writer's sight, by item and field. One query
    for the target ledgers and one per target ledger."""
    wanted: dict[str, set[uuid.UUID]] = defaultdict(set)
    items = list(items)
    for _index, _key, ref in items:
        try:
            wanted[ref["ledger"]].add(uuid.UUID(str(ref["record"])))
        except ValueError:
            continue  # not a record id of ours: missing
    found: set[tuple[str, str]] = set()
    ledgers = {ledger.code: ledger for ledger in Ledger.objects.filter(code__in=sorted(wanted))}
    for code, ids in wanted.items():
        target = ledgers.get(code)
        if target is None:
            continue
        sight = policy if target.pk == policy.ledger.pk else policy_for(actor, target)
        if not (sight.can("view") or sight.can("search")):
            continue
        visible = sight.records(
            Record.objects.filter(ledger=target, deleted_at__isnull=True, pk__in=sorted(ids))
        ).values_list("pk", flat=True)
        found.update((code, str(pk)) for pk in visible)
    errors: dict[int, dict[str, list[str]]] = {}
    for index, key, ref in items:
        try:
            canonical = str(uuid.UUID(str(ref["record"])))
        except ValueError:
            canonical = None
        if canonical is None or (ref["ledger"], canonical) not in found:
            message = MISSING.format(ledger=ref["ledger"], record=ref["record"])
            messages = errors.setdefault(index, {}).setdefault(key, [])
            if message not in messages:
                messages.append(message)
    return errors
