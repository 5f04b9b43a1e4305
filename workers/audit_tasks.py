"""Audit chain tasks: sealing every 30 s and anchoring daily, fanned out per city.

The fan-out tasks run on public (beat) and send one task per city from inside that
city's context, so tenant-schemas-celery runs it in the city's schema. Each per-city task
calls one service.
"""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import tenant_context

from ledgers.audit.services import audit_anchor, audit_seal
from tenants.models import Municipality
from workers.celery import CityTask, app


def _cities() -> list[Municipality]:
    # Suspended cities too: suspension stops access, not the protection of what was recorded.
    return list(Municipality.objects.exclude(schema_name="public").order_by("schema_name"))


@app.task(base=CityTask, name="workers.audit_tasks.seal_city")
def seal_city() -> dict[str, object]:
    """Seal the city's pending audit events (skipped if a pass is already running)."""
    return {"schema": connection.schema_name, "sealed": audit_seal(wait=False)}


@app.task(base=CityTask, name="workers.audit_tasks.anchor_city")
def anchor_city() -> dict[str, object]:
    """Anchor the city's chain head in public and in object storage."""
    anchor = audit_anchor(actor=None)
    return {"schema": connection.schema_name, "position": anchor.position}


@app.task(name="workers.audit_tasks.seal_all_cities")
def seal_all_cities() -> int:
    """Beat (every 30 s): one sealing task per city; returns how many were sent."""
    sent = 0
    for city in _cities():
        with tenant_context(city):
            seal_city.delay()
        sent += 1
    return sent


@app.task(name="workers.audit_tasks.anchor_all_cities")
def anchor_all_cities() -> int:
    """Beat (daily at 00:05 in Japan, 15:05 UTC): one anchoring task per city; returns how many."""
    sent = 0
    for city in _cities():
        with tenant_context(city):
            anchor_city.delay()
        sent += 1
    return sent
