"""Records built from the rows of a statement written by hand, as the ORM would build them.

``Record.objects.raw`` resolves a statement's columns to fields and compiles their
converters on every call (~0.8 ms of a record read, measured 2026-11-29). Here that is
done once per statement: a statement's columns never change, and psycopg builds its column
descriptions anew on every access to ``cursor.description``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections

from ledgers.records.models import Record

# Per statement: each column's field attribute, and the converters Django applies to it
# when it loads a model (JSONField's, the backend's).
_PLANS: dict[str, tuple[list[str], list[tuple[int, list[Any], Any]]]] = {}


def has_plan(sql: str) -> bool:
    """Whether ``records_from_rows`` already knows ``sql``'s columns (then it needs no
    ``columns``)."""
    return sql in _PLANS


def records_from_rows(
    sql: str, rows: Sequence[Sequence[Any]], columns: Sequence[str] | None = None
) -> list[Record]:
    """``Record`` instances of ``rows`` (a row's columns are record columns, the ones it
    leaves out deferred), through each field's converters. ``columns`` are the statement's
    column names, needed the first time a statement is seen (``has_plan``)."""
    plan = _PLANS.get(sql)
    if plan is None:
        if columns is None:
            raise ValueError("the statement's columns are needed the first time")
        by_column = {field.column: field for field in Record._meta.concrete_fields}
        attnames, converters = [], []
        for index, column in enumerate(columns):
            model_field = by_column[column]
            attnames.append(model_field.attname)
            expression = model_field.get_col(Record._meta.db_table)
            functions = [
                *connection.ops.get_db_converters(expression),
                *model_field.get_db_converters(connection),
            ]
            if functions:
                converters.append((index, functions, expression))
        if len(_PLANS) >= 1000:
            _PLANS.clear()
        plan = _PLANS[sql] = (attnames, converters)
    attnames, converters = plan
    # The connection itself, not the ``connection`` proxy: each attribute of the proxy is
    # looked up through a context-local store (~2.5 % of a list's time when read per row).
    db = connections[DEFAULT_DB_ALIAS]
    alias, from_db = db.alias, Record.from_db
    records = []
    for row in rows:
        values = list(row)
        for index, functions, expression in converters:
            for convert in functions:
                values[index] = convert(values[index], expression, db)
        records.append(from_db(alias, attnames, values))
    return records
