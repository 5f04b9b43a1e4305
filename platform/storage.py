"""File storage with one prefix per city: local disk by default, S3 in production.

Every name is stored under the current schema's name (``mitaka/…``), so one city's files
can never be addressed from another's. Downloads from S3 are presigned and short-lived.
"""

from __future__ import annotations

import os
import uuid

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.db import connection
from storages.backends.s3 import S3Storage


def _prefix() -> str:
    return connection.schema_name or "public"


class TenantFileSystemStorage(FileSystemStorage):
    """Files under ``FILES_ROOT/<schema>/``."""

    @property  # type: ignore[override]
    def location(self) -> str:
        return os.path.abspath(os.path.join(self.base_location, _prefix()))

    @property  # type: ignore[override]
    def base_url(self) -> str | None:
        return None


class TenantS3Storage(S3Storage):
    """Objects under ``<bucket>/<schema>/``; settings from the ``AWS_*`` environment."""

    @property  # type: ignore[override]
    def location(self) -> str:
        return _prefix()

    @location.setter
    def location(self, value: str) -> None:
        # django-storages assigns its settings in __init__; the prefix is always the schema.
        pass


def storage_check(storage: Storage) -> None:
    """Raise unless the storage is reachable and writable (used by /readyz)."""
    if isinstance(storage, S3Storage):
        storage.connection.meta.client.head_bucket(Bucket=storage.bucket_name)
        return
    root = settings.FILES_ROOT
    os.makedirs(root, mode=settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS, exist_ok=True)
    probe = os.path.join(root, f".readyz-{uuid.uuid4().hex}")
    with open(probe, "wb") as handle:
        handle.write(b"ok")
    os.remove(probe)
