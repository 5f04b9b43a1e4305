"""The per-request health check of persistent connections costs no round trip when the
connection is idle and fine, and still finds one the server has closed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection, connections

from daicho.db.base import DatabaseWrapper as DaichoWrapper

pytestmark = pytest.mark.django_db


@pytest.fixture
def wrapper() -> Iterator[Any]:
    """A second connection of the test settings, outside the test's transaction."""
    other = type(connections["default"])(dict(connection.settings_dict))
    other.connect()
    try:
        yield other
    finally:
        other.close()


def _admin() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def _last_query(pid: int) -> str:
    with _admin() as admin:
        return admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[
            0
        ]


def test_the_backend_is_daichos() -> None:
    assert isinstance(connections["default"], DaichoWrapper)


def test_an_idle_healthy_connection_is_usable_without_a_query(wrapper: Any) -> None:
    with wrapper.connection.cursor() as cursor:
        cursor.execute("SELECT 'before the check'")
    pid = wrapper.connection.info.backend_pid
    assert wrapper.is_usable() is True
    assert _last_query(pid) == "SELECT 'before the check'"


def test_a_connection_inside_a_transaction_is_asked(wrapper: Any) -> None:
    with wrapper.connection.cursor() as cursor:
        cursor.execute("BEGIN")
    pid = wrapper.connection.info.backend_pid
    assert wrapper.is_usable() is True
    assert _last_query(pid) == "SELECT 1"
    wrapper.connection.rollback()


def test_a_connection_the_server_closed_is_replaced(wrapper: Any) -> None:
    old_pid = wrapper.connection.info.backend_pid
    with _admin() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [old_pid]).fetchone()[0]
    deadline = time.monotonic() + 5
    while wrapper.is_usable() and time.monotonic() < deadline:
        time.sleep(0.01)  # the termination message is on its way
    assert wrapper.is_usable() is False
    # What Django does before a request's first query: close it, then connect anew.
    wrapper.health_check_enabled, wrapper.health_check_done = True, False
    wrapper.close_if_health_check_failed()
    assert wrapper.connection is None
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != old_pid


def test_a_connection_above_select_s_descriptor_limit_is_checked_without_a_query() -> None:
    """poll() has no FD_SETSIZE: a healthy connection on a descriptor above 1024 (a process
    holding many files or sockets) is still usable, and still without a query."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1300:
        pytest.skip("this process may not hold 1,300 descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1300), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    other = type(connections["default"])(dict(connection.settings_dict))
    try:
        other.connect()
        assert other.connection.fileno() > 1024
        with other.connection.cursor() as cursor:
            cursor.execute("SELECT 'high descriptor'")
        assert other.is_usable() is True
        assert _last_query(other.connection.info.backend_pid) == "SELECT 'high descriptor'"
    finally:
        other.close()
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
