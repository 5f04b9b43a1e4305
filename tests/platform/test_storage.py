"""Files: one prefix per city, on local disk and on S3 (a local moto S3 server)."""

from __future__ import annotations

import os
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from django.core.exceptions import SuspiciousOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from tests.conftest import City, SilentServer


@pytest.fixture
def s3_settings(s3_endpoint: str) -> Iterator[dict[str, str]]:
    bucket = "daicho-test-files"
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="ap-northeast-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
    )
    values = {
        "STORAGES": {
            "default": {"BACKEND": "daicho.storage.TenantS3Storage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": "ap-northeast-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    with override_settings(**values):
        yield {"bucket": bucket, "endpoint": s3_endpoint}
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


def _s3_keys(settings: dict[str, str]) -> list[str]:
    client = boto3.client(
        "s3", endpoint_url=settings["endpoint"], region_name="ap-northeast-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    return [o["Key"] for o in client.list_objects_v2(Bucket=settings["bucket"]).get("Contents", [])]


def test_s3_objects_live_under_the_city_prefix(
    mitaka: City, musashino: City, s3_settings: dict[str, str]
) -> None:
    with schema_context(mitaka.slug):
        name = default_storage.save("attachments/memo.txt", ContentFile(b"mitaka"))
        assert default_storage.exists(name)
        url = default_storage.url(name)
        assert "X-Amz-Signature" in url
        assert "mitaka/attachments/" in url
    with schema_context(musashino.slug):
        # The same name from another city addresses another object.
        assert not default_storage.exists(name)
    assert _s3_keys(s3_settings) == [f"mitaka/{name}"]


def test_readyz_checks_the_s3_bucket(cities: dict, db: None, s3_settings: dict[str, str]) -> None:
    assert Client().get("/readyz", HTTP_HOST="localhost").status_code == 200
    missing_bucket = {
        "default": {
            "BACKEND": "daicho.storage.TenantS3Storage",
            "OPTIONS": {"bucket_name": "no-such-bucket"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=missing_bucket):
        response = Client().get("/readyz", HTTP_HOST="localhost")
    assert response.status_code == 503
    assert response.json()["failing"] == ["storage"]


def test_local_files_live_under_the_city_folder(mitaka: City, musashino: City, settings) -> None:
    with schema_context(mitaka.slug):
        name = default_storage.save("attachments/memo.txt", ContentFile(b"mitaka"))
        path = default_storage.path(name)
    assert path.startswith(str(settings.FILES_ROOT / "mitaka"))
    with schema_context(musashino.slug):
        assert not default_storage.exists(name)
    with schema_context(mitaka.slug):
        default_storage.delete(name)


@pytest.mark.parametrize(
    "name", ["../musashino/memo.txt", "a/../../musashino/memo.txt", "/musashino/memo.txt", ".."]
)
def test_s3_names_cannot_leave_the_city_prefix(
    mitaka: City, musashino: City, s3_settings: dict[str, str], name: str
) -> None:
    # A name is resolved under the city's prefix; one that climbs out of it (to another
    # city's objects, or to public/ where the audit anchors live) is refused, not resolved.
    with schema_context(musashino.slug):
        default_storage.save("memo.txt", ContentFile(b"musashino"))
    with schema_context(mitaka.slug), pytest.raises(SuspiciousOperation):
        default_storage.open(name).read()
    assert _s3_keys(s3_settings) == ["musashino/memo.txt"]


@pytest.mark.parametrize("name", ["../musashino/memo.txt", "a/../../musashino/memo.txt", ".."])
def test_local_names_cannot_leave_the_city_folder(mitaka: City, musashino: City, name: str) -> None:
    with schema_context(musashino.slug):
        saved = default_storage.save("memo.txt", ContentFile(b"musashino"))
    try:
        with schema_context(mitaka.slug), pytest.raises(SuspiciousOperation):
            default_storage.open(name).read()
    finally:
        with schema_context(musashino.slug):
            default_storage.delete(saved)


def test_local_files_are_not_readable_by_other_accounts(mitaka: City) -> None:
    # An attachment of a DV record on the machine's disk (the embedded default) was 0644
    # in folders of 0755 (Django's defaults under the usual umask): every other account of
    # the server read it. The owner and its group (web and worker share it) only.
    folder = f"attachments/{uuid.uuid4().hex}"
    with schema_context(mitaka.slug):
        name = default_storage.save(f"{folder}/memo.txt", ContentFile(b"mitaka"))
        try:
            assert stat.S_IMODE(os.stat(default_storage.path(name)).st_mode) == 0o640
            assert stat.S_IMODE(os.stat(default_storage.path(folder)).st_mode) == 0o750
        finally:
            default_storage.delete(name)
            os.rmdir(default_storage.path(folder))


def test_readyz_answers_in_seconds_when_s3_does_not(
    cities: dict, db: None, s3_settings: dict[str, str]
) -> None:
    """Found by the review of degraded dependencies: the probe asked S3 with botocore's
    defaults, 60 s to connect and 60 s per read, five tries: an endpoint that accepted and
    said nothing held the probe's thread for minutes, every probe (one each 10 s per pod)
    another thread, until the web answered nothing. The probe now gives S3 2 s, once."""
    silent = SilentServer()
    storages = {
        "default": {
            "BACKEND": "daicho.storage.TenantS3Storage",
            "OPTIONS": {"endpoint_url": f"http://127.0.0.1:{silent.port}"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    answer: dict[str, Any] = {}

    def probe() -> None:
        started = time.monotonic()
        answer["response"] = Client().get("/readyz", HTTP_HOST="localhost")
        answer["seconds"] = time.monotonic() - started

    with override_settings(STORAGES=storages):
        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        thread.join(timeout=20)
        silent.close()
        thread.join(timeout=5)
    assert answer, "the probe was still waiting on S3"
    assert answer["response"].status_code == 503
    assert answer["response"].json()["failing"] == ["storage"]
    assert answer["seconds"] < 10
