"""Records built from the rows of a statement written by hand, as the ORM would build them.

``Record.objects.raw`` resolves a statement's columns to fields and compiles their
converters on every call (~0.8 ms of a record read, measured 2026-11-29). Here that is
done once per statement: a statement's columns never change, and psycopg builds its column
descriptions anew on every access to ``cursor.description``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import JSONField
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from ledgers.json_text import may_hold_long_integer
from ledgers.records.models import Record

# Per statement: each column's field attribute, and the converters Django applies to it
# when it loads a model (JSONField's, the backend's).
_PLANS: dict[str, tuple[list[str], list[tuple[int, list[Any], Any]]]] = {}


def _json_converter(field: JSONField) -> Any:
    """``field.from_db_value`` for a JSON column without a decoder of its own, parsing
    with orjson (a record's data: 1.1 against 2.5 µs by the standard library's ``json``). orjson reads an integer past 64 bits as a float, where ``json`` keeps it
    exact (``jsonb`` holds any): a text with a run of 19 digits anywhere
    (``may_hold_long_integer``, as the API's parser checks), and any orjson refuses, go to
    Django's converter, so the values are the same."""
    django_converter = field.from_db_value
    loads, error = orjson.loads, orjson.JSONDecodeError

    def convert(value: Any, expression: Any, db: Any) -> Any:
        if value is None:
            return None
        if type(value) is str:
            try:
                # As bytes: str.translate looks each character up (13 µs a record's data).
                raw = value.encode()
                if not may_hold_long_integer(raw):
                    return loads(raw)
            except (UnicodeEncodeError, error):
                pass
        return django_converter(value, expression, db)

    return convert


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
            if isinstance(model_field, JSONField) and model_field.decoder is None:
                functions = [
                    _json_converter(model_field) if f == model_field.from_db_value else f
                    for f in functions
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
    alias = db.alias
    if pre_init.has_listeners(Record) or post_init.has_listeners(Record):
        return [Record.from_db(alias, attnames, _converted(row, converters, db)) for row in rows]
    # What ``Model.from_db`` makes, without ``Model.__init__`` (its per-field assignments
    # through the fields' descriptors, a foreign key's checking its cache, and its two
    # signals, which nothing listens to for records: checked above). With orjson for the
    # data, a list page's 26 rows take 77 against 200 µs (measured 2026-11-30). Columns the
    # statement leaves out are deferred, as there: absent from the instance's ``__dict__``.
    new = Record.__new__
    records = []
    for row in rows:
        record = new(Record)
        state = record._state = ModelState()
        state.adding, state.db = False, alias
        record.__dict__.update(zip(attnames, _converted(row, converters, db), strict=True))
        records.append(record)
    return records


def _converted(
    row: Sequence[Any], converters: list[tuple[int, list[Any], Any]], db: Any
) -> list[Any]:
    values = list(row)
    for index, functions, expression in converters:
        for convert in functions:
            values[index] = convert(values[index], expression, db)
    return values
