"""Sending a task to a broker that does not answer fails in seconds."""

from __future__ import annotations

import threading
import time
from typing import Any

from celery import Celery

from tests.conftest import SilentServer


def test_a_task_sent_to_a_broker_that_does_not_answer_fails_in_seconds() -> None:
    """Found by the review of degraded dependencies: kombu's Redis transport waits for ever
    on a socket by default, and a Redis that accepted and said nothing (stuck in a fork, a
    failover, a firewall that forgot the connection) held whatever sent a task: a record
    write's answer after its commit (the webhook kick), the beat's round. Our settings
    (``CELERY_BROKER_TRANSPORT_OPTIONS``) make the send fail instead, and the write's
    deliveries wait in the database for the next round."""
    silent = SilentServer()
    app = Celery("broker-outage")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = f"redis://127.0.0.1:{silent.port}/0"
    outcome: dict[str, Any] = {}

    def send() -> None:
        started = time.monotonic()
        try:
            app.send_task("workers.tasks.probe_all_cities")
        except Exception as exc:
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    thread.join(timeout=20)
    silent.close()
    assert "error" in outcome, "the send was still waiting on the broker"
    assert outcome["seconds"] < 15
