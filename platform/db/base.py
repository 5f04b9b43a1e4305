"""Django's PostgreSQL backend with a cheaper health check, and prepared statements
where the code asks for them.

Prepared statements: Django turns psycopg's off (``prepare_threshold=None``, for
transaction-mode poolers, which this deployment may not use anyway: the city is the
connection's ``search_path``), and with them off psycopg ignores even an explicit
``execute(..., prepare=True)``. So the records service's write statements, written to be
parsed and planned once per connection, were parsed, analysed and planned on every write:
half of PostgreSQL's CPU per single-record write (perf, 2026-11-29). Here the threshold
is set so high that psycopg prepares exactly the statements executed with
``prepare=True`` and never an ORM query on its own (generic plans for search queries
whose best plan depends on the parameters would be a risk for little gain). A deployment
that must not prepare anything sets ``OPTIONS["prepare_threshold"] = None`` explicitly.

``CONN_HEALTH_CHECKS`` makes Django ask ``is_usable()`` before the first query of every
request on a persistent connection, and Django's answer is a ``SELECT 1``: a round trip
per request (6 % of a record read's CPU in the server, and a statement for PostgreSQL).
A connection the server has closed (restart, ``pg_terminate_backend``, idle timeout, a
failover) has a message or the end of the stream waiting on its socket; an idle one that
is fine has nothing. So: nothing waiting on an idle connection means usable; anything
waiting, or a connection inside a transaction, gets Django's ``SELECT 1`` as before.

Times: Django reads every ``timestamptz`` through a loader of its own that derives from
psycopg's pure-Python one (to put the connection's time zone on the value), so psycopg's C
parser is never used for them: ~150 of ~260 µs of CPU fetching a list page of 26 records
(measured 2026-11-30; Django ticket #36960, psycopg issue #1273: the C loader cannot be
subclassed). ``_TimestamptzLoader`` does what Django's does, with psycopg's C parser.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.db.backends.postgresql.base import *  # noqa: F403 (the backend's other parts)
from django.db.backends.postgresql.base import DatabaseWrapper as _PostgresWrapper
from psycopg import adapt
from psycopg.postgres import types as pg_types
from psycopg.pq import Format, TransactionStatus

#: psycopg prepares a query executed this many times; none is, short of ``prepare=True``.
EXPLICIT_ONLY = 2**62

_TIMESTAMPTZ = pg_types["timestamptz"].oid
#: psycopg's own text loader of timestamptz: its C one where psycopg's C part is installed.
_PSYCOPG_TIMESTAMPTZ = psycopg.adapters.get_loader(_TIMESTAMPTZ, Format.TEXT)


class _TimestamptzLoader(adapt.Loader):
    """Django's timestamptz loader (``psycopg_any.BaseTzLoader``: the value with the
    connection's time zone put on it, ``timezone``) parsing with psycopg's loader, not
    its pure-Python base. ``timezone`` is what Django compares before a cursor's queries
    to decide whether to register its own (``create_cursor``)."""

    timezone: Any = None

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._parse = _PSYCOPG_TIMESTAMPTZ(oid, context).load

    def load(self, data: Any) -> Any:
        value = self._parse(data)
        zone = self.timezone
        return value if value.tzinfo is zone else value.replace(tzinfo=zone)


_ADAPTERS: dict[tuple[int, Any], adapt.AdaptersMap] = {}


def _adapters(template: adapt.AdaptersMap, zone: Any) -> adapt.AdaptersMap:
    """Django's adapters for a connection (``template``) with ``_TimestamptzLoader`` on
    ``zone``; one map per template and zone, as Django keeps its templates."""
    key = (id(template), zone)
    adapters = _ADAPTERS.get(key)
    if adapters is None:
        adapters = adapt.AdaptersMap(template)
        loader = type("TimestamptzLoader", (_TimestamptzLoader,), {"timezone": zone})
        adapters.register_loader(_TIMESTAMPTZ, loader)
        _ADAPTERS[key] = adapters
    return adapters


class DatabaseWrapper(_PostgresWrapper):
    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        if "prepare_threshold" not in self.settings_dict.get("OPTIONS", {}):
            params["prepare_threshold"] = EXPLICIT_ONLY
        if isinstance(params.get("context"), adapt.AdaptersMap):
            params["context"] = _adapters(params["context"], self.timezone)
        return params

    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed:
            return False
        if conn.info.transaction_status == TransactionStatus.IDLE:
            # poll(), not select(): a process may hold descriptors above select()'s 1024.
            poller = select.poll()
            try:
                poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
                waiting = poller.poll(0)
            except (OSError, ValueError):
                waiting = True  # cannot tell: ask the server
            if not waiting:
                return True
        return super().is_usable()
