"""The beat's rounds send a city a task only when none sent before is waiting.

No worker in this module: the messages stay in the queue where the test counts them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django_tenants.utils import schema_context

from ledgers.api.idempotency.tasks import (
    purge_idempotency_keys,
    purge_idempotency_keys_all_cities,
)
from tests.conftest import City
from tests.workers.rounds import forget_rounds
from workers.audit_tasks import anchor_all_cities, anchor_city, seal_all_cities, seal_city
from workers.celery import app
from workers.tasks import probe_all_cities, tenant_health_probe

ROUNDS = [
    pytest.param(seal_all_cities, seal_city, id="seal"),
    pytest.param(anchor_all_cities, anchor_city, id="anchor"),
    pytest.param(purge_idempotency_keys_all_cities, purge_idempotency_keys, id="purge"),
    pytest.param(probe_all_cities, tenant_health_probe, id="probe"),
]


def _waiting(task: Any) -> dict[str, int]:
    """The messages of ``task`` waiting in the default queue, per city."""
    with app.connection_for_read() as conn:
        raw = conn.default_channel.client.lrange(settings.CELERY_TASK_DEFAULT_QUEUE, 0, -1)
    waiting: dict[str, int] = {}
    for item in raw:
        headers = json.loads(item)["headers"]
        if headers["task"] == task.name:
            waiting[headers["_schema_name"]] = waiting.get(headers["_schema_name"], 0) + 1
    return waiting


@pytest.fixture
def no_messages(tmp_path: Path) -> Iterator[None]:
    """No message of a round waiting, before and after; and object storage of this test
    only: the anchor round's task, run here, wrote Mitaka's anchor of the day into the
    suite's shared storage, and every later verification of Mitaka's chain that day
    (another test's chain) failed on it."""
    forget_rounds()
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "daicho.storage.TenantFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    with override_settings(STORAGES=storages):
        yield
    forget_rounds()


@pytest.mark.parametrize(("round_", "task"), ROUNDS)
def test_a_city_has_one_task_of_a_round_waiting_however_many_rounds_are_sent(
    cities: dict[str, City], db: None, no_messages: None, round_: Any, task: Any
) -> None:
    """Found by the background-work review: each beat round sent every city one more task
    whether or not the one before had run. With the workers slower than the beat (webhook
    tries of up to ``WEBHOOK_DEADLINE`` taken in turn with this queue: one city's slow
    receivers are enough) the queue grew by a message per city per round, without end,
    in the Redis every city shares (broker, cache and results), and every city's sealing
    fell further behind its minute. Now a city with a task of the round waiting gets no
    second one; once that task has started, the next round sends again."""
    for _round in range(3):
        round_.apply().get()
    waiting = _waiting(task)
    assert waiting.get("mitaka") == 1
    assert waiting.get("musashino") == 1
    with schema_context("mitaka"):
        task.apply().get()
    round_.apply().get()
    waiting = _waiting(task)
    assert waiting.get("mitaka") == 2
    assert waiting.get("musashino") == 1
