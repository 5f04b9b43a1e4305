"""Running a search screen: through the access policy, audited, with its exclusions.

Every search is an audit event with its screen, terms and reason. Criteria on fields the
screen excludes are refused (audited as ``search.refused``, with the fields and no term),
excluded fields never appear in results, and results are masked by the searcher's
clearance like any other output.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import Q, TextField, Value
from django.db.models.functions import Concat, StrIndex
from django.db.models.lookups import GreaterThan

from daicho.tenancy.guard import require_tenant
from ledgers.access.policy import LedgerPolicy, policy_for, strictest_sensitivities
from ledgers.audit.context import audit_details_json
from ledgers.audit.services import audit_record
from ledgers.definitions.models import Ledger
from ledgers.exceptions import AccessDenied, LedgerError
from ledgers.fields.exceptions import FieldError
from ledgers.fields.normalize import (
    ANY_CONTROL_RE,
    INVISIBLES,
    code_points,
    text_problem,
    texts_in,
    unseen_removed,
)
from ledgers.records.models import Record
from ledgers.records.references import references_hidden
from ledgers.search.index import SEP, normaliser_for, query_stored_keys, text_values
from ledgers.search.keys import exact_key, key_prefix, recheck, stored_keys
from ledgers.search.models import SearchValue
from ledgers.search.normalize import parse_date_query
from ledgers.search.query import normalised_condition, recheck_needle
from ledgers.search.screens import DATE_TYPES, UNSEARCHABLE, field_paths, is_excluded


class SearchError(LedgerError):
    code = "ERROR_SEARCH_INVALID"


class SearchScreenNotFound(LedgerError):
    code = "ERROR_SEARCH_SCREEN_DOES_NOT_EXIST"
    status = 404


class SearchScreenNotGranted(AccessDenied):
    """The caller may search the ledger, but no grant of theirs allows this screen
    (``Grant.search_screens``: a 窓口 allowed 加害者検索 only, asking 本人検索)."""

    code = "ERROR_SEARCH_SCREEN_NOT_GRANTED"


@dataclass
class SearchHit:
    record: Record
    matched: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SearchResult:
    screen: dict[str, Any]
    hits: list[SearchHit]
    page: int
    has_next: bool
    policy: LedgerPolicy

    def shown_values(self) -> list[dict[str, Any]]:
        """``values_of`` each hit, with every reference to a record out of the searcher's
        sight masked (``references_hidden``: its queries once for the page)."""
        return references_hidden(
            policy=self.policy, values_list=[self.values_of(hit) for hit in self.hits]
        )

    def values_of(self, hit: SearchHit) -> dict[str, Any]:
        """The result fields only, masked by the searcher's clearance; excluded never: an
        excluded sub-field (``offenders.address``) is taken out of every row of its group.
        A result field above the clearance is masked whether it holds a value or not (a
        marker only where a value was told which records hold a hidden address)."""
        result_fields = self.screen["result_fields"]
        shown = {k: v for k, v in hit.record.data.items() if k in result_fields}
        # As the policy applies to the record (``for_record``: through the departments it
        # is disclosed to, on a ledger with a 照会可否 field).
        applies = self.policy.for_record(
            hit.record.data, written_under=hit.record.definition_version
        )
        masked = applies.mask(shown, complete=True, written_under=hit.record.definition_version)
        shown = {k: v for k, v in masked.items() if k in result_fields}
        for group, subs in _excluded_subs(self.screen).items():
            rows = shown.get(group)
            if isinstance(rows, list):
                shown[group] = [
                    {k: v for k, v in row.items() if k not in subs}
                    if isinstance(row, Mapping)
                    else row
                    for row in rows
                ]
        return shown


#: The longest search term, in characters (stored values are indexed up to 500).
MAX_TERM = 200


def _meaningful(text: str | None) -> int:
    """How many letters and digits ``text`` holds: a reason of invisible characters (U+200B,
    U+2800, U+3164) or marks only is no reason. Modifier letters (Lm) are marks here: the
    long-vowel mark, 々 and ゝ lengthen or repeat the letter before them, and 「ーー」 or
    「々々」 alone is a dash or a ditto, which read as two letters and passed."""
    return sum(
        1
        for char in text or ""
        if (category := unicodedata.category(char))[0] in "LN"
        and category != "Lm"
        and char not in _INVISIBLE_LETTERS
    )


#: Letters by category that show nothing (the Hangul fillers among them: default-ignorable).
_INVISIBLE_LETTERS = frozenset(map(chr, code_points(INVISIBLES)))


def as_searched(terms: Any) -> Any:
    """Search terms (or a list's filters) as the audit trail keeps them: as the search read
    them, without the bidirectional controls and invisible characters it drops
    (``unseen_removed``). Kept as typed, 「山田\u202e花子」 found 山田花子 and read 「山田子花」
    in the trail (U+202E turns the rest around on screen): who looked up whom, which the
    trail is read for, read as someone else."""
    if isinstance(terms, str):
        return unseen_removed(terms)
    if isinstance(terms, dict):
        return {key: as_searched(value) for key, value in terms.items()}
    if isinstance(terms, list):
        return [as_searched(value) for value in terms]
    return terms


def _excluded_subs(screen: Mapping[str, Any]) -> dict[str, set[str]]:
    """The screen's excluded sub-fields by group (``{"offenders": {"address"}}``)."""
    subs: dict[str, set[str]] = {}
    for path in screen.get("excluded_fields", []):
        group, dot, sub = path.partition(".")
        if dot:
            subs.setdefault(group, set()).add(sub)
    return subs


def _screen(ledger: Ledger, code: str) -> dict[str, Any]:
    for screen in ledger.definition.get("search_screens", []):
        if screen["code"] == code:
            return screen
    raise SearchScreenNotFound("検索画面が見つかりません。", detail={"screen": code})


def _date_range(path: str, raw: Any) -> tuple[date, date]:
    text = f"{raw.get('from', '')}〜{raw.get('to', '')}" if isinstance(raw, dict) else str(raw)
    try:
        return parse_date_query(text)
    except FieldError as exc:
        raise SearchError(exc.message, detail={"criteria": {path: [exc.message]}}) from None


# A date range of up to this many days is also looked up by the days' exact keys, so an
# exact birth date (or a month, or a year) narrows through the index instead of a filter
# over every candidate of the other criteria. Longer ranges (昭和40年代) filter only.
MAX_KEYED_DAYS = 366


def _day_keys(prefix: str, start: date, end: date) -> list[int] | None:
    days = (end - start).days + 1
    if days > MAX_KEYED_DAYS:
        return None
    return stored_keys(
        exact_key(prefix, (start + timedelta(days=offset)).isoformat()) for offset in range(days)
    )


@dataclass(frozen=True)
class _Criterion:
    """One term of a search, parsed once. Its three uses read the same parse, so they
    cannot disagree about what it means: the condition on the records' current values
    (SQL), the matching rows of the past-generation index (SQL), and whether a record of
    the page matches now (Python, for the match details).

    A date criterion ("exact" or "range") means the days it names (a date, a month,
    昭和60年代); a datetime value is in a day when its ISO text starts with it. Any other
    criterion is its normalised query with the screen's match.
    """

    ledger_id: int
    path: str
    type_id: str
    match: str
    days: tuple[date, date] | None = None
    query: str = ""

    @classmethod
    def parse(
        cls, ledger: Ledger, path: str, field: dict[str, Any], match: str, raw: Any
    ) -> _Criterion:
        if match == "range" or field["type"] in DATE_TYPES:
            start, end = _date_range(path, raw)
            if "." in path and start != end:
                # A group's dates are compared by their text (screens refuse ranges there).
                message = "繰り返し項目の日付は1日で指定してください。"
                raise SearchError(message, detail={"criteria": {path: [message]}})
            return cls(ledger.pk, path, field["type"], match, days=(start, end))
        if not isinstance(raw, str | int) or isinstance(raw, bool):
            # A list, an object, a truth value or a fraction was searched for as its Python
            # spelling ("['男', '女']"): it found nothing, and said nothing.
            message = "検索語は文字で指定してください。"
            raise SearchError(message, detail={"criteria": {path: [message]}})
        query = normaliser_for(field["type"])(str(raw))
        if not query:
            # Only spaces, marks or invisible characters: nothing to look for.
            message = "検索できる文字が含まれていません。"
            raise SearchError(message, detail={"criteria": {path: [message]}})
        return cls(ledger.pk, path, field["type"], match, query=query)

    def current(self) -> Q:
        """The records whose current values match."""
        if self.days is None:
            return normalised_condition(
                self.ledger_id, self.path, self.type_id, self.query, self.match
            )
        start, end = self.days
        if "." in self.path:
            day_match = "exact" if self.type_id == "date" else "prefix"
            return normalised_condition(
                self.ledger_id, self.path, self.type_id, start.isoformat(), day_match
            )
        condition = Q(
            **{
                f"data__{self.path}__gte": start.isoformat(),
                f"data__{self.path}__lte": end.isoformat() + "\uffff",
            }
        )
        if self.type_id == "date":
            keys = _day_keys(key_prefix(self.ledger_id, self.path), start, end)
            if keys is not None:
                lookup = "contains" if len(keys) == 1 else "overlap"
                condition &= Q(**{f"search_keys__{lookup}": keys})
        return condition

    def past(self) -> Any:
        """The past-generation index rows (values a record no longer holds) that match."""
        values = SearchValue.objects.filter(ledger_id=self.ledger_id, path=self.path)
        if self.days is not None:
            start, end = self.days
            return values.filter(
                value__gte=start.isoformat(), value__lte=end.isoformat() + "\uffff"
            )
        if not self.query:
            return values.none()
        needle = recheck_needle(self.query, self.match)
        wrapped = Concat(Value(SEP), "value", Value(SEP), output_field=TextField())
        keys = query_stored_keys(self.ledger_id, self.path, self.type_id, self.query, self.match)
        if keys:
            values = values.filter(keys__contains=keys)
        return values.filter(GreaterThan(StrIndex(wrapped, Value(needle)), 0))

    def matches(self, record: Record) -> bool:
        """Whether the record's current values match (the query itself ran in SQL)."""
        values = text_values(record.search_text.get(self.path))
        if self.days is not None:
            start, end = self.days
            return any(start.isoformat() <= v[:10] <= end.isoformat() for v in values)
        return bool(self.query) and any(recheck(v, self.query, self.match) for v in values)  # type: ignore[arg-type]


#: How many of a ledger's most recently updated records a search over every generation
#: reads in order before it looks the candidates up instead (``_every_generation_window``).
RECENT_WINDOW = 20_000


def _every_generation_window(
    ledger: Ledger, visible: Any, criteria: list[_Criterion], start: int, stop: int
) -> list[Record]:
    """Rows ``start:stop`` of the records (newest first) where every criterion matches a
    current value or a value of a past generation.

    Measured on a million records (docs/benchmarks.md): a term that many records held
    (濱田, 佐藤) is found fastest by reading the records newest first and keeping those that
    match now or whose past values (looked up once, hashed) match; a rare term by looking
    its candidates up in both indexes and sorting them. The planner cannot tell the two
    apart (it multiplies the n-gram frequencies), so the search first reads the newest
    ``RECENT_WINDOW`` records in order; if the page is full from them it is exact (they
    are a prefix of the order), otherwise the term is rare and the candidates are few.
    """
    ordered = ("-updated_at", "-id")
    conditions = [(criterion.current(), criterion.past()) for criterion in criteria]
    matches = Q()
    for now, past in conditions:
        matches &= now | Q(pk__in=past.values("record_id"))
    bound = (
        Record.objects.filter(ledger_id=ledger.pk)
        .order_by("-updated_at")
        .values_list("updated_at", flat=True)[RECENT_WINDOW - 1 : RECENT_WINDOW]
    )
    oldest = next(iter(bound), None)
    recent = visible.filter(matches)
    if oldest is not None:
        recent = recent.filter(updated_at__gte=oldest)
    window = list(recent.order_by(*ordered)[start:stop])
    if oldest is None or len(window) == stop - start:
        return window
    queryset = visible
    current = Record.objects.filter(ledger_id=ledger.pk, deleted_at__isnull=True)
    for now, past in conditions:
        candidates = current.filter(now).values("pk").union(past.values("record_id"))
        queryset = queryset.filter(pk__in=candidates)
    return list(queryset.order_by(*ordered)[start:stop])


# The search and its audit event in one statement: the event lists the ids of the page
# shown (not the look-ahead row), in order.
_AUDITED_SEARCH = """
WITH hits AS ({search}),
audit AS (
    INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, record_id, generation, details)
    SELECT %s, 'search.run', %s, NULL, NULL, %s::jsonb || jsonb_build_object('results',
        coalesce((SELECT jsonb_agg(shown.id::text ORDER BY shown.position)
                  FROM (SELECT id, row_number() OVER () AS position FROM hits) AS shown
                  WHERE shown.position <= %s), '[]'::jsonb))
)
SELECT * FROM hits ORDER BY updated_at DESC, id DESC
"""


def _audited_window(
    queryset: Any, *, actor: Any, ledger: Ledger, details: dict[str, Any], shown: int
) -> list[Record]:
    """Run a page of a search and write its audit event with one statement (one round
    trip and one commit less than writing the event after)."""
    require_tenant()
    try:
        search, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        # The policy lets the searcher see no record (its departments are off the 照会可否
        # list): nothing to run, but the search is audited all the same. It was a server
        # error with no event, so such a clerk's look for a person left no trace.
        audit_record(
            actor=actor, action="search.run", ledger_code=ledger.code,
            details={**details, "results": []},
        )  # fmt: skip
        return []
    statement = _AUDITED_SEARCH.format(search=search)
    details_json = audit_details_json(details)  # with the request's API token, if any
    return list(
        Record.objects.raw(
            statement, [*params, getattr(actor, "pk", None), ledger.code, details_json, shown]
        )
    )


def _audit_refused(
    actor: Any, ledger: Ledger, screen_code: str, reason: str | None, **why: Any
) -> None:
    """The ``search.refused`` event of a search refused before it searched: the screen,
    why (``refused``: the screen not granted; ``fields``: each criterion refused and why)
    and the reason given, never the terms."""
    audit_record(
        actor=actor, action="search.refused", ledger_code=ledger.code,
        details={"screen": screen_code, **why, "reason": (reason or "").strip()},
    )  # fmt: skip


def search_run(
    *,
    actor: Any,
    ledger: Ledger,
    screen_code: str,
    criteria: dict[str, Any],
    reason: str = "",
    page: int = 1,
    page_size: int | None = None,
    policy: LedgerPolicy | None = None,
) -> SearchResult:
    """Run one search screen for ``actor``; raises ``SearchError`` on a bad request.

    ``policy`` is the actor's on ``ledger`` when the caller has it (computed otherwise)."""
    require_tenant()
    if policy is None:
        policy = policy_for(actor, ledger)
    elif policy.actor is not actor or policy.ledger.pk != ledger.pk:
        raise ValueError("the policy given is not the actor's on this ledger")
    if not policy.can("search"):
        # A look for a person by someone not allowed to search (a department that may only
        # view, a city administrator): audited as a screen not granted is, without the
        # terms; a reason the trail could not keep as read is left out. No event for a
        # screen the ledger has not (the code typed is no screen's).
        if any(s["code"] == screen_code for s in ledger.definition.get("search_screens", [])):
            kept = reason if isinstance(reason, str) and not text_problem(reason) else ""
            _audit_refused(actor, ledger, screen_code, kept, refused="search_not_granted")
        policy.require("search")
    screen = _screen(ledger, screen_code)
    problem = text_problem(reason) if isinstance(reason, str) and reason else None
    if problem is not None:
        # Kept in the audit trail as typed: one that reorders or hides its letters would
        # mislead the auditor who reads who looked up whom, and why.
        raise SearchError(f"照会理由に{problem}。", detail={"reason": "invalid_character"})
    # The screen by the grants that allow it only (``LedgerPolicy.for_screen``): one that
    # does not (a 窓口 allowed 加害者検索 only) gives this search no right, record or
    # clearance. Refused, it is audited as the refused criteria are, without the terms.
    screen_policy = policy.for_screen(screen_code)
    if not screen_policy.can("search"):
        _audit_refused(actor, ledger, screen_code, reason, refused="screen_not_granted")
        denied = SearchScreenNotGranted(
            f"検索画面「{screen['name']}」を使う権限がありません。", capability="search"
        )
        denied.detail["screen"] = screen_code
        raise denied
    policy = screen_policy
    if screen["reason_required"] and _meaningful(reason) < 2:
        raise SearchError(
            "この検索画面では照会理由の入力が必要です。", detail={"reason": "required"}
        )
    if not isinstance(criteria, dict) or not any(
        v not in (None, "", {}) for v in criteria.values()
    ):
        raise SearchError("検索条件を1つ以上入力してください。")
    excluded = set(screen["excluded_fields"])
    allowed = {c["field"]: c for c in screen["criteria"]}
    paths = field_paths(ledger.fields())
    # A search over every generation matches old values, which every other output masks
    # by the stricter of their sensitivity then and now: its criteria are judged by the
    # strictest each field ever had (a sensitivity lowered since made it a guessing oracle
    # for values the history shows masked).
    level = (
        strictest_sensitivities(ledger)
        if screen["generations"] == "all"
        else {path: spec.get("sensitivity") for path, spec in paths.items()}
    )
    problems: dict[str, list[str]] = {}
    # Why each criterion the screen does not let this searcher ask was refused: what the
    # ``search.refused`` event keeps (the paths and these words, never the terms).
    refused: dict[str, str] = {}
    for path in criteria:
        if is_excluded(path, excluded):
            problems[path] = ["この検索画面ではこの項目で検索できません（除外項目）。"]
            refused[path] = "excluded"
        elif path not in allowed:
            problems[path] = ["この検索画面の検索条件にない項目です。"]
            refused[path] = "not_a_criterion"
        elif paths.get(path, {}).get("type") in UNSEARCHABLE:
            # A screen saved before its type became unsearchable (``reference``).
            problems[path] = ["この項目の型では検索できません。"]
            refused[path] = "unsearchable"
        elif not policy.can_read_field(level.get(path)) or not (
            # a sub-field of a group the searcher sees masked is masked with it
            policy.can_read_field(level.get(path.split(".", 1)[0]))
        ):
            problems[path] = ["この項目で検索する権限がありません。"]
            refused[path] = "above_clearance"
    if refused:
        # A criterion on a field the screen excludes (加害者検索 and the victim's address),
        # names no criterion of it, or the searcher may not read, is a probe of what the
        # screen is there to withhold: answered 400 with nothing searched, it left no trace
        # (a refused read of a record by its id leaves ``record.refused``).
        _audit_refused(actor, ledger, screen_code, reason, fields=refused)
    for path, value in criteria.items():
        if path not in problems and any(
            ANY_CONTROL_RE.search(t) for t in texts_in(value, scalars=True)
        ):
            # PostgreSQL refuses a NUL in text: a server error that logged the statement.
            problems[path] = ["制御文字は指定できません。"]
        elif (
            path not in problems
            and max(map(len, texts_in(value, scalars=True)), default=0) > MAX_TERM
        ):
            # No stored value is longer than the index keeps, and a long term costs its
            # normalisation, keys and audit event: 600 kB of kanji took 11–19 s.
            problems[path] = [f"検索語は{MAX_TERM}文字までにしてください。"]
    if problems:
        raise SearchError("検索条件に誤りがあります。", detail={"criteria": problems})
    terms = {path: value for path, value in criteria.items() if value not in (None, "", {})}
    limit = min(page_size or screen["max_results"], screen["max_results"])
    page = max(1, int(page))
    # The screen's cap holds for every page: a page past it is refused, the last one cut.
    first = (page - 1) * limit
    if first >= screen["max_results"]:
        raise SearchError(
            f"この検索画面で表示できるのは{screen['max_results']}件までです。",
            detail={"page": page, "max_results": screen["max_results"]},
        )
    limit_here = min(limit, screen["max_results"] - first)
    every_generation = screen["generations"] == "all"
    # The index columns are large and never shown: leave them in the database (but for the
    # normalised values, which tell a page over every generation what matches now).
    visible = policy.records(Record.objects.filter(deleted_at__isnull=True)).defer(
        "search_keys", *(() if every_generation else ("search_text",))
    )
    # Only the records that show the searcher the fields searched (``readable_filter``: on a
    # ledger with a 照会可否 field, one disclosed only to departments that may not read
    # them shows them masked, and must not answer a question about them either).
    readable = policy.readable_filter(
        *(level.get(p) for path in terms for p in (path, path.split(".", 1)[0]))
    )
    if readable:  # Q(): every department the searcher views through may read them
        visible = visible.filter(readable)
    start, stop = first, first + limit_here + 1
    audit_details = {
        "screen": screen_code, "terms": as_searched(terms), "reason": (reason or "").strip(),
        "page": page,
    }  # fmt: skip
    parsed = [
        _Criterion.parse(ledger, path, paths[path], allowed[path]["match"], raw)
        for path, raw in terms.items()
    ]
    if every_generation:
        window = _every_generation_window(ledger, visible, parsed, start, stop)
    else:
        condition = Q()
        for criterion in parsed:
            condition &= criterion.current()
        window = _audited_window(
            visible.filter(condition).order_by("-updated_at", "-id")[start:stop],
            actor=actor, ledger=ledger, details=audit_details, shown=limit_here,
        )  # fmt: skip
    has_next = len(window) > limit_here and first + limit_here < screen["max_results"]
    records = window[:limit_here]
    hits = []
    if every_generation and records:
        # Which field matched in which generation, for this page only.
        ids = [record.pk for record in records]
        past_found: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
        for criterion in parsed:
            rows = criterion.past().filter(record_id__in=ids)
            for record_id, generation in rows.values_list("record_id", "generation"):
                past_found[record_id].append({"field": criterion.path, "generation": generation})
        for record in records:
            found = list(past_found[record.pk])
            for criterion in parsed:
                if criterion.matches(record):
                    found.append({"field": criterion.path, "generation": record.generation})
            # Once each: a value is indexed in up to two forms (``name_forms``), and a row
            # of a group may hold the term twice; both left in one generation.
            unique = {(m["field"], m["generation"]): m for m in found}
            hits.append(SearchHit(record=record, matched=[unique[key] for key in sorted(unique)]))
    else:
        for record in records:
            found = [{"field": path, "generation": record.generation} for path in terms]
            hits.append(SearchHit(record=record, matched=found))
    if every_generation:
        audit_record(
            actor=actor, action="search.run", ledger_code=ledger.code,
            details={**audit_details, "results": [str(h.record.pk) for h in hits]},
        )  # fmt: skip
    return SearchResult(screen=screen, hits=hits, page=page, has_next=has_next, policy=policy)
