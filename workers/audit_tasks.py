"""Audit chain tasks: sealing every 30 s and anchoring daily, fanned out per city.

The fan-out tasks run on public (beat) and send one task per city from inside that
city's context, so tenant-schemas-celery runs it in the city's schema. Each per-city task
calls one service. A city has at most one of each waiting (``workers.celery.send_to_city``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection

from ledgers.audit.exceptions import AnchorLockUnavailable
from ledgers.audit.services import audit_anchor, audit_seal
from tenants.models import Municipality
from workers.celery import CityTask, app, send_to_city

logger = logging.getLogger(__name__)

# How long a city's waiting ``seal_city`` holds back the next rounds' at most: a message
# lost on its way (a worker of the release before refusing it) delays the city's sealing
# no longer than this; one still waiting after it is joined by one more. For the daily
# anchor: a lost message costs that day's anchor whatever this is.
SEAL_WAITING_TTL = 300
ANCHOR_WAITING_TTL = 12 * 3600
# A daily anchor that fails (object storage or the database not answering) is tried again
# this many times, after 60 s, 120 s, 240 s … each wait at most ANCHOR_RETRY_MAX (an ETA
# longer than the broker's visibility timeout, an hour, would be delivered twice): about
# two hours in all. ``AUDIT_ANCHOR_RETRY_SECONDS`` overrides the first wait (tests).
ANCHOR_RETRIES = 8
ANCHOR_RETRY_SECONDS = 60
ANCHOR_RETRY_MAX = 1800


def _cities() -> list[Municipality]:
    # Suspended cities too: suspension stops access, not the protection of what was recorded.
    return list(Municipality.objects.exclude(schema_name="public").order_by("schema_name"))


@app.task(base=CityTask, name="workers.audit_tasks.seal_city", waiting_ttl=SEAL_WAITING_TTL)
def seal_city() -> dict[str, object]:
    """Seal the city's pending audit events (skipped if a pass is already running)."""
    return {"schema": connection.schema_name, "sealed": audit_seal(wait=False)}


@app.task(
    base=CityTask, bind=True, name="workers.audit_tasks.anchor_city",
    max_retries=ANCHOR_RETRIES, waiting_ttl=ANCHOR_WAITING_TTL,
)  # fmt: skip
def anchor_city(self: Any) -> dict[str, object]:
    """Anchor the city's chain head in public and in object storage; tried again, later each
    time, if it fails (once a day: a day without its anchor widens the window in which the
    newest events could be rewritten unseen). The try is sent from the city's schema, so it
    runs there. A lock the storage cannot give (``AnchorLockUnavailable``) is configuration,
    not a moment's failure: it is not tried again."""
    try:
        anchor = audit_anchor(actor=None)
    except AnchorLockUnavailable:
        raise
    except Exception as exc:
        first = float(getattr(settings, "AUDIT_ANCHOR_RETRY_SECONDS", ANCHOR_RETRY_SECONDS))
        wait = min(first * 2**self.request.retries, ANCHOR_RETRY_MAX)
        logger.warning(
            "audit anchor: schema=%s failed (%s), try %s of %s in %ss",
            connection.schema_name, type(exc).__name__, self.request.retries + 1,
            ANCHOR_RETRIES, wait,
        )  # fmt: skip
        raise self.retry(exc=exc, countdown=wait) from exc
    return {"schema": connection.schema_name, "position": anchor.position}


@app.task(name="workers.audit_tasks.seal_all_cities")
def seal_all_cities() -> int:
    """Beat (every 30 s): one sealing task for each city that has none waiting; returns
    how many were sent."""
    return sum(send_to_city(seal_city, city) for city in _cities())


@app.task(name="workers.audit_tasks.anchor_all_cities")
def anchor_all_cities() -> int:
    """Beat (daily at 00:05 in Japan, 15:05 UTC): one anchoring task for each city that has
    none waiting; returns how many were sent."""
    return sum(send_to_city(anchor_city, city) for city in _cities())
