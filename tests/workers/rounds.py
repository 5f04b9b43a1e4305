"""Helpers for tests that count what a beat round sends."""

from __future__ import annotations

from django.conf import settings

from daicho.caching import redis_client
from workers.celery import app


def forget_rounds() -> None:
    """Empty the default queue and forget every city's waiting mark (``send_to_city``): a
    round sends nothing to a city marked by a test before whose worker stopped first."""
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    client = redis_client()
    marks = list(client.scan_iter(match="*:tasks:waiting:*", count=1000))
    if marks:
        client.delete(*marks)
