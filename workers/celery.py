"""The Celery app. Tasks carry the schema they were sent from and run inside it.

tenant-schemas-celery puts the sender's schema in each message's headers and enters it
before the task runs (and leaves it after). ``CityTask`` adds the fail-closed rule: a task
that needs a city refuses to run on the public schema.
"""

from __future__ import annotations

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
    """A task that runs in a city's schema: sent from a city's context, refused on public."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from daicho.tenancy.guard import require_tenant

        require_tenant()
        return super().__call__(*args, **kwargs)


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
