"""Liveness (/healthz) and readiness (/readyz) probes, answered on every host."""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from botocore.config import Config
from django.conf import settings
from django.core.files.storage import Storage, default_storage, storages
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


#: What the probe gives S3: a probe is answered within its own timeout (seconds), and
#: botocore's defaults (60 s to connect, 60 s per read, five tries) held its thread for
#: minutes against an endpoint that accepted and said nothing, a thread more every probe.
PROBE_S3_CONFIG = Config(connect_timeout=2, read_timeout=2, retries={"total_max_attempts": 1})


def _probe_storage() -> Storage:
    """The default storage, or for S3 one like it whose client has ``PROBE_S3_CONFIG``."""
    from storages.backends.s3 import S3Storage

    if not isinstance(default_storage, S3Storage):
        return default_storage
    probe = storages.create_storage(settings.STORAGES["default"])
    probe.client_config = probe.client_config.merge(PROBE_S3_CONFIG)
    return probe


def check_storage() -> None:
    from daicho.storage import storage_check
    from ledgers.audit.anchor_files import anchor_lock_check

    storage = _probe_storage()
    storage_check(storage)
    # With AUDIT_ANCHOR_LOCK_DAYS, a bucket without Object Lock keeps the pods unready.
    anchor_lock_check(storage)


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
