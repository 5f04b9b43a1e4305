"""Purging expired ``Idempotency-Key`` rows: hourly, fanned out per city."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import tenant_context

from ledgers.api.idempotency.services import idempotency_purge
from tenants.models import Municipality
from workers.celery import CityTask, app


@app.task(base=CityTask, name="ledgers.api.idempotency.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> dict[str, object]:
    """Delete the city's expired keys."""
    return {"schema": connection.schema_name, "purged": idempotency_purge()}


@app.task(name="ledgers.api.idempotency.tasks.purge_idempotency_keys_all_cities")
def purge_idempotency_keys_all_cities() -> int:
    """Beat (hourly): one purge per city; returns how many were sent."""
    sent = 0
    for city in Municipality.objects.exclude(schema_name="public").order_by("schema_name"):
        with tenant_context(city):
            purge_idempotency_keys.delay()
        sent += 1
    return sent
