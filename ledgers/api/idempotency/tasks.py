"""Purging expired ``Idempotency-Key`` rows: hourly, fanned out per city."""

from __future__ import annotations

from django.db import connection

from ledgers.api.idempotency.services import idempotency_purge
from tenants.models import Municipality
from workers.celery import CityTask, app, send_to_city

# A city's waiting purge holds back the next rounds' (hourly) this long at most.
PURGE_WAITING_TTL = 2 * 3600


@app.task(
    base=CityTask, name="ledgers.api.idempotency.tasks.purge_idempotency_keys",
    waiting_ttl=PURGE_WAITING_TTL,
)  # fmt: skip
def purge_idempotency_keys() -> dict[str, object]:
    """Delete the city's expired keys."""
    return {"schema": connection.schema_name, "purged": idempotency_purge()}


@app.task(name="ledgers.api.idempotency.tasks.purge_idempotency_keys_all_cities")
def purge_idempotency_keys_all_cities() -> int:
    """Beat (hourly): one purge for each city that has none waiting; returns how many."""
    cities = Municipality.objects.exclude(schema_name="public").order_by("schema_name")
    return sum(send_to_city(purge_idempotency_keys, city) for city in cities)
