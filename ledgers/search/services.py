"""Running a search screen: through the access policy, audited, with its exclusions.

Every search is an audit event with its screen, terms and reason. Criteria on fields the
screen excludes are refused, excluded fields never appear in results, and results are
masked by the searcher's clearance like any other output.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Q, TextField, Value
from django.db.models.functions import Concat, StrIndex
from django.db.models.lookups import GreaterThan

from daicho.tenancy.guard import require_tenant
from ledgers.access.policy import LedgerPolicy, policy_for
from ledgers.audit.services import audit_record
from ledgers.definitions.models import Ledger
from ledgers.exceptions import LedgerError
from ledgers.fields.exceptions import FieldError
from ledgers.records.models import Record
from ledgers.search.index import SEP, normaliser_for
from ledgers.search.keys import query_keys
from ledgers.search.models import SearchValue
from ledgers.search.normalize import parse_date_query
from ledgers.search.query import match_condition
from ledgers.search.screens import field_paths, is_excluded


class SearchError(LedgerError):
    code = "ERROR_SEARCH_INVALID"


class SearchScreenNotFound(LedgerError):
    code = "ERROR_SEARCH_SCREEN_DOES_NOT_EXIST"
    status = 404


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

    def values_of(self, hit: SearchHit) -> dict[str, Any]:
        """The result fields only, masked by the searcher's clearance; excluded never."""
        shown = {k: v for k, v in hit.record.data.items() if k in self.screen["result_fields"]}
        return self.policy.mask(shown)


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


def _current_condition(path: str, field: dict[str, Any], match: str, raw: Any) -> Q:
    if match == "range":
        start, end = _date_range(path, raw)
        return Q(
            **{
                f"data__{path}__gte": start.isoformat(),
                f"data__{path}__lte": end.isoformat() + "\uffff",
            }
        )
    if field["type"] in {"date", "datetime"}:
        start, _end = _date_range(path, raw)
        raw = start.isoformat()
    return match_condition(path, field["type"], str(raw), match)


def _history_rows(
    ledger: Ledger, path: str, field: dict[str, Any], match: str, raw: Any
) -> list[tuple[uuid.UUID, int, int]]:
    """(record, first, last generation) of every value ever held at ``path`` that matches."""
    values = SearchValue.objects.filter(ledger_id=ledger.pk, path=path)
    if match == "range" or field["type"] in {"date", "datetime"}:
        start, end = _date_range(path, raw)
        values = values.filter(value__gte=start.isoformat(), value__lte=end.isoformat() + "\uffff")
    else:
        query = normaliser_for(field["type"])(str(raw))
        if not query:
            return []
        needle = {"contains": query, "prefix": SEP + query, "exact": SEP + query + SEP}[match]
        wrapped = Concat(Value(SEP), "value", Value(SEP), output_field=TextField())
        values = values.filter(keys__contains=query_keys(path, query, match)).filter(
            GreaterThan(StrIndex(wrapped, Value(needle)), 0)
        )
    return list(values.values_list("record_id", "first_generation", "last_generation"))


def search_run(
    *,
    actor: Any,
    ledger: Ledger,
    screen_code: str,
    criteria: dict[str, Any],
    reason: str = "",
    page: int = 1,
    page_size: int | None = None,
) -> SearchResult:
    """Run one search screen for ``actor``; raises ``SearchError`` on a bad request."""
    require_tenant()
    policy = policy_for(actor, ledger)
    policy.require("search")
    screen = _screen(ledger, screen_code)
    if screen["reason_required"] and len((reason or "").strip()) < 2:
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
    problems: dict[str, list[str]] = {}
    for path in criteria:
        if is_excluded(path, excluded):
            problems[path] = ["この検索画面ではこの項目で検索できません（除外項目）。"]
        elif path not in allowed:
            problems[path] = ["この検索画面の検索条件にない項目です。"]
        elif not policy.can_read_field(paths[path].get("sensitivity")):
            problems[path] = ["この項目で検索する権限がありません。"]
    if problems:
        raise SearchError("検索条件に誤りがあります。", detail={"criteria": problems})
    terms = {path: value for path, value in criteria.items() if value not in (None, "", {})}
    limit = min(page_size or screen["max_results"], screen["max_results"])
    page = max(1, int(page))
    # The index columns are large and never shown: leave them in the database.
    visible = policy.records(Record.objects.filter(deleted_at__isnull=True)).defer(
        "search_keys", "search_text"
    )
    matched: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    if screen["generations"] == "all":
        candidate_ids: set[uuid.UUID] | None = None
        for path, raw in terms.items():
            rows = _history_rows(ledger, path, paths[path], allowed[path]["match"], raw)
            ids = {record_id for record_id, _f, _l in rows}
            candidate_ids = ids if candidate_ids is None else candidate_ids & ids
            for record_id, first, last in rows:
                matched[record_id].append(
                    {"field": path, "generation": first, "generations": [first, last]}
                )
        queryset = visible.filter(pk__in=list(candidate_ids or []))
    else:
        condition = Q()
        for path, raw in terms.items():
            condition &= _current_condition(path, paths[path], allowed[path]["match"], raw)
        queryset = visible.filter(condition)
    window = list(queryset.order_by("-updated_at", "-id")[(page - 1) * limit : page * limit + 1])
    has_next = len(window) > limit and page * limit < screen["max_results"]
    records = window[:limit]
    hits = []
    for record in records:
        if screen["generations"] == "all":
            found = sorted(matched[record.pk], key=lambda m: (m["field"], m["generation"]))
        else:
            found = [{"field": path, "generation": record.generation} for path in terms]
        hits.append(SearchHit(record=record, matched=found))
    audit_record(
        actor=actor, action="search.run", ledger_code=ledger.code,
        details={
            "screen": screen_code, "terms": terms, "reason": (reason or "").strip(),
            "page": page, "results": [str(h.record.pk) for h in hits],
        },
    )  # fmt: skip
    return SearchResult(screen=screen, hits=hits, page=page, has_next=has_next, policy=policy)
