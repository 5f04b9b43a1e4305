"""Times read from PostgreSQL: Django's meaning, psycopg's C parser (``daicho.db.base``).

Django's own timestamptz loader derives from psycopg's pure-Python one, so every time read
was parsed in Python (more than half of the CPU of fetching a list page); the connection's
loader now parses with psycopg's and puts the connection's time zone on the value as
Django's does."""

from __future__ import annotations

import datetime

import psycopg
import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.pq import Format

from daicho.db.base import _TimestamptzLoader

pytestmark = pytest.mark.django_db

TIMESTAMPTZ = 1184


def test_the_connection_reads_times_with_psycopgs_parser() -> None:
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
    assert issubclass(loader, _TimestamptzLoader)
    assert not issubclass(loader, BaseTzLoader)  # Django's, on psycopg's Python parser
    assert loader.timezone == connection.timezone  # so Django keeps it for every cursor
    with connection.cursor() as cursor:
        assert type(cursor.cursor.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)) is type(loader)
    parser = loader(TIMESTAMPTZ, connection.connection)._parse.__self__
    assert type(parser) is psycopg.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)  # C, if built


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-30 00:08:37.123456+00",
        "2024-02-29 23:59:59+09",  # another offset: the same instant, read in UTC
        "1868-10-23 00:00:00+09:18:59",  # a local mean time offset, seconds included
        "0001-01-01 00:00:00+00",
        "9999-12-31 23:59:59.999999+00",
    ],
)
def test_times_read_as_django_reads_them(text: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [text])
        (ours,) = cursor.fetchone()
        django_loader = type("Loader", (BaseTzLoader,), {"timezone": connection.timezone})
        cursor.cursor.adapters.register_loader("timestamptz", django_loader)
        cursor.execute("SELECT %s::timestamptz", [text])
        (djangos,) = cursor.fetchone()
    assert ours == djangos
    assert ours.tzinfo is djangos.tzinfo is datetime.UTC
    assert ours.utcoffset() == datetime.timedelta(0)


def test_infinity_is_refused_as_django_refuses_it() -> None:
    django_loader = type("Loader", (BaseTzLoader,), {"timezone": connection.timezone})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'infinity'::timestamptz")
        with pytest.raises(DataError):
            cursor.fetchone()
        cursor.cursor.adapters.register_loader("timestamptz", django_loader)
        cursor.execute("SELECT 'infinity'::timestamptz")
        with pytest.raises(DataError):
            cursor.fetchone()
