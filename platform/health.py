"""Liveness (/healthz) and readiness (/readyz) probes, answered on every host."""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)


def check_database() -> None:
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def check_storage() -> None:
    from daicho.storage import storage_check
    from ledgers.audit.anchor_files import anchor_lock_check

    storage_check(default_storage)
    # With AUDIT_ANCHOR_LOCK_DAYS, a bucket without Object Lock keeps the pods unready.
    anchor_lock_check(default_storage)


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
}


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and answers: no dependency is touched."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency answers; otherwise 503 naming the failing parts."""
    checks: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception as exc:  # a probe reports every failure, whatever its kind
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            checks[name] = f"error: {type(exc).__name__}"
        else:
            checks[name] = "ok"
    failing = [name for name, result in checks.items() if result != "ok"]
    if failing:
        return JsonResponse(
            {"status": "unavailable", "failing": failing, "checks": checks}, status=503
        )
    return JsonResponse({"status": "ok", "checks": checks})


PROBES: dict[str, Callable[[HttpRequest], JsonResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
}
