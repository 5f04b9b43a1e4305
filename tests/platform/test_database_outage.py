"""A database that does not answer fails a connection within ``DB_CONNECT_TIMEOUT``."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import OperationalError, connection, connections

from tests.conftest import SilentServer

pytestmark = pytest.mark.django_db


def test_a_database_that_does_not_answer_fails_the_connection_in_seconds() -> None:
    """Found by the review of degraded dependencies: no ``connect_timeout`` was set, and
    libpq waits for ever by default. A database server that accepts and then says nothing
    (a failover in progress, a host behind a path that drops replies) held each request's
    thread, and /readyz's, for as long as TCP took to give up, or for ever: the web's
    workers all waited instead of answering 500 and the probe 503."""
    silent = SilentServer()
    settings = dict(connection.settings_dict, HOST="127.0.0.1", PORT=str(silent.port))
    other = type(connections["default"])(settings)
    outcome: dict[str, Any] = {}

    def connect() -> None:
        started = time.monotonic()
        try:
            other.ensure_connection()
        except Exception as exc:
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout=15)
    silent.close()  # lets a connection attempt still waiting end
    thread.join(timeout=5)
    assert isinstance(outcome.get("error"), OperationalError), outcome
    assert outcome["seconds"] < 10
