"""The Celery app. Tasks carry the schema they were sent from and run inside it.

tenant-schemas-celery puts the sender's schema in each message's headers and enters it
before the task runs (and leaves it after). ``CityTask`` adds the fail-closed rule: a task
that needs a city refuses to run on the public schema.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery.schedules import crontab
from celery.signals import after_setup_logger, after_setup_task_logger
from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask

# Production unless told otherwise: a server started without the variable must not get
# the developer's settings (DEBUG, no secure cookies, the SSRF guard relaxed, embedded
# services). ``make run`` (daicho.run) and the tests set theirs.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daicho.settings.production")

logger = logging.getLogger(__name__)

app = CeleryApp("daicho")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    ["workers", "workers.audit_tasks", "ledgers.webhooks", "ledgers.api.idempotency"]
)


@after_setup_logger.connect
@after_setup_task_logger.connect
def filter_database_errors(logger: Any, **kwargs: Any) -> None:
    """The worker's log handlers (Celery replaces Django's) withhold what a database error
    quotes (``daicho.logs``): a failed task's traceback printed the row it failed on."""
    from daicho.logs import install

    install(logger)


class CityTask(TenantTask):
    """A task that runs in a city's schema: sent from a city's context, refused on public.

    ``waiting_ttl``: the task is sent by a beat round through ``send_to_city``, which sends
    a city none while one is waiting; the mark lives this many seconds at most (a message
    lost on its way holds the next rounds back no longer), and the task clears it as it
    starts, before it reads anything (what is written after that start is the next
    round's). None: not marked."""

    abstract = True
    waiting_ttl: int | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from daicho.tenancy.guard import require_tenant

        schema = require_tenant()
        if self.waiting_ttl is not None and not self.request.retries:
            _waiting_clear(self.name, schema)
        return super().__call__(*args, **kwargs)


def waiting_key(task_name: str, schema: str) -> str:
    """The Redis key that says a ``task_name`` of ``schema`` sent by a round is waiting."""
    from django.conf import settings

    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{prefix}:tasks:waiting:{task_name}:{schema}"


def send_to_city(task: CityTask, city: Any) -> bool:
    """Send ``task`` into ``city`` (a ``Municipality``) unless one sent before is still
    waiting; returns whether it was sent.

    A beat round sent every city one more task whether or not the one before had run: with
    the workers slower than the beat (webhook tries of up to ``WEBHOOK_DEADLINE`` taken in
    turn with this queue; one city's slow receivers are enough) the queue grew by a message
    per city per round, without end, in the Redis every city shares. Each of these tasks
    does everything pending, so one waiting per city loses nothing. If Redis does not
    answer, the task is sent (the broker is the same Redis: it likely refuses it too)."""
    from django_tenants.utils import tenant_context
    from redis.exceptions import RedisError

    from daicho.caching import redis_client

    if task.waiting_ttl is None:
        raise TypeError(f"{task.name} has no waiting_ttl: its task would never clear the mark")
    key = waiting_key(task.name, city.schema_name)
    try:
        if not redis_client().set(key, "1", nx=True, ex=task.waiting_ttl):
            return False
    except RedisError:
        logger.warning(
            "beat round: Redis unavailable: task=%s city=%s", task.name, city.schema_name
        )
    try:
        with tenant_context(city):
            task.delay()
    except Exception:
        _waiting_clear(task.name, city.schema_name)
        raise
    return True


def _waiting_clear(task_name: str, schema: str) -> None:
    from redis.exceptions import RedisError

    from daicho.caching import redis_client

    try:
        redis_client().delete(waiting_key(task_name, schema))
    except RedisError:
        logger.warning("beat round: Redis unavailable: task=%s city=%s", task_name, schema)


app.conf.beat_schedule = {
    "probe-every-city": {
        "task": "workers.tasks.probe_all_cities",
        "schedule": crontab(minute="*/10"),
    },
    "audit-seal": {"task": "workers.audit_tasks.seal_all_cities", "schedule": 30.0},
    # Celery reads crontabs in Django's TIME_ZONE (Asia/Tokyo): 00:05 in Japan.
    "audit-anchor": {
        "task": "workers.audit_tasks.anchor_all_cities",
        "schedule": crontab(minute=5, hour=0),
    },
    "idempotency-purge": {
        "task": "ledgers.api.idempotency.tasks.purge_idempotency_keys_all_cities",
        "schedule": crontab(minute=35),
    },
    # Deliveries whose task was lost (broker down at commit, worker killed mid-send).
    "webhooks-due": {
        "task": "ledgers.webhooks.tasks.deliver_due_webhooks_all_cities",
        "schedule": 60.0,
    },
}
