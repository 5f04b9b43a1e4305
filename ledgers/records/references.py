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

from ledgers.access.policy import MASKED, LedgerPolicy, policy_for
from ledgers.definitions.models import Ledger
from ledgers.records.models import Record

MISSING = "参照先の記録が見つかりません（台帳「{ledger}」、記録「{record}」）。"


def reference_paths(
    ledger: Ledger, *, include_removed: bool = False
) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The reference fields: top-level keys, and per group its reference sub-fields; the
    live ones, or with ``include_removed`` those removed too (their values stay in old
    generations, and outputs still show them)."""
    return _paths_of(ledger.fields(include_removed=include_removed))


def _paths_of(
    fields: Iterable[Mapping[str, Any]],
) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    top: set[str] = set()
    groups: dict[str, frozenset[str]] = {}
    for spec in fields:
        if spec.get("type") == "reference":
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


def _reference_ids(refs: Iterable[Mapping[str, Any]]) -> dict[str, set[uuid.UUID]]:
    wanted: dict[str, set[uuid.UUID]] = defaultdict(set)
    for ref in refs:
        try:
            wanted[str(ref["ledger"])].add(uuid.UUID(str(ref["record"])))
        except (KeyError, ValueError):
            continue  # not a record id of ours: never found
    return wanted


def _canonical(ref: Mapping[str, Any]) -> tuple[str, str] | None:
    try:
        return str(ref["ledger"]), str(uuid.UUID(str(ref["record"])))
    except (KeyError, ValueError):
        return None


def references_seen(
    *, policy: LedgerPolicy, refs: Iterable[Mapping[str, Any]], writing: bool = False
) -> set[tuple[str, str]]:
    """(ledger code, record id) of the references among ``refs`` whose record the policy's
    actor may see: with ``view`` (or, ``writing``, ``search``: a writer links records it
    found) and within the target's record filter; ``writing`` also refuses deleted ones.
    One query for the target ledgers, then per target ledger other than the policy's own
    the actor's policy there (two) and the visible ids (one)."""
    wanted = _reference_ids(refs)
    found: set[tuple[str, str]] = set()
    if not wanted:
        return found
    ledgers = {ledger.code: ledger for ledger in Ledger.objects.filter(code__in=sorted(wanted))}
    for code, ids in wanted.items():
        target = ledgers.get(code)
        if target is None:
            continue
        sight = policy if target.pk == policy.ledger.pk else policy_for(policy.actor, target)
        if not (sight.can("view") or (writing and sight.can("search"))):
            continue
        candidates = Record.objects.filter(ledger=target, pk__in=sorted(ids))
        if writing:
            candidates = candidates.filter(deleted_at__isnull=True)
        found.update(
            (code, str(pk)) for pk in sight.records(candidates).values_list("pk", flat=True)
        )
    return found


def references_hidden(
    *,
    policy: LedgerPolicy,
    values_list: list[dict[str, Any]],
    definition: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``values_list`` (outputs, already masked) with every reference whose record the
    reader may not see replaced by the mask marker: a 相談記録's link to a DV record named
    the record to a department the DV record is not disclosed to. The same lists when the
    ledger has no reference field; new dicts where a value changes (stored values are
    read-only trees). ``references_seen``'s queries once for the whole list.
    ``definition``: the one old values were written under (a version's), whose reference
    fields count too."""
    # Removed fields too: a removed field's values still show (the record keeps them until
    # its next change, old generations for ever), and a removed link unmasked its target.
    top, groups = reference_paths(policy.ledger, include_removed=True)
    if definition is not None:
        old_top, old_groups = _paths_of(definition.get("fields", []))
        top = top | old_top
        groups = {k: groups.get(k, frozenset()) | old_groups.get(k, frozenset())
                  for k in {*groups, *old_groups}}  # fmt: skip
    paths = (top, groups)
    if not (top or groups):
        return values_list
    refs = [ref for values in values_list for _key, ref in references_in(paths, values)]
    if not refs:
        return values_list
    seen = references_seen(policy=policy, refs=refs)

    def shown(value: Any) -> Any:
        if isinstance(value, Mapping) and "record" in value and _canonical(value) not in seen:
            return dict(MASKED)
        return value

    result = []
    for values in values_list:
        changed = dict(values)
        for key, value in values.items():
            if key in top:
                changed[key] = shown(value)
            elif key in groups and isinstance(value, list):
                changed[key] = [
                    {k: (shown(v) if k in groups[key] else v) for k, v in row.items()}
                    if isinstance(row, Mapping)
                    else row
                    for row in value
                ]
        result.append(changed)
    return result


def references_missing(
    *,
    policy: LedgerPolicy,
    items: Iterable[tuple[int, str, Mapping[str, Any]]],
) -> dict[int, dict[str, list[str]]]:
    """The errors of the references among ``items`` (item index, field key, reference) whose
    record is missing, deleted or out of the writer's sight, by item and field. One query
    for the target ledgers and one per target ledger."""
    items = list(items)
    found = references_seen(policy=policy, refs=(ref for _i, _k, ref in items), writing=True)
    errors: dict[int, dict[str, list[str]]] = {}
    for index, key, ref in items:
        canonical = _canonical(ref)
        if canonical is None or canonical not in found:
            message = MISSING.format(ledger=ref["ledger"], record=ref["record"])
            messages = errors.setdefault(index, {}).setdefault(key, [])
            if message not in messages:
                messages.append(message)
    return errors
