"""Platform tasks: a health probe run in each city's schema."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import connection

from tenants.models import Municipality
from workers.celery import CityTask, app, send_to_city

logger = logging.getLogger(__name__)


# A city's waiting probe holds back the next rounds' (every 10 minutes) this long at most.
PROBE_WAITING_TTL = 1800


@app.task(base=CityTask, name="workers.tasks.tenant_health_probe", waiting_ttl=PROBE_WAITING_TTL)
def tenant_health_probe() -> dict[str, object]:
    """Read the city's schema from inside: which schema the worker is in and its staff count."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
    staff = get_user_model().objects.count()
    logger.info("health probe: schema=%s staff=%s", schema, staff)
    return {"schema": schema, "tenant": connection.schema_name, "staff": staff}


@app.task(name="workers.tasks.probe_all_cities")
def probe_all_cities() -> int:
    """Beat's fan-out: send a probe into each active city that has none waiting (each
    inside its own schema); returns how many were sent."""
    cities = Municipality.objects.exclude(schema_name="public").filter(
        status=Municipality.Status.ACTIVE
    )
    return sum(send_to_city(tenant_health_probe, city) for city in cities)
