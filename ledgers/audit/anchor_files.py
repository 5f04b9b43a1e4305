"""Anchor files in object storage: every one read back for verification.

A city's anchor files are ``anchors/<schema>/<YYYY-MM-DD>.json`` under the public prefix,
one a day, never replaced (``audit_anchor`` writes a day's file only when it does not
exist, under the city's sealing lock). ``anchor_files`` lists them and reads every one
(one listing, files read once, in parallel on S3), not only the latest, so a newer forged
file hides nothing older. docs/audit.md, "Verify".
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from storages.backends.s3 import S3Storage

# Parallel GETs when reading a city's anchor files from S3 (one small object a day).
READ_THREADS = 8


@dataclass(frozen=True)
class AnchorFile:
    """One stored anchor file."""

    name: str  # storage name, anchors/<schema>/<date>.json
    version: str | None  # S3 version id; None otherwise
    payload: dict[str, Any] | None  # None: not an anchor file of this city's format

    @property
    def label(self) -> str:
        return self.name if self.version is None else f"{self.name}（版 {self.version}）"


def anchor_files(schema: str) -> list[AnchorFile]:
    """Every anchor file of the city.

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
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        listed.extend(
            (folder + "/" + o["Key"][len(prefix) :], o["Key"], None)
            for o in page.get("Contents", [])
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
