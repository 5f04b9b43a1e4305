"""A reference (``reference`` field type, also as a group's sub-field) must name a record
that exists, is not deleted, and that the writer may see.

The field type checks the value's form (``{"ledger": code, "record": id}``) and touches no
database; the record services check the target here, when a value is written: a record
the writer may not see answers exactly like one that does not exist, so a reference is no
way to learn whether a record is there. A reference already stored is not checked again
when other values of its record change (its target may have been deleted since), nor when
an older generation is restored (it comes back as it was). A stored value holding a
reference the writer sees masked is not written over (``references_unseen``): a change of
its field is refused, and a restore keeps it as it is.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection

from daicho.tenancy.guard import require_tenant
from ledgers.access.policy import MASKED, LedgerPolicy, policy_for
from ledgers.audit.context import audit_details_json
from ledgers.audit.models import NO_SUCH_LEDGER
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
) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(top-level key, field path, reference) of every reference among ``values`` (cleaned
    values): the path is the key, or ``group.sub`` for a group's sub-field."""
    top, groups = paths
    found: list[tuple[str, str, Mapping[str, Any]]] = []
    for key, value in values.items():
        if key in top and isinstance(value, Mapping):
            found.append((key, key, value))
        elif key in groups and isinstance(value, list):
            subs = [(sub, f"{key}.{sub}") for sub in sorted(groups[key])]
            for row in value:
                if isinstance(row, Mapping):
                    found.extend(
                        (key, path, row[sub])
                        for sub, path in subs
                        if isinstance(row.get(sub), Mapping)
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
    found) and within the target's record filter (without ``writing``, of the departments
    that view it: ``LedgerPolicy.viewing``); ``writing`` also refuses deleted ones.
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
        else:
            # A link is read as its target is by id (``viewing``): a target reached only
            # through a department that may search it but not view it is found by the
            # search screens alone, and its link, shown, named it (and that the person has
            # a DV record) to a desk whose screens may never find it by name.
            sight = sight.viewing()
        found.update(
            (code, str(pk)) for pk in sight.records(candidates).values_list("pk", flat=True)
        )
    return found


def references_unseen(
    *,
    policy: LedgerPolicy,
    items: Iterable[tuple[int, Mapping[str, Any]]],
    paths: tuple[frozenset[str], dict[str, frozenset[str]]] | None = None,
) -> set[tuple[int, str]]:
    """(item index, field key) of each live reference field, or group with a reference
    sub-field, among ``items`` (index, stored values) whose value holds a reference the
    policy's actor sees masked (``references_hidden``: no ``view`` on its ledger, or out of
    its record filter). A write must not replace such a value: the writer cannot give it
    back (a group's rows echoed as read are refused, and without it the link is gone), and
    it would erase a link it may not see. One ``references_seen`` for all the items.
    ``paths``: the ledger's live ``reference_paths``, if the caller has them already."""
    paths = reference_paths(policy.ledger) if paths is None else paths
    if not paths[0] and not paths[1]:
        return set()
    found = [
        (index, key, ref) for index, values in items
        for key, _path, ref in references_in(paths, values)
    ]  # fmt: skip
    if not found:
        return set()
    seen = references_seen(policy=policy, refs=[ref for _i, _k, ref in found])
    return {(index, key) for index, key, ref in found if _canonical(ref) not in seen}


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
    refs = [ref for values in values_list for _k, _p, ref in references_in(paths, values)]
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


@dataclass(frozen=True)
class ReferencesRefused:
    """The references a write named whose record is missing, deleted or out of the writer's
    sight, as ``record.refused`` keeps them (``references_refused_audit``): carried by the
    write's ``RecordInvalid`` (``refused_references``) to the API's edge, which writes them
    once the write has rolled back.

    ``refused``: each distinct (target ledger as written, record id or ``None`` for a text
    that is no id, field path), in the order the write named them. ``write``: the write
    refused (``record.create``, ``record.update``), ``bulk`` for the bulk paths."""

    ledger_code: str
    write: str
    refused: tuple[tuple[str, uuid.UUID | None, str], ...]
    bulk: bool = False


@dataclass(frozen=True)
class ReferenceCheck:
    """``references_missing``'s answer: the errors by item and field, and the refusals."""

    errors: dict[int, dict[str, list[str]]]
    refused: tuple[tuple[str, uuid.UUID | None, str], ...] = ()

    def refusals(
        self, *, policy: LedgerPolicy, write: str, bulk: bool = False
    ) -> ReferencesRefused:
        return ReferencesRefused(
            ledger_code=policy.ledger.code, write=write, refused=self.refused, bulk=bulk
        )


def references_missing(
    *,
    policy: LedgerPolicy,
    items: Iterable[tuple[int, str, str, Mapping[str, Any]]],
) -> ReferenceCheck:
    """The errors of the references among ``items`` (item index, field key, field path,
    reference) whose record is missing, deleted or out of the writer's sight, by item and
    field, and those references once each (for ``record.refused``). One query for the
    target ledgers and one per target ledger."""
    items = list(items)
    found = references_seen(policy=policy, refs=(ref for _i, _k, _p, ref in items), writing=True)
    errors: dict[int, dict[str, list[str]]] = {}
    refused: dict[tuple[str, uuid.UUID | None, str], None] = {}
    for index, key, path, ref in items:
        canonical = _canonical(ref)
        if canonical is None or canonical not in found:
            message = MISSING.format(ledger=ref["ledger"], record=ref["record"])
            messages = errors.setdefault(index, {}).setdefault(key, [])
            if message not in messages:
                messages.append(message)
            record = None if canonical is None else uuid.UUID(canonical[1])
            refused.setdefault((str(ref.get("ledger")), record, path), None)
    return ReferenceCheck(errors=errors, refused=tuple(refused))


#: ``record.refused`` events one refused write writes one by one; the references beyond
#: are counted, one event per target ledger (``omitted``). A full bulk request of records
#: each naming one record is audited reference by reference; its body (2.5 MB) could name
#: some 50,000, which would be 50,000 events of one request.
REFUSALS_LISTED = 1000

#: A refused reference, per (target ledger as written, id, field): filed under the target
#: ledger when there is one of that code (its auditors, who see its ids anyway, read it;
#: never the writing ledger's, whose auditor may be the writer), else under
#: ``NO_SUCH_LEDGER`` (city administrators only); ``exists`` whether that ledger has a
#: record of the id (deleted ones too). The text of a ledger code or record that names
#: nothing is not kept (a name typed where the id goes). One statement, hidden and missing
#: alike.
_REFUSED_REFERENCES_SQL = """
INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, record_id, generation, details)
(SELECT %(actor)s::integer, 'record.refused', coalesce(l.code, %(none)s::text), t.record, NULL::integer,
    jsonb_build_object('attempted', 'record.reference', 'field', t.field, 'exists',
        EXISTS (SELECT 1 FROM ledgers_record AS x WHERE x.id = t.record AND x.ledger_id = l.id))
    || %(details)s::jsonb
FROM ROWS FROM (jsonb_to_recordset(%(listed)s::jsonb) AS (ledger text, record uuid, field text))
    WITH ORDINALITY AS t (ledger, record, field, n)
LEFT JOIN ledgers_ledger AS l ON l.code = t.ledger
ORDER BY t.n)
UNION ALL
(SELECT %(actor)s::integer, 'record.refused', coalesce(l.code, %(none)s::text), NULL::uuid,
    NULL::integer,
    jsonb_build_object('attempted', 'record.reference', 'omitted', sum(o.n)) || %(details)s::jsonb
FROM jsonb_to_recordset(%(omitted)s::jsonb) AS o (ledger text, n integer)
LEFT JOIN ledgers_ledger AS l ON l.code = o.ledger
GROUP BY coalesce(l.code, %(none)s::text)
ORDER BY 3)
"""


def references_refused_audit(*, actor: Any, refusals: ReferencesRefused) -> None:
    """Write ``record.refused`` for each reference a refused write named that the writer may
    not make (``ReferencesRefused``), in the current transaction: called by the API's edge
    after the write rolled back, in autocommit, so the events stay whatever the write's
    fate. A colleague trying record ids of the DV ledger in a link field of a ledger they
    may write got the missing record's 400 and left nothing an auditor could see."""
    require_tenant()
    if not refusals.refused:
        return
    listed = refusals.refused[:REFUSALS_LISTED]
    omitted: dict[str, int] = {}
    for ledger, _record, _field in refusals.refused[REFUSALS_LISTED:]:
        omitted[ledger] = omitted.get(ledger, 0) + 1
    details = {"write": refusals.write, "from_ledger": refusals.ledger_code}
    if refusals.bulk:
        details["bulk"] = True
    with connection.cursor() as cursor:
        cursor.execute(
            _REFUSED_REFERENCES_SQL,
            {
                "actor": getattr(actor, "pk", None), "none": NO_SUCH_LEDGER,
                "details": audit_details_json(details),
                "listed": orjson.dumps([
                    {"ledger": ledger, "record": None if record is None else str(record), "field": field}
                    for ledger, record, field in listed
                ]).decode(),
                "omitted": orjson.dumps(
                    [{"ledger": ledger, "n": n} for ledger, n in omitted.items()]
                ).decode(),
            },
        )  # fmt: skip
