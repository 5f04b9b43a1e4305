"""The one access policy: for (actor, ledger) what may be done, which records, which fields.

Every output path — API, web pages, search, exports, prints, reports, webhooks — asks the
policy; nothing formats records for output on its own.

    policy = policy_for(actor, ledger)
    policy.require("export")
    records = policy.records(Record.objects.all())
    values = policy.mask(record.data)

Rules:
- An actor's active memberships (on today's date in Japan) give departments and roles.
- A grant applies to a member of its department (any role), to a holder of its role (any
  department), or to a holder of its role in its department. Its capabilities are capped
  by the member's role (a viewer never edits, whatever the grant says); the (read)
  clearance is the highest of the applicable grants that give ``view`` when the actor
  views the records, else of those that give a read capability (a desk that may search
  and update without viewing). A search screen runs with the highest of the grants that
  give a read capability and allow it (``LedgerPolicy.for_screen``). A grant's clearance
  goes with its own capabilities: a grant to search only (加害者検索 at 要配慮) does not
  raise what the records list and a record's page show through another grant's ``view``.
- A new record (a create, a bulk create, an import) may hold fields up to the higher of the
  read clearance and the entry clearance: the highest of the applicable grants that give
  ``create`` (``import`` for an import). A reception desk (申請受付) registers applications
  at 要配慮 without reading the ledger. A change writes only what its writer reads: never
  above the read clearance, which alone decides every mask and the record filter.
- When the ledger has a department-disclosure field (``disclosure_field``: its first
  ``department_flags`` field, whatever the order of its fields since), a record is visible
  only where one of the actor's departments is flagged 可.
- A record the actor may not see is answered exactly as a record that does not exist.
- Fields above the clearance are replaced by ``{"masked": true}``; inside a group each
  sub-field is judged by its own sensitivity. A record's outputs (``mask(...,
  complete=True)``) show every such field of the definition masked, whether it holds a
  value or not: a marker only where a value is would tell the reader which hidden fields
  are filled in (that a DV record names an offender's address, say).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from daicho.accounts.models import Membership, Role
from daicho.db.prepared import prepared
from daicho.tenancy.guard import require_tenant
from ledgers.access.models import Capability, Grant
from ledgers.audit.context import audit_details_json
from ledgers.definitions.models import Ledger, Sensitivity
from ledgers.exceptions import AccessDenied, RecordNotFound
from ledgers.search.index import GROUP_TYPES
from ledgers.search.keys import disclosure_key

MASKED: dict[str, bool] = {"masked": True}
# get_record's compiled SELECT per visibility; the marker stands for the record's id.
_RECORD_QUERIES: dict[tuple[Any, ...], tuple[str, tuple[Any, ...], int] | None] = {}
_ID_MARKER = uuid.UUID("5ec0de5e-0000-4000-8000-00000000d1c0")
ALL_CAPABILITIES = frozenset(c.value for c in Capability)
READ_CAPABILITIES = frozenset({"view", "search", "export", "print"})
#: What a grant gives on a record, which a ledger with a 照会可否 field gives only through
#: the departments the record is disclosed to (``LedgerPolicy.for_record``); the others
#: (create, import, design, audit) are rights on the ledger, whatever its records.
RECORD_CAPABILITIES = frozenset({"view", "search", "update", "delete", "export", "print"})
#: The capabilities that enter new records, each with its own clearance (``LedgerPolicy``).
ENTRY_CAPABILITIES = ("create", "import")


#: A refused read of a record (``get_record``'s ``refused_as``): who asked, through which
#: ledger, the id asked for, what for, and whether this ledger has a record of that id (its
#: readers, the ledger's auditors, see its ids in its ``record.create`` events anyway; an
#: id of another ledger's record is "no record" here). No value of any record.
_REFUSED_SQL = (
    "INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, record_id, generation,"
    " details) SELECT %s::integer, 'record.refused', %s::text, %s::uuid, NULL,"
    " jsonb_build_object('attempted', %s::text, 'exists', EXISTS (SELECT 1 FROM ledgers_record"
    " AS x WHERE x.id = %s::uuid AND x.ledger_id = %s::bigint)) || %s::jsonb"
)


def _fetch_record(sql: str, params: list[Any]) -> Any:
    """The one record ``sql`` selects (or ``None``), built as ``Record.objects.raw`` would
    build it (``ledgers.records.rows``)."""
    from ledgers.records.rows import has_plan, records_from_rows

    # A prepared statement (one per visibility and connection, daicho.db.prepared):
    # PostgreSQL parsed and planned the read with its audit event on every call.
    with prepared(sql, params) as cursor:
        row = cursor.fetchone()
        if row is None:
            return None
        columns = None if has_plan(sql) else [column.name for column in cursor.description]
    return records_from_rows(sql, [row], columns)[0]


WRITE_CAPABILITIES = frozenset({"create", "update", "delete", "import", "design"})
ROLE_CEILING: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset({"view", "search", "print", "export"}),
    Role.EDITOR: frozenset(
        {"view", "search", "print", "export", "create", "update", "delete", "import"}
    ),
    Role.APPROVER: frozenset(
        {"view", "search", "print", "export", "create", "update", "delete", "import"}
    ),
    Role.LEDGER_ADMIN: ALL_CAPABILITIES,
    Role.AUDITOR: frozenset({"view", "search", "audit"}),
    Role.CITY_ADMIN: ALL_CAPABILITIES,
}


def valid_memberships(on: date | None = None) -> QuerySet[Membership]:
    """Every membership in force on ``on`` (today in Japan by default): start and end days
    count, in an active department."""
    on = on or timezone.localdate()
    return Membership.objects.filter(valid_from__lte=on, department__active=True).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=on)
    )


def active_memberships(user: Any, on: date | None = None) -> list[Membership]:
    """The user's memberships in force on ``on`` (``valid_memberships``)."""
    if user is None or not getattr(user, "pk", None) or not user.is_active:
        return []
    return list(valid_memberships(on).filter(user_id=user.pk).select_related("department"))


def is_city_admin(user: Any, memberships: Iterable[Membership] | None = None) -> bool:
    if user is None or not getattr(user, "pk", None) or not user.is_active:
        return False
    if user.is_city_admin:
        return True
    memberships = active_memberships(user) if memberships is None else memberships
    return any(m.role == Role.CITY_ADMIN for m in memberships)


def disclosure_field(ledger: Ledger) -> str | None:
    """The key of the field whose 可/不可 per department filters records, if any: the one
    the definition's ``disclosure`` section names (the ledger's first, kept whatever the
    order of its fields: ``ledgers.definitions.services._with_disclosure``), else (a
    definition written before it was named) the first live ``department_flags`` field."""
    live = [f["key"] for f in ledger.fields() if f["type"] == "department_flags"]
    named = (ledger.definition.get("disclosure") or {}).get("field")
    return named if named in live else next(iter(live), None)


def _disclosure_departments(ledger: Ledger, key: str) -> set[str]:
    """The department codes the 照会可否 field ``key`` lists now."""
    spec = next(f for f in ledger.fields() if f["key"] == key)
    return set((spec.get("options") or {}).get("departments") or [])


def disclosure_since(ledger: Ledger) -> dict[str, int]:
    """Per department added to the 照会可否 field's list after the field was made (added
    back after its removal, or new), the definition version from which it has been listed
    without a break (``ledgers.definitions.services._with_disclosure``): its flags count
    only in values written under that version or a later one."""
    section = ledger.definition.get("disclosure") or {}
    if section.get("field") != disclosure_field(ledger):
        return {}
    return dict(section.get("listed_since") or {})


def flags_in_force(
    values: Mapping[str, Any], *, key: str | None, since: Mapping[str, int], written_under: int
) -> Mapping[str, Any]:
    """``values`` (written under definition version ``written_under``) with their 照会可否
    flags (field ``key``) as they are in force: 不可 for a department listed since a later
    version (``disclosure_since``). A 可 stored before a department was taken off the list
    is no decision about it once it is added back: it starts from 不可 on the records
    written before, as a department new to the list does. ``values`` itself when nothing
    changes."""
    flags = values.get(key) if key is not None and since else None
    if not isinstance(flags, Mapping):
        return values
    stale = [
        code
        for code, version in since.items()
        if flags.get(code) is True and written_under < version
    ]
    if not stale:
        return values
    return {**values, key: {**flags, **dict.fromkeys(stale, False)}}


def record_flags_in_force(
    ledger: Ledger, values: Mapping[str, Any], *, written_under: int
) -> Mapping[str, Any]:
    """``flags_in_force`` by ``ledger``'s definition now: the write paths' (a change, a
    restore), which carry values written before into a new generation."""
    return flags_in_force(
        values, key=disclosure_field(ledger), since=disclosure_since(ledger),
        written_under=written_under,
    )  # fmt: skip


@dataclass(frozen=True)
class LedgerPolicy:
    """What one actor may do with one ledger. Build it with ``policy_for``."""

    actor: Any
    ledger: Ledger
    capabilities: frozenset[str]
    clearance: str | None
    departments: frozenset[str]
    #: Per entry capability (``ENTRY_CAPABILITIES``) held, the highest clearance of the
    #: grants giving it, as sorted pairs: what a new record may hold beyond ``clearance``.
    entry_clearances: tuple[tuple[str, str], ...] = ()
    viewed_by: Any = None
    break_glass: bool = False
    _disclosure_key: str | None = field(default=None, repr=False)
    #: ``disclosure_since`` as sorted pairs (part of the compiled record query's key).
    _disclosure_since: tuple[tuple[str, int], ...] = field(default=(), repr=False)
    #: Per department of the actor's memberships that a grant applies through: its code,
    #: the record capabilities it gives, the rank of the clearance of its grants that give
    #: a read capability and of those that give ``view`` (-1: none), for ``for_record``
    #: and ``readable_filter``. Only on a ledger with a 照会可否 field.
    _by_department: tuple[tuple[str, frozenset[str], int, int], ...] = field(default=(), repr=False)
    #: A search screen's policy (``for_screen``): its clearance is that of every grant
    #: with a read capability that allows the screen, ``view`` or not.
    _screen: bool = field(default=False, repr=False)
    #: What ``for_screen`` recomputes the policy from when a grant that applies to the actor
    #: names the search screens its ``search`` runs (``Grant.search_screens``), or gives a
    #: read capability but not ``view`` at another clearance than its ``view`` grants: the
    #: ledger's grants, the actor's memberships and whether it administers the city.
    #: ``None`` (the common case) otherwise: every screen runs with this policy.
    _screen_grants: tuple[tuple[Grant, ...], tuple[Membership, ...], bool] | None = field(
        default=None, repr=False
    )
    # Scratch space of this instance (dataclasses.replace starts a new one).
    _mask_plans: dict[int, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def read_only(self) -> bool:
        return self.viewed_by is not None

    def can(self, capability: str) -> bool:
        if self.read_only and capability in WRITE_CAPABILITIES:
            return False
        return capability in self.capabilities

    def for_screen(self, code: str) -> LedgerPolicy:
        """This policy as it runs the search screen ``code``: computed from the grants that
        allow it only (``Grant.search_screens`` unset, or naming it). A grant that does not
        allow the screen (a 窓口 allowed 加害者検索 only, running 本人検索) gives that search
        nothing: not ``search``, nor the records disclosed to its department, nor its
        clearance, whatever it gives elsewhere (its ``view`` on the records list).
        ``self`` when no grant that applies to the actor names screens (no query either
        way: the grants were read with the policy)."""
        if self._screen_grants is None:
            return self
        key = ("screen", code)
        cached = self._mask_plans.get(key)  # type: ignore[call-overload]
        if cached is not None:
            return cached
        grants, memberships, admin = self._screen_grants
        allowed = [g for g in grants if _allows(g, code)]
        narrowed = _policy_from(
            self.actor, self.ledger, allowed, list(memberships), admin=admin,
            viewed_by=self.viewed_by, by_screen=False, screen=True,
        )  # fmt: skip
        self._mask_plans[key] = narrowed  # type: ignore[index]
        return narrowed

    def runnable_screens(self, ledger: Ledger | None = None) -> list[str] | None:
        """The codes of the ledger's search screens this actor may run (``for_screen``
        gives ``search``), in the order of its definition (``ledger``'s, when a change
        has just written a newer one); ``None`` when no grant that applies to the actor
        names screens (every screen, given ``search``)."""
        if self._screen_grants is None:
            return None
        grants, memberships, _admin = self._screen_grants
        return _runnable(ledger or self.ledger, grants, list(memberships))

    def require(self, capability: str) -> None:
        """Raise ``AccessDenied`` unless the actor has ``capability`` on this ledger."""
        if not self.can(capability):
            label = Capability(capability).label if capability in ALL_CAPABILITIES else capability
            raise AccessDenied(f"この台帳の「{label}」の権限がありません。", capability=capability)

    # --- records --------------------------------------------------------------------

    def record_filter(self) -> Q:
        """The rows of ``Record`` this actor may see (the ledger, then disclosure flags)."""
        condition = Q(ledger_id=self.ledger.pk)
        if not self.can("view") and not self.can("search"):
            return condition & Q(pk__in=[])
        if self.break_glass or self._disclosure_key is None:
            return condition
        return condition & self._disclosed_to(self.departments)

    def _disclosed_to(self, departments: Iterable[str]) -> Q:
        """The records flagged 可 for one of ``departments`` (a ledger with a 照会可否 field)."""
        codes = sorted(departments)
        if not codes:
            return Q(pk__in=[])
        assert self._disclosure_key is not None
        # The search keys' GIN index finds the records flagged for one of the departments
        # (``disclosure_key``); the flags themselves decide, as a key is a 32-bit hash.
        # A department listed since a later version than the record's values were written
        # under is 不可 whatever they say (``flags_in_force``).
        keys = [disclosure_key(self.ledger.pk, self._disclosure_key, code) for code in codes]
        since = dict(self._disclosure_since)
        flags = [
            Q(data__contains={self._disclosure_key: {code: True}})
            & (Q(definition_version__gte=since[code]) if code in since else Q())
            for code in codes
        ]
        return Q(search_keys__overlap=keys) & functools.reduce(operator.or_, flags)

    def readable_filter(self, *sensitivities: str | None) -> Q:
        """The records whose fields of these sensitivities the actor may read: a filter, a
        search criterion or a count on such a field asks only of them.

        On a ledger with a 照会可否 field, rights come through the departments a record is
        disclosed to (``for_record``): someone in two departments (兼務, or a 人事異動 that
        overlaps) whose one department may read addresses and is 不可 for a record, and
        whose other is 可 for it but may not read them, may not read that record's
        address; a filter on it must not match it either (else its matches answered, one
        question at a time, what the record shows masked). ``Q()`` when every department
        the actor views through may read them."""
        if self.break_glass or self._disclosure_key is None or not self._by_department:
            return Q()
        needed = max(
            (Sensitivity.rank(s or Sensitivity.INTERNAL) for s in sensitivities), default=-1
        )
        # Outside a search screen only what a department views counts: the records listed
        # are disclosed to one that views them, which ``for_record`` then reads them with
        # (a department that may only search them, up to 要配慮, adds no clearance there).
        cleared = {
            code for code, caps, read, view in self._by_department
            if (read if self._screen else view if "view" in caps else -1) >= needed
        }  # fmt: skip
        if self.departments <= cleared:
            return Q()
        return self._disclosed_to(self.departments & cleared)

    def raises_own_rights(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
        """Whether a write that turns a record's values ``before`` (照会可否 flags in force)
        into ``after`` gives its writer more on the record than it had (``for_record``): a
        member of 市民課 and 市民税課 acting through 市民税課 who set 市民課 to 可 (a change,
        or a restore of a generation that had it) would then read the address as 市民課 does.
        The decision to disclose a record to the writer's own other department is not the
        writer's to take through a department that may not see what it would open."""
        if self.break_glass or self._disclosure_key is None or self._one_gives_all():
            return False
        rank = Sensitivity.rank

        def raises(policy: LedgerPolicy) -> bool:
            was, will = policy.for_record(before), policy.for_record(after)
            return not will.capabilities <= was.capabilities or (
                will.clearance is not None
                and (was.clearance is None or rank(will.clearance) > rank(was.clearance))
            )

        # As the record's page reads it (the ``view`` grants' clearance), and as its search
        # screens do (every read grant's): opening it to one's own department that may only
        # search it, up to 要配慮, raises nothing on the page and the address on the screens.
        return raises(self) or raises(dataclasses.replace(self, _screen=True))

    def for_record(
        self, values: Mapping[str, Any], *, written_under: int | None = None
    ) -> LedgerPolicy:
        """This policy as it applies to the record holding ``values`` (its current values;
        ``written_under``: their definition version, for the flags in force).

        On a ledger with a 照会可否 field, the record capabilities (``RECORD_CAPABILITIES``)
        and the clearance come only through the actor's departments that the record is
        disclosed to: before, they were the best of all the actor's departments, and
        someone in 市民課 (which may read addresses, 不可 for the record) and 市民税課 (可,
        up to personal data) read the address of a record neither department alone showed
        them with it. The other rights (create, design, audit) stay the ledger's.
        ``self`` when nothing narrows (no 照会可否 field, or one listed department that
        gives all the policy's rights on records: staff of one department, whose answers
        do not depend on the record). A department the field does not list (総務課) is 不可
        for every record: with it, one listed department is narrowed to too, else 総務課's
        grant gave a member of it and of 市民税課 the address on the records disclosed to
        市民税課."""
        if self.break_glass or self._disclosure_key is None or self._one_gives_all():
            return self
        in_force = (
            values if written_under is None else self.in_force(values, written_under=written_under)
        )
        flags = in_force.get(self._disclosure_key)
        if not isinstance(flags, Mapping):
            flags = {}
        through = frozenset(
            code for code, _caps, _read, _view in self._by_department if flags.get(code) is True
        )
        cached = self._mask_plans.get(("record", through))  # type: ignore[call-overload]
        if cached is not None:
            return cached
        capabilities = set(self.capabilities - RECORD_CAPABILITIES)
        entries = [entry for entry in self._by_department if entry[0] in through]
        for _code, caps, _read, _view in entries:
            capabilities |= caps
        rank = self._rank_through(entries)
        clearance = [s.value for s in Sensitivity][rank] if rank >= 0 else None
        narrowed = self
        if (
            frozenset(capabilities) != self.capabilities
            or clearance != self.clearance
            or not self.departments <= through
        ):
            narrowed = dataclasses.replace(
                self, capabilities=frozenset(capabilities), clearance=clearance,
                departments=self.departments & through,
            )  # fmt: skip
        self._mask_plans[("record", through)] = narrowed  # type: ignore[index]
        return narrowed

    def _rank_through(self, entries: Iterable[tuple[str, frozenset[str], int, int]]) -> int:
        """The clearance's rank a record disclosed to the departments of ``entries`` (of
        ``_by_department``) is read with: that of their grants that give ``view`` when one
        of them gives it (outside a search screen), else of those with a read capability.
        A department that may search the record up to 要配慮 and one that views it up to
        庁内 show its page at 庁内: the search grant's clearance is the screen's."""
        entries = list(entries)
        if not self._screen and any("view" in caps for _code, caps, _read, _view in entries):
            return max((view for *_rest, view in entries), default=-1)
        return max((read for _code, _caps, read, _view in entries), default=-1)

    def require_on(
        self, capability: str, values: Mapping[str, Any], *, written_under: int | None = None
    ) -> LedgerPolicy:
        """``for_record``, which must give ``capability`` (``AccessDenied`` otherwise): a
        record's older generations, a change, a deletion or a restore go by the rights of
        the departments the record is disclosed to (someone in two departments changed a
        record through the rights of the one it is not disclosed to)."""
        applies = self.for_record(values, written_under=written_under)
        applies.require(capability)
        return applies

    def _one_gives_all(self) -> bool:
        """Whether at most one listed department gives rights on records, and it gives all
        those of the policy (its record capabilities and its clearance): ``for_record``
        has nothing to narrow. Asked for each record output: worked out once."""
        known = self._mask_plans.get("one_gives_all")  # type: ignore[call-overload]
        if known is not None:
            return known
        if len(self._by_department) > 1:
            answer = False
        elif not self._by_department:
            answer = True
        else:
            caps = self._by_department[0][1]
            rank = self._rank_through(self._by_department)
            clearance = Sensitivity.rank(self.clearance) if self.clearance is not None else -1
            answer = caps == self.capabilities & RECORD_CAPABILITIES and rank == clearance
        self._mask_plans["one_gives_all"] = answer  # type: ignore[index]
        return answer

    def shows(self, data: Mapping[str, Any], *, written_under: int) -> bool:
        """``record_filter`` on values already read (the same rules, in Python), written
        under definition version ``written_under`` (the record's ``definition_version``)."""
        if not self.can("view") and not self.can("search"):
            return False
        if self.break_glass or self._disclosure_key is None:
            return True
        flags = self.in_force(data, written_under=written_under).get(self._disclosure_key)
        return isinstance(flags, Mapping) and any(
            flags.get(code) is True for code in self.departments
        )

    def in_force(self, values: Mapping[str, Any], *, written_under: int) -> Mapping[str, Any]:
        """``flags_in_force`` by the definition this policy was computed with."""
        return flags_in_force(
            values, key=self._disclosure_key, since=dict(self._disclosure_since),
            written_under=written_under,
        )  # fmt: skip

    def records(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(self.record_filter())

    def get_record(self, record_id: Any, *, refused_as: str | None = None) -> Any:
        """The record if the actor may see it; ``RecordNotFound`` otherwise, whether or not it exists.

        ``refused_as``: the action a success is audited as (``record.update``, …), for a
        person asking by the record's id (the API, a screen): a refusal is then audited as
        ``record.refused`` of the policy's actor (``_REFUSED_SQL``)."""
        return self._read_record(record_id, viewer=None, refused_as=refused_as)

    def view_record(self, record_id: Any, *, actor: Any, refused_as: str | None = None) -> Any:
        """``get_record`` that also writes the ``record.view`` audit event of ``actor`` in
        the same statement (a data-modifying CTE): one round trip, and the event is written
        exactly when the record is found and visible. With ``refused_as`` a refusal writes
        ``record.refused`` of ``actor`` instead, in the same statement.

        Only records disclosed to a department that gives ``view`` are found (``viewing``):
        someone in a department that may search but not view, and in one that views,
        read by its id a record disclosed only to the first (its state, generation and
        times, when the person's record last changed) outside the search screens."""
        return self.viewing()._read_record(record_id, viewer=actor, refused_as=refused_as)

    def viewing(self) -> LedgerPolicy:
        """This policy with only the departments that give ``view`` on records (itself
        when every department it sees records through does): what is read by id, listed,
        counted and matched by a list filter, and sent by a webhook. A record the actor
        reaches only through a department that may search but not view it is found through
        the search screens alone, which choose what it shows."""
        if self.break_glass or self._disclosure_key is None or not self._by_department:
            return self
        viewing = frozenset(code for code, caps, *_ranks in self._by_department if "view" in caps)
        if self.departments <= viewing:
            return self
        return dataclasses.replace(self, departments=self.departments & viewing)

    def _read_record(self, record_id: Any, *, viewer: Any, refused_as: str | None = None) -> Any:
        require_tenant()
        asker = viewer if viewer is not None else self.actor
        try:
            pk = record_id if isinstance(record_id, uuid.UUID) else uuid.UUID(str(record_id))
        except ValueError:
            # A malformed id is a missing record too (its text is not kept: it may be a
            # name typed where the id goes).
            self._refusal(asker, None, refused_as)
            raise RecordNotFound() from None
        compiled = self._record_query()
        if compiled is None:  # the actor sees no record of this ledger
            self._refusal(asker, pk, refused_as)
            raise RecordNotFound()
        sql, params, position = compiled
        params = [*params]
        params[position] = pk
        # ``sql`` is the ORM's own compiled SELECT (its values are parameters).
        parts = [f"r AS ({sql})"]
        if viewer is not None:
            parts.append(
                "a AS (INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, record_id,"
                " generation, details) SELECT %s, 'record.view', %s, r.id, r.generation,"
                " %s::jsonb FROM r)"
            )
            params += [getattr(viewer, "pk", None), self.ledger.code, audit_details_json()]
        if refused_as is not None:
            # Written for an id of a hidden record and of no record alike, by the same
            # statement: the answer, and the time it takes, tell the caller nothing.
            parts.append(f"n AS ({_REFUSED_SQL} WHERE NOT EXISTS (SELECT 1 FROM r))")  # noqa: S608
            params += self._refusal_params(asker, pk, refused_as)
        if len(parts) > 1:
            sql = f"WITH {', '.join(parts)} SELECT * FROM r"  # noqa: S608
        record = _fetch_record(sql, params)
        if record is None:
            raise RecordNotFound()
        record.ledger = self.ledger  # the filter made it so; saves reading it again
        return record

    def refuse_by_capability(self, record_id: Any, *, asker: Any, refused_as: str) -> None:
        """``record.refused`` of ``asker`` for ``record_id``, refused before the record was
        looked at: the caller may act on the ledger but lacks the capability the request
        needs (a 窓口 desk that may only search, asking for a record by its id). Written as
        ``get_record``'s refusal is (a malformed id as NULL, ``exists`` for the ledger's
        auditors); the caller's answer does not depend on it."""
        try:
            pk = record_id if isinstance(record_id, uuid.UUID) else uuid.UUID(str(record_id))
        except ValueError:
            pk = None
        self._refusal(asker, pk, refused_as)

    def _refusal_params(self, asker: Any, pk: uuid.UUID | None, refused_as: str) -> list[Any]:
        return [
            getattr(asker, "pk", None), self.ledger.code, pk, refused_as, pk, self.ledger.pk,
            audit_details_json(),
        ]  # fmt: skip

    def _refusal(self, asker: Any, pk: uuid.UUID | None, refused_as: str | None) -> None:
        """``record.refused`` of a read answered without a query of the records."""
        if refused_as is None:
            return
        with connection.cursor() as cursor:
            cursor.execute(_REFUSED_SQL, self._refusal_params(asker, pk, refused_as))

    def _record_query(self) -> tuple[str, tuple[Any, ...], int] | None:
        """``get_record``'s SELECT, compiled once per visibility (the same ``record_filter``).

        Building and compiling the ORM query was a third of a record read's CPU; the SQL
        depends only on what ``record_filter`` reads, which is the key.
        """
        from ledgers.records.models import Record

        key = (
            self.ledger.pk, self.can("view") or self.can("search"), self.break_glass,
            self._disclosure_key, tuple(sorted(self.departments)), self._disclosure_since,
        )  # fmt: skip
        if key in _RECORD_QUERIES:
            return _RECORD_QUERIES[key]
        # The search index columns are the bulk of a row and no output shows them.
        queryset = self.records(Record.objects.defer("search_keys", "search_text"))
        try:
            sql, params = queryset.filter(pk=_ID_MARKER).query.sql_with_params()
        except EmptyResultSet:
            compiled = None
        else:
            compiled = (sql, tuple(params), [*params].index(_ID_MARKER))
        if len(_RECORD_QUERIES) >= 1000:
            _RECORD_QUERIES.clear()
        _RECORD_QUERIES[key] = compiled
        return compiled

    # --- fields ---------------------------------------------------------------------

    def can_read_field(self, sensitivity: str | None) -> bool:
        return _within(sensitivity, self.clearance)

    def mask(
        self,
        values: Mapping[str, Any],
        *,
        definition: Mapping[str, Any] | None = None,
        complete: bool = False,
        written_under: int | None = None,
    ) -> dict[str, Any]:
        """A copy of ``values`` with every field above the clearance replaced by ``MASKED``.

        ``definition`` is the definition the values were written under (an old generation
        renders with its own); the ledger's current one by default. Keys of no known field
        are dropped rather than shown. ``complete``: every field above the clearance that
        the definition holds (and has not removed) is ``MASKED``, empty or not, in each
        row of a group too; for a whole record's values. Without it only those present
        are (a search's result fields: a field it does not show is not named at all).
        A field the definition has removed and the clearance does not reach is never
        named, filled or not (only the records unchanged since its removal hold a value).
        ``written_under``: a record's current values, written under that definition version,
        whose 照会可否 flags show as they are in force (``flags_in_force``); an old
        generation shows what it held.
        """
        if written_under is not None:
            values = self.in_force(values, written_under=written_under)
        current = self.ledger.definition.get("fields", [])
        if definition is None or definition.get("fields", []) is current:
            return _mask_values(values, current, self, complete=complete)
        fields = self._stricter(definition.get("fields", []), current)
        return _mask_values(values, fields, self, complete=complete)

    def _stricter(
        self, old: list[Mapping[str, Any]], current: list[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]:
        """``old``'s fields, each as sensitive as the stricter of itself and the same key in
        ``current`` (which keeps removed fields), sub-fields too: a field whose sensitivity
        was raised is masked in every generation, not only in those written since — else
        ``as_of``, a version and a diff would show what the record itself now hides. Kept
        per pair of definitions, as the plans are."""
        key = ("stricter", id(old), id(current))
        cached = self._mask_plans.get(key)  # type: ignore[call-overload]
        if cached is not None and cached[0] is old and cached[1] is current:
            return cached[2]
        known = current
        if _sub_fields_departed(old, current):
            known = with_departed_sub_fields(self.ledger, current)
        merged = stricter_fields(old, known)
        # Both lists are kept with the result, so that their ids cannot be reused meanwhile.
        self._mask_plans[key] = (old, current, merged)  # type: ignore[index]
        return merged

    def write_clearance(self, capability: str = "update") -> str | None:
        """The clearance up to which ``capability`` writes fields: for a new record
        (``create``, ``import``) the higher of the read clearance and the entry clearance of
        that capability (a grant to register without reading); for anything else (a change,
        a restore) the read clearance: a value the writer cannot see is never overwritten
        blind. The read clearance alone decides what any output shows."""
        entry = dict(self.entry_clearances).get(capability) if self.can(capability) else None
        if entry is None:
            return self.clearance
        if self.clearance is None:
            return entry
        return max(entry, self.clearance, key=Sensitivity.rank)

    def closed_fields(
        self, definition: Mapping[str, Any] | None = None, *, capability: str = "update"
    ) -> frozenset[str]:
        """The fields the actor may not write by ``capability`` (``write_clearance``): above
        that clearance, or a group with a sub-field above it (the group is written whole,
        and the caller cannot give back the values it sees masked). Writing them would
        change what the caller cannot see, and whether a write changed anything would tell
        whether a guess was the hidden value.
        With ``definition`` (an old generation's), the fields the actor sees masked in that
        generation: judged by the stricter of then and now, as ``mask`` shows them.
        Worked out once per definition and clearance."""
        current = self.ledger.definition.get("fields", [])
        fields = (
            current if definition is None else self._stricter(definition.get("fields", []), current)
        )
        clearance = self.write_clearance(capability)
        key = ("closed", id(fields), clearance)
        cached = self._mask_plans.get(key)  # type: ignore[call-overload]
        if cached is None or cached[0] is not fields:
            closed = frozenset(
                spec["key"]
                for spec in fields
                if not _within(spec.get("sensitivity"), clearance)
                or any(
                    not _within(sub.get("sensitivity"), clearance)
                    for sub in (spec.get("options") or {}).get("fields") or []
                )
            )
            cached = self._mask_plans[key] = (fields, closed)  # type: ignore[index]
        return cached[1]

    def unwritable(self, values: Mapping[str, Any], *, capability: str = "update") -> list[str]:
        """The keys of ``values`` the actor may not write by ``capability``
        (``closed_fields``); a key of no field is left to the values' own validation, which
        names it."""
        closed = self.closed_fields(capability=capability)
        return sorted(key for key in values if key in closed)

    def require_writable(self, values: Mapping[str, Any], *, capability: str = "update") -> None:
        """Raise ``AccessDenied`` (403) naming the fields of ``values`` the actor may not write
        by ``capability`` (``unwritable``), whatever the record and the values;
        ``capability``: the write (``create``, ``import`` or ``update``), whose clearance
        decides and which the message and the error name."""
        refused = self.unwritable(values, capability=capability)
        if refused:
            message = (
                "閲覧できない項目には値を入れられません。"
                if capability in ENTRY_CAPABILITIES
                else "閲覧できない項目は変更できません。"
            )
            denied = AccessDenied(message, capability=capability)
            denied.detail["fields"] = refused
            raise denied

    def _mask_plan(
        self, fields: list[Mapping[str, Any]]
    ) -> tuple[dict[str, tuple[bool, list[Mapping[str, Any]] | None]], tuple[str, ...]]:
        """Per field key: readable at this clearance, and the sub-fields to mask inside a
        readable group; and the keys of the live fields it may not read. Worked out once
        per definition, not once per record shown."""
        cached = self._mask_plans.get(id(fields))
        if cached is not None and cached[0] is fields:
            return cached[1]
        plan: dict[str, tuple[bool, list[Mapping[str, Any]] | None]] = {}
        for spec in fields:
            readable = self.can_read_field(spec.get("sensitivity"))
            if spec.get("removed") and not readable:
                # Left out, as a key of no field is. A removed field's value stays only in
                # the records written before the removal and not changed since: masked
                # there and absent elsewhere, the marker told the reader which records
                # held a value, as a marker only where a value is would for a live field.
                continue
            sub_fields = (spec.get("options") or {}).get("fields")
            group = spec.get("type") in {"group", "repeating_group"} and bool(sub_fields)
            plan[spec["key"]] = (readable, sub_fields if readable and group else None)
        hidden = tuple(
            spec["key"] for spec in fields if not spec.get("removed") and not plan[spec["key"]][0]
        )
        if len(self._mask_plans) >= 64:
            self._mask_plans.clear()
        # The fields list is kept with its plan, so that its id cannot be reused meanwhile.
        self._mask_plans[id(fields)] = (fields, (plan, hidden))
        return plan, hidden


def _within(sensitivity: str | None, clearance: str | None) -> bool:
    """Whether a field of ``sensitivity`` (庁内 when unset) is within ``clearance`` (none:
    no field is)."""
    if clearance is None:
        return False
    return Sensitivity.rank(sensitivity or Sensitivity.INTERNAL) <= Sensitivity.rank(clearance)


def stricter_fields(
    old: list[Mapping[str, Any]], current: list[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """``old``'s fields, each (and each sub-field) as sensitive as the stricter of itself
    and the same key in ``current``."""
    by_key = {f["key"]: f for f in current}
    merged: list[Mapping[str, Any]] = []
    for spec in old:
        now = by_key.get(spec["key"])
        if now is None:
            merged.append(spec)
            continue
        stricter = max(
            spec.get("sensitivity") or Sensitivity.INTERNAL,
            now.get("sensitivity") or Sensitivity.INTERNAL,
            key=Sensitivity.rank,
        )
        entry = {**spec, "sensitivity": stricter}
        old_subs = (spec.get("options") or {}).get("fields")
        now_subs = (now.get("options") or {}).get("fields")
        if old_subs and now_subs:
            entry["options"] = {**spec["options"], "fields": stricter_fields(old_subs, now_subs)}
        merged.append(entry)
    return merged


def _sub_fields_departed(old: list[Mapping[str, Any]], current: list[Mapping[str, Any]]) -> bool:
    """Whether a group of ``old`` holds a sub-field its namesake in ``current`` no longer
    does (dropped from the group since)."""
    by_key = {f["key"]: f for f in current}
    for spec in old:
        old_subs = (spec.get("options") or {}).get("fields") or []
        if not old_subs or spec["key"] not in by_key:
            continue
        now_subs = (by_key[spec["key"]].get("options") or {}).get("fields") or []
        if {sub["key"] for sub in old_subs} - {sub["key"] for sub in now_subs}:
            return True
    return False


def with_departed_sub_fields(
    ledger: Ledger, current: list[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """``current`` with each group's sub-fields dropped since (a group's sub-fields are
    replaced whole, so none stays behind as a removed field does) as they last were in
    ``ledger``'s definition versions (one query). What "now" is for such a sub-field when
    an old generation is masked by the stricter of then and now: without it, a sub-field
    raised to 要配慮 and then dropped showed its old generations at the level they were
    written under, plain to a reader the raise had hidden them from. Its last level, not
    its strictest: a level lowered before the drop stays lowered, as for a live field."""
    merged = [dict(spec) for spec in current]
    groups = {spec["key"]: spec for spec in merged if spec.get("type") in GROUP_TYPES}
    for spec in groups.values():
        options = spec.get("options") or {}
        spec["options"] = {**options, "fields": list(options.get("fields") or [])}
    for definition in ledger.versions.order_by("-version").values_list("definition", flat=True):
        for then in (definition or {}).get("fields", []):
            group = groups.get(then.get("key"))
            if group is None:
                continue
            subs = group["options"]["fields"]
            held = {sub["key"] for sub in subs}
            subs.extend(
                sub for sub in (then.get("options") or {}).get("fields") or []
                if sub["key"] not in held
            )  # fmt: skip
    return merged


def strictest_sensitivities(ledger: Ledger) -> dict[str, str | None]:
    """Per field path (``key``, ``group.sub``; removed fields too), the most sensitive level
    it had in any version of ``ledger``'s definition (``stricter_fields`` folded over them;
    one query). What judges a question about values of any generation: a past-generation
    search's criteria, and the terms the audit trail kept (typed when the field may have
    been stricter than now). A field whose sensitivity was lowered since keeps its old
    generations masked (``LedgerPolicy.mask``), and the history must not be read back
    through a search or a search's trail."""
    fields: list[Mapping[str, Any]] = ledger.fields(include_removed=True)
    for definition in ledger.versions.values_list("definition", flat=True):
        fields = stricter_fields(fields, (definition or {}).get("fields", []))
    levels: dict[str, str | None] = {}
    for spec in fields:
        levels[spec["key"]] = spec.get("sensitivity")
        for sub in (spec.get("options") or {}).get("fields") or []:
            levels[f"{spec['key']}.{sub['key']}"] = sub.get("sensitivity")
    return levels


def stricter_of_both(
    first: list[Mapping[str, Any]], second: list[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Every field (and sub-field) of either list, each as sensitive as the stricter of the
    two: the definition two generations are compared under (a diff). ``stricter_fields``
    keeps ``first``'s fields only, and a field added between the generations, unknown to
    the older one, was dropped from both sides."""
    by_key = {f["key"]: f for f in second}
    merged: list[Mapping[str, Any]] = []
    for spec in first:
        other = by_key.pop(spec["key"], None)
        if other is None:
            merged.append(spec)
            continue
        entry = {
            **spec,
            "sensitivity": max(
                spec.get("sensitivity") or Sensitivity.INTERNAL,
                other.get("sensitivity") or Sensitivity.INTERNAL,
                key=Sensitivity.rank,
            ),
        }
        subs = (spec.get("options") or {}).get("fields")
        other_subs = (other.get("options") or {}).get("fields")
        if subs and other_subs:
            entry["options"] = {**spec["options"], "fields": stricter_of_both(subs, other_subs)}
        merged.append(entry)
    return [*merged, *by_key.values()]


def _mask_values(
    values: Mapping[str, Any],
    fields: list[Mapping[str, Any]],
    policy: LedgerPolicy,
    *,
    complete: bool = False,
) -> dict[str, Any]:
    plan, hidden = policy._mask_plan(fields)
    masked: dict[str, Any] = {}
    for key, value in values.items():
        entry = plan.get(key)
        if entry is None:
            continue
        readable, sub_fields = entry
        if not readable:
            masked[key] = dict(MASKED)
        elif sub_fields is not None and isinstance(value, list):
            masked[key] = [
                _mask_values(row, sub_fields, policy, complete=complete)
                if isinstance(row, Mapping)
                else row
                for row in value
            ]
        else:
            masked[key] = value
    if complete:
        for key in hidden:
            if key not in masked:
                masked[key] = dict(MASKED)
    return masked


def _applies(grant: Grant, memberships: list[Membership]) -> list[Membership]:
    return [
        m
        for m in memberships
        if (grant.department_id is None or grant.department_id == m.department_id)
        and (not grant.role or grant.role == m.role)
    ]


def policy_for(
    actor: Any, ledger: Ledger, *, on: date | None = None, viewed_by: Any = None
) -> LedgerPolicy:
    """Compute the policy of ``actor`` on ``ledger`` (two queries).

    With ``viewed_by`` (a ledger administrator previewing a colleague's view, "view as"),
    the policy is the colleague's, read-only; the caller audits the preview.
    """
    memberships = active_memberships(actor, on)
    grants = list(Grant.objects.filter(ledger=ledger).select_related("department"))
    return _policy_from(
        actor, ledger, grants, memberships, admin=is_city_admin(actor, memberships),
        viewed_by=viewed_by,
    )  # fmt: skip


def _policy_from(
    actor: Any,
    ledger: Ledger,
    grants: list[Grant],
    memberships: list[Membership],
    *,
    admin: bool,
    viewed_by: Any = None,
    by_screen: bool = True,
    screen: bool = False,
) -> LedgerPolicy:
    """``policy_for`` from the ledger's grants and the actor's memberships, read already.
    ``by_screen``: keep them for ``LedgerPolicy.for_screen`` when a grant that applies to
    the actor names the screens its search runs, or reads at another clearance than the
    ``view`` grants (``_reads_beyond_view``). ``screen``: the policy a search screen runs
    with (``for_screen``), its clearance that of every grant with a read capability."""
    found = _effective(grants, memberships)
    # Kept for ``for_screen`` only when a screen's policy may differ from this one.
    keeps_grants = by_screen and (_names_screens(grants, memberships) or _reads_beyond_view(found))
    capabilities = found.capabilities
    if admin:
        capabilities.add("design")
    levels = [s.value for s in Sensitivity]
    disclosure = disclosure_field(ledger)
    departments = found.departments
    by_department: tuple[tuple[str, frozenset[str], int, int], ...] = ()
    if disclosure is not None:
        # Only the departments the 照会可否 field lists now: one taken off the list is 不可
        # for every record, whatever its stored flags still say ("disclosure must be
        # granted, never assumed"), as it would be for a record registered since.
        listed = _disclosure_departments(ledger, disclosure)
        departments &= listed
        by_department = tuple(entry for entry in found.by_department if entry[0] in listed)
    return LedgerPolicy(
        actor=actor,
        ledger=ledger,
        capabilities=frozenset(capabilities),
        clearance=levels[rank]
        if (rank := _clearance_rank(found, screen=screen, per_record=disclosure is not None)) >= 0
        else None,
        departments=frozenset(departments),
        entry_clearances=tuple(
            sorted((capability, levels[rank]) for capability, rank in found.entry_ranks.items())
        ),
        viewed_by=viewed_by,
        _disclosure_key=disclosure,
        _disclosure_since=tuple(sorted(disclosure_since(ledger).items())),
        _by_department=by_department,
        _screen=screen,
        _screen_grants=(tuple(grants), tuple(memberships), admin) if keeps_grants else None,
    )


class _Effective(NamedTuple):
    capabilities: set[str]
    #: The rank of the clearance of the grants that give a read capability (-1: none).
    clearance_rank: int
    #: The rank of the clearance of the grants that give ``view`` (-1: none).
    view_rank: int
    #: Per entry capability held (``ENTRY_CAPABILITIES``), its clearance's rank.
    entry_ranks: dict[str, int]
    departments: set[str]
    #: Per department a grant applies through: the record capabilities it gives
    #: (``RECORD_CAPABILITIES``) and the ranks of the clearance of its grants with a read
    #: capability and with ``view`` (-1: none), sorted by code; ``LedgerPolicy.for_record``
    #: combines those a record is disclosed to.
    by_department: list[tuple[str, frozenset[str], int, int]]


def _clearance_rank(found: _Effective, *, screen: bool, per_record: bool) -> int:
    """The policy's clearance's rank: of the grants that give ``view`` when the actor holds
    it (outside a search screen), else of those with a read capability. ``per_record``
    (a ledger with a 照会可否 field, whose ``for_record`` narrows each record's rights to
    the departments it is disclosed to): the highest any record may be read with, each
    department counted as ``for_record`` combines it (its ``view`` grants' clearance where
    it views, its read grants' where it only searches): a desk that searches and updates
    records disclosed to it alone, up to 要配慮, while another department views the ledger
    up to personal data, writes them up to 要配慮 as before."""
    if screen:
        return found.clearance_rank
    if per_record:
        return max(
            (view if "view" in caps else read for _code, caps, read, view in found.by_department),
            default=-1,
        )
    return found.view_rank if "view" in found.capabilities else found.clearance_rank


def _reads_beyond_view(found: _Effective) -> bool:
    """Whether a search screen's policy (every read grant's clearance) would differ from
    the records' (the ``view`` grants' clearance where ``view`` is held): a grant that
    searches at another clearance than the actor's ``view`` grants."""
    return _clearance_rank(found, screen=False, per_record=False) != found.clearance_rank or any(
        read != view for _code, _caps, read, view in found.by_department
    )


def _effective(grants: Iterable[Grant], memberships: list[Membership]) -> _Effective:
    """What ``grants`` of one ledger give the holder of ``memberships``: capabilities (each
    grant capped by the role's ceiling), the read clearance's rank (from the grants that
    give a read capability), the entry clearances' ranks (per entry capability, from the
    grants that give it: a grant to ``create`` at 要配慮 lets its holder register such
    values without reading any), the departments through which it may view or search,
    and what each department gives on records."""
    capabilities: set[str] = set()
    clearance_rank = view_rank = -1
    entry_ranks: dict[str, int] = {}
    departments: set[str] = set()
    per_department: dict[str, tuple[set[str], int, int]] = {}
    for grant in grants:
        holders = _applies(grant, memberships)
        if not holders:
            continue
        granted = set(grant.capabilities)
        for membership in holders:
            effective = granted & ROLE_CEILING.get(membership.role, frozenset())
            capabilities |= effective
            code = membership.department.code
            if effective & {"view", "search"}:
                departments.add(code)
            rank = Sensitivity.rank(grant.clearance)
            read = bool(effective & READ_CAPABILITIES)
            views = "view" in effective
            if read:
                clearance_rank = max(clearance_rank, rank)
            if views:
                view_rank = max(view_rank, rank)
            for capability in ENTRY_CAPABILITIES:
                if capability in effective:
                    entry_ranks[capability] = max(entry_ranks.get(capability, -1), rank)
            on_records = effective & RECORD_CAPABILITIES
            if on_records:
                caps, read_rank, department_view = per_department.get(code, (set(), -1, -1))
                per_department[code] = (
                    caps | on_records,
                    max(read_rank, rank) if read else read_rank,
                    max(department_view, rank) if views else department_view,
                )
    by_department = sorted(
        (code, frozenset(caps), read, view) for code, (caps, read, view) in per_department.items()
    )
    return _Effective(
        capabilities, clearance_rank, view_rank, entry_ranks, departments, by_department
    )


def _names_screens(grants: Iterable[Grant], memberships: list[Membership]) -> bool:
    """Whether a grant that applies to the holder of ``memberships`` names the search
    screens its ``search`` runs (else every screen runs with the policy itself)."""
    return any(g.search_screens is not None and _applies(g, memberships) for g in grants)


def _allows(grant: Grant, screen: str) -> bool:
    """Whether ``grant``'s ``search`` runs the search screen ``screen``."""
    return grant.search_screens is None or screen in grant.search_screens


def _runnable(
    ledger: Ledger, grants: Iterable[Grant], memberships: list[Membership]
) -> list[str] | None:
    """The codes of ``ledger``'s search screens that the grants allowing each give the
    holder of ``memberships`` ``search`` on (``LedgerPolicy.for_screen``), in the
    definition's order; ``None`` when no grant that applies names screens."""
    grants = list(grants)
    if not _names_screens(grants, memberships):
        return None
    return [
        screen["code"]
        for screen in ledger.definition.get("search_screens", [])
        if "search"
        in _effective([g for g in grants if _allows(g, screen["code"])], memberships).capabilities
    ]


def rights_by_ledger(
    actor: Any, ledgers: list[Ledger]
) -> dict[int, tuple[frozenset[str], list[str] | None]]:
    """For each of ``ledgers``, ``policy_for(actor, ledger)``'s capabilities and
    ``runnable_screens()``, in three queries whatever their number (the ledgers list
    asked two or three per ledger)."""
    memberships = active_memberships(actor)
    admin = is_city_admin(actor, memberships)
    grants: dict[int, list[Grant]] = {}
    for grant in Grant.objects.filter(ledger__in=ledgers).select_related("department"):
        grants.setdefault(grant.ledger_id, []).append(grant)
    found: dict[int, tuple[frozenset[str], list[str] | None]] = {}
    for ledger in ledgers:
        held = grants.get(ledger.pk, [])
        capabilities = _effective(held, memberships).capabilities
        if admin:
            capabilities.add("design")
        found[ledger.pk] = (frozenset(capabilities), _runnable(ledger, held, memberships))
    return found


def capabilities_by_ledger(actor: Any, ledgers: list[Ledger]) -> dict[int, frozenset[str]]:
    """``policy_for(actor, ledger).capabilities`` for each of ``ledgers`` (``rights_by_ledger``)."""
    return {pk: rights[0] for pk, rights in rights_by_ledger(actor, ledgers).items()}


def break_glass_policy(actor: Any, ledger: Ledger) -> LedgerPolicy:
    """Read access to every record and field, for a recorded emergency (see services)."""
    base = policy_for(actor, ledger)
    return LedgerPolicy(
        actor=actor, ledger=ledger, capabilities=frozenset({"view"}),
        clearance=Sensitivity.SPECIAL_CARE.value, departments=base.departments,
        break_glass=True, _disclosure_key=base._disclosure_key,
        _disclosure_since=base._disclosure_since,
    )  # fmt: skip


def ledgers_with(
    user: Any, capability: str, memberships: list[Membership] | None = None
) -> set[str]:
    """The codes of the ledgers whose grants give ``user`` ``capability`` today (within its
    roles' ceilings), as ``policy_for`` would for each: one query for all of them."""
    memberships = active_memberships(user) if memberships is None else memberships
    by_ledger: dict[str, list[Grant]] = {}
    grants = Grant.objects.filter(capabilities__contains=[capability]).select_related(
        "ledger", "department"
    )
    for grant in grants:
        by_ledger.setdefault(grant.ledger.code, []).append(grant)
    return {
        code
        for code, found in by_ledger.items()
        if capability in _effective(found, memberships).capabilities
    }
