"""Platform tasks: a health probe run in each city's schema."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.models import Municipality
from workers.celery import CityTask, app

logger = logging.getLogger(__name__)


@app.task(base=CityTask, name="workers.tasks.tenant_health_probe")
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
    """Beat's fan-out: send one probe per active city, each inside its own schema."""
    cities = Municipality.objects.exclude(schema_name="public").filter(
        status=Municipality.Status.ACTIVE
    )
    sent = 0
    for city in cities:
        with tenant_context(city):
            tenant_health_probe.delay()
        sent += 1
    return sent
