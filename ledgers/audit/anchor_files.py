"""Anchor files in object storage: written once, locked where the storage can, all read back.

A city's anchor files are ``anchors/<schema>/<YYYY-MM-DD>.json`` under the public prefix,
one a day, never replaced (``audit_anchor`` writes a day's file only when it does not
exist, under the city's sealing lock).

With ``AUDIT_ANCHOR_LOCK_DAYS`` set (S3 only), each file is put with S3 Object Lock: mode
``AUDIT_ANCHOR_LOCK_MODE``, retained until its anchor's time plus that many days. Such a
bucket is versioned: a PUT to an existing name adds a newer version and a DELETE without
a version adds a delete marker, while the locked version itself cannot be removed before
its date (COMPLIANCE: by nobody; GOVERNANCE: by a principal allowed to bypass). So
``anchor_files`` lists every *version* and reads each one: a file the application's own
credentials "replaced" or "deleted" is still compared with the chain. Without the lock,
it lists the current files; either way every file is read (one listing, files read once,
in parallel on S3), not only the latest, so a newer forged file hides nothing older.
docs/audit.md, "Anchors".
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from storages.backends.s3 import S3Storage

from ledgers.audit.exceptions import AnchorLockUnavailable

# Parallel GETs when reading a city's anchor files from S3 (one small object a day).
READ_THREADS = 8

# Buckets seen with Object Lock enabled. S3 cannot turn Object Lock off once a bucket has
# it, so a bucket is checked once per process, not at every readiness probe.
_locked_buckets: set[tuple[str | None, str]] = set()


@dataclass(frozen=True)
class AnchorFile:
    """One stored anchor file (one version of it, on a locked bucket)."""

    name: str  # storage name, anchors/<schema>/<date>.json
    version: str | None  # S3 version id of a locked bucket's object; None otherwise
    payload: dict[str, Any] | None  # None: not an anchor file of this city's format

    @property
    def label(self) -> str:
        return self.name if self.version is None else f"{self.name}（版 {self.version}）"


def anchor_lock() -> tuple[str, int] | None:
    """(mode, days) of the Object Lock anchor files get, or None when they are not locked."""
    days = int(getattr(settings, "AUDIT_ANCHOR_LOCK_DAYS", 0) or 0)
    if days <= 0:
        return None
    return str(getattr(settings, "AUDIT_ANCHOR_LOCK_MODE", "COMPLIANCE")), days


def anchor_lock_check(storage: Storage | None = None) -> None:
    """Raise ``AnchorLockUnavailable`` if anchor files are to be locked and cannot be.

    Nothing to check without ``AUDIT_ANCHOR_LOCK_DAYS``. With it, the storage must be S3
    and its bucket must have Object Lock enabled (``GetObjectLockConfiguration``). Called
    by ``audit_anchor`` before it writes anything and by the readiness probe.
    """
    lock = anchor_lock()
    if lock is None:
        return
    storage = storage or default_storage
    days = lock[1]
    if not isinstance(storage, S3Storage):
        raise AnchorLockUnavailable(
            f"監査ログの控えのオブジェクトロック（AUDIT_ANCHOR_LOCK_DAYS={days}）は、"
            "ファイルの保存先が S3（STORAGE_BACKEND=s3）のときだけ使えます。"
            "控えは書き込んでいません。"
        )
    client = storage.connection.meta.client
    bucket = storage.bucket_name
    key = (client.meta.endpoint_url, bucket)
    if key in _locked_buckets:
        return
    try:
        configuration = client.get_object_lock_configuration(Bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ObjectLockConfigurationNotFoundError":
            raise
        configuration = {}
    enabled = configuration.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
    if enabled != "Enabled":
        raise AnchorLockUnavailable(
            f"監査ログの控えのオブジェクトロック（AUDIT_ANCHOR_LOCK_DAYS={days}）が設定されて"
            f"いますが、バケット「{bucket}」ではオブジェクトロックが有効になっていません。"
            "オブジェクトロックを有効にして作成したバケットを指定するか、"
            "AUDIT_ANCHOR_LOCK_DAYS を 0 にしてください（docs/operations.md）。"
            "控えは書き込んでいません。",
            bucket=bucket,
        )
    _locked_buckets.add(key)


def anchor_file_write(name: str, content: bytes, *, anchored_at: datetime) -> None:
    """Write a new anchor file, locked until ``anchored_at`` plus the lock's days if locked.

    Call on the public schema (the files live under its prefix) under the city's sealing
    lock, after ``anchor_lock_check`` and after checking that no file of that name exists
    (``audit_anchor`` does both). A locked file goes to S3 in one PUT carrying its
    retention; the others through the storage like any file.
    """
    storage = default_storage
    lock = anchor_lock()
    if lock is None:
        storage.save(name, ContentFile(content))
        return
    mode, days = lock
    assert isinstance(storage, S3Storage)
    until = anchored_at + timedelta(days=days)
    if until.microsecond:  # S3 keeps whole seconds: round up, never short of the days
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    storage.connection.meta.client.put_object(
        Bucket=storage.bucket_name, Key=_key(storage, name), Body=content,
        ContentType="application/json", ChecksumAlgorithm="SHA256",
        ObjectLockMode=mode, ObjectLockRetainUntilDate=until,
    )  # fmt: skip


def anchor_files(schema: str) -> list[AnchorFile]:
    """Every anchor file of the city (every version of each, on a locked bucket).

    Call on the public schema. One listing, each file read once; a file that is not a
    well-formed anchor of this city comes back with ``payload`` None.
    """
    storage = default_storage
    folder = f"anchors/{schema}"
    if isinstance(storage, S3Storage):
        return _s3_anchor_files(storage, folder, schema)
    try:
        _dirs, names = storage.listdir(folder)
    except FileNotFoundError:
        return []
    found = []
    for name in sorted(n for n in names if n.endswith(".json")):
        path = f"{folder}/{name}"
        with storage.open(path, "rb") as handle:
            found.append(AnchorFile(path, None, _payload(handle.read(), schema)))
    return found


def _key(storage: S3Storage, name: str) -> str:
    # django-storages' own mapping of a name to its key (here under the schema's prefix).
    return storage._normalize_name(name)


def _s3_anchor_files(storage: S3Storage, folder: str, schema: str) -> list[AnchorFile]:
    client = storage.connection.meta.client
    bucket = storage.bucket_name
    prefix = _key(storage, folder) + "/"
    # (name, key, version): computed here, on the public schema; the threads see none.
    listed: list[tuple[str, str, str | None]] = []
    if anchor_lock() is None:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            listed.extend(
                (folder + "/" + o["Key"][len(prefix) :], o["Key"], None)
                for o in page.get("Contents", [])
            )
    else:
        for page in client.get_paginator("list_object_versions").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            # DeleteMarkers are left out: the versions they hide are still listed here.
            listed.extend(
                (folder + "/" + v["Key"][len(prefix) :], v["Key"], v["VersionId"])
                for v in page.get("Versions", [])
            )
    listed = sorted(
        (item for item in listed if item[0].endswith(".json") and item[0].count("/") == 2),
        key=lambda item: (item[0], item[2] or ""),
    )

    def read(item: tuple[str, str, str | None]) -> AnchorFile:
        name, key, version = item
        extra = {} if version is None else {"VersionId": version}
        body = client.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
        return AnchorFile(name, version, _payload(body, schema))

    if len(listed) <= 1:
        return [read(item) for item in listed]
    with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(listed))) as pool:
        return list(pool.map(read, listed))


def _payload(body: bytes, schema: str) -> dict[str, Any] | None:
    """The anchor's content if it is a well-formed anchor file of ``schema``, else None."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("schema") != schema:
        return None
    position, head_hash = payload.get("position"), payload.get("head_hash")
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        return None
    if not isinstance(head_hash, str) or len(head_hash) != 64:
        return None
    try:
        bytes.fromhex(head_hash)
    except ValueError:
        return None
    head_seq = payload.get("head_seq")
    if head_seq is not None and (not isinstance(head_seq, int) or isinstance(head_seq, bool)):
        return None
    return payload
