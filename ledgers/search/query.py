"""Conditions on the search index: n-gram keys narrow, a plain strpos rechecks.

The keys (GIN on ``Record.search_keys``) find candidates for 1-, 2- and longer queries
alike; the recheck runs on the stored normalised text and is written so that the planner
can neither use nor estimate it (``strpos(...) > 0``), which keeps it from combining a
second, useless index (SEARCH_NOTES.md, pitfall 6).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, Value
from django.db.models.fields.json import KT
from django.db.models.functions import StrIndex
from django.db.models.lookups import GreaterThan

from ledgers.definitions.models import Ledger
from ledgers.search.index import SEP, normaliser_for, query_stored_keys

MATCHES = ("exact", "prefix", "contains")


def recheck_needle(query: str, match: str) -> str:
    """What a stored ``SEP value SEP`` text must contain for a normalised ``query`` to match
    one of its values (``strpos(text, needle) > 0``)."""
    return {"contains": query, "prefix": SEP + query, "exact": SEP + query + SEP}[match]


def match_condition(
    ledger_id: int, path: str, type_id: str, raw: str, match: str, *, column: str = "search"
) -> Q:
    """Rows whose value at ``path`` matches ``raw`` (normalised as the index is)."""
    query = normaliser_for(type_id)(raw)
    return normalised_condition(ledger_id, path, type_id, query, match, column=column)


def normalised_condition(
    ledger_id: int, path: str, type_id: str, query: str, match: str, *, column: str = "search"
) -> Q:
    """``match_condition`` for a query already normalised."""
    if match not in MATCHES:
        raise ValueError(match)
    if not query:
        return Q(pk__in=[])
    needle = recheck_needle(query, match)
    keys = query_stored_keys(ledger_id, path, type_id, query, match)
    text = KT(f"{column}_text__{path}")
    recheck = Q(GreaterThan(StrIndex(text, Value(needle)), 0))
    # No keys: the index cannot narrow this query (see query_stored_keys); the recheck
    # alone decides, over the ledger's rows.
    return Q(**{f"{column}_keys__contains": keys}) & recheck if keys else recheck


def group_contains_filter(
    ledger: Ledger, key: str, sub_fields: list[dict[str, Any]], raw: str
) -> Q:
    """The API's ``<group>__contains=``: a row's value in one of ``sub_fields`` (those the
    reader may read) contains ``raw``. The index holds a group by its sub-fields' paths
    (``offenders.name``), so the group's own key matched nothing, whatever its rows held."""
    condition = Q(pk__in=[])
    for sub in sub_fields:
        condition |= match_condition(ledger.pk, f"{key}.{sub['key']}", sub["type"], raw, "contains")
    return condition


def contains_filter(ledger: Ledger, key: str, raw: str) -> Q:
    """The API's ``<key>__contains=`` filter on a record's current values."""
    field: dict[str, Any] | None = next((f for f in ledger.fields() if f["key"] == key), None)
    if field is None:
        return Q(pk__in=[])
    return match_condition(ledger.pk, key, field["type"], raw, "contains")
