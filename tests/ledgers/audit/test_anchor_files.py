"""Anchor files: every one is compared with the chain, and on S3 they sit under Object Lock.

The attacker here is the application's own role: it owns the city tables and the public
anchors (so it can rewrite the chain and delete the public rows, ``rewrite_whole_chain``)
and it holds the storage credentials that write the anchor files. S3 runs as a local moto
server; moto checks no IAM permission, so its one set of credentials stands for the
application's. What moto enforces of Object Lock, and so what is tested here: a locked
version cannot be deleted (GOVERNANCE yields to the bypass header), a PUT to the same name
adds a version and a DELETE without a version adds a delete marker, both leaving the
locked version in place. (Real S3 also refuses to shorten a COMPLIANCE retention; moto
does not, so that is not tested.)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from ledgers.audit.exceptions import AnchorLockUnavailable
from ledgers.audit.models import AuditSeal
from ledgers.audit.services import audit_anchor, audit_seal, audit_verify
from tenants.anchors import AuditAnchor
from tests.conftest import City
from tests.ledgers.audit.conftest import as_superuser, record_events, rewrite_whole_chain

REGION = "ap-northeast-1"


@dataclass(frozen=True)
class Bucket:
    name: str
    client: Any

    def key(self, name: str) -> str:
        """The object key of an anchor file's storage name (under the public prefix)."""
        return f"public/{name}"

    def versions(self, name: str) -> list[dict[str, Any]]:
        listed = self.client.list_object_versions(Bucket=self.name, Prefix=self.key(name))
        return listed.get("Versions", [])


def _bucket(endpoint: str, *, object_lock: bool) -> Bucket:
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    # Locked objects outlive the test (that is the point): a bucket of its own each time.
    name = f"daicho-anchors-{uuid.uuid4().hex[:12]}"
    client.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=object_lock,
    )  # fmt: skip
    return Bucket(name, client)


def _on_s3(endpoint: str, bucket: Bucket, **values: Any) -> Any:
    return override_settings(
        STORAGES={
            "default": {"BACKEND": "daicho.storage.TenantS3Storage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        AWS_STORAGE_BUCKET_NAME=bucket.name, AWS_S3_ENDPOINT_URL=endpoint,
        AWS_S3_REGION_NAME=REGION, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
        **values,
    )  # fmt: skip


@pytest.fixture(params=["COMPLIANCE"])
def locked(request: pytest.FixtureRequest, s3_endpoint: str) -> Iterator[Bucket]:
    """Anchor files on an S3 bucket created with Object Lock, locked for 30 days."""
    bucket = _bucket(s3_endpoint, object_lock=True)
    with _on_s3(
        s3_endpoint, bucket, AUDIT_ANCHOR_LOCK_DAYS=30, AUDIT_ANCHOR_LOCK_MODE=request.param
    ):
        yield bucket


def _today_name() -> str:
    return f"anchors/mitaka/{timezone.localdate():%Y-%m-%d}.json"


def _forged_anchor() -> bytes:
    """An anchor file of the rewritten chain's head, as the application would write it."""
    head = AuditSeal.objects.order_by("-n").first()
    assert head is not None
    return json.dumps({
        "format": "daicho-audit-anchor/1", "schema": "mitaka", "municipality_code": "132047",
        "position": head.n, "head_seq": head.event_id, "head_hash": bytes(head.hash).hex(),
        "sealed_events": head.n, "anchored_at": timezone.now().isoformat(),
    }).encode()  # fmt: skip


def _remove_public_anchors() -> None:
    with schema_context("public"):
        as_superuser("public", "tenants_auditanchor", "DELETE FROM public.tenants_auditanchor")


# --- every file is compared ---------------------------------------------------------------


@pytest.mark.parametrize("where", ["local", "s3 locked"])
def test_a_newer_forged_anchor_file_does_not_hide_a_rewrite_from_an_older_one(
    in_mitaka: City, where: str, s3_endpoint: str
) -> None:
    # Before, verify read only the latest file: a role that can still add files rewrote
    # the chain, removed the public rows, added tomorrow's file with the new head: "OK".
    bucket = _bucket(s3_endpoint, object_lock=True)
    settings = (
        _on_s3(s3_endpoint, bucket, AUDIT_ANCHOR_LOCK_DAYS=30)
        if where == "s3 locked"
        else override_settings()
    )
    with settings:
        events = record_events(6)
        anchor = audit_anchor()
        record_events(3)
        rewrite_whole_chain(events[1])
        _remove_public_anchors()
        tomorrow = f"anchors/mitaka/{timezone.localdate() + timedelta(days=1):%Y-%m-%d}.json"
        forged = _forged_anchor()
        with schema_context("public"):
            default_storage.save(tomorrow, ContentFile(forged))
        result = audit_verify()
    assert (result.ok, result.code, result.position) == (False, "anchor_mismatch", anchor.position)
    assert anchor.storage_name in result.reason
    assert result.seq == AuditSeal.objects.get(n=anchor.position).event_id


def test_every_anchor_file_is_read_and_compared(in_mitaka: City) -> None:
    record_events(2)
    anchor = audit_anchor()
    with schema_context("public"):
        body = default_storage.open(anchor.storage_name).read()
        for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
            default_storage.save(f"anchors/mitaka/{day}.json", ContentFile(body))
        default_storage.save("anchors/mitaka/README.txt", ContentFile(b"not an anchor"))
    result = audit_verify()
    # One public row and four files, every one at its position.
    assert (result.ok, result.anchors_checked) == (True, 5)


@pytest.mark.parametrize("anchored_at", ["0001-01-01T00:00:00+09:00", "0999-06-01T00:00:00+00:00"])
def test_an_anchor_file_dated_at_the_edge_of_time_is_compared_not_a_crash(
    in_mitaka: City, anchored_at: str
) -> None:
    """A file whose ``anchored_at`` lies where a moment an hour earlier, or in UTC, does not
    exist (year 1) or whose year has three digits: verify compares it as any other and
    names no event backdated (the earliest time it allows reads as a time)."""
    record_events(2)
    anchor = audit_anchor()
    with schema_context("public"):
        body = json.loads(default_storage.open(anchor.storage_name).read())
        forged = json.dumps({**body, "anchored_at": anchored_at}).encode()
        default_storage.save("anchors/mitaka/2026-01-01.json", ContentFile(forged))
    record_events(1)
    result = audit_verify()
    assert (result.ok, result.code, result.anchors_checked) == (True, "", 3)


@pytest.mark.parametrize("changed_later", [False, True], ids=["nothing-else", "a-later-change"])
def test_an_anchor_dated_after_the_verification_is_invalid_not_a_backdated_event(
    in_mitaka: City, changed_later: bool
) -> None:
    """Whoever can add anchor files (the application's storage credentials) copied a real
    anchor, dated it 2099 and added it: every event sealed after its position then read as
    dated before it, so verify named an honest event ``event_backdated``, on every run for
    as long as the file is kept (under Object Lock, years), and a later real change to the
    trail was never reported behind it. An anchor dated after the verification is no
    anchor: it is named (``anchor_invalid``) once the chain itself has been checked."""
    events = record_events(2)
    anchor = audit_anchor()
    with schema_context("public"):
        body = json.loads(default_storage.open(anchor.storage_name).read())
        forged = json.dumps({**body, "anchored_at": "2099-12-31T00:00:00+09:00"}).encode()
        default_storage.save("anchors/mitaka/2099-12-31.json", ContentFile(forged))
    later = record_events(3)
    audit_seal()
    if changed_later:
        as_superuser(
            "mitaka", "ledgers_auditevent",
            "UPDATE mitaka.ledgers_auditevent SET details = '{}' WHERE seq = %s",
            [later[1].seq],
        )  # fmt: skip
    result = audit_verify()
    if changed_later:
        assert (result.ok, result.code, result.seq) == (False, "event_changed", later[1].seq)
    else:
        assert (result.ok, result.code) == (False, "anchor_invalid")
        assert "anchors/mitaka/2099-12-31.json" in result.reason
        assert "2099" in result.reason
        assert result.position == anchor.position == len(events) + 1


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"schema": "musashino", "position": 1, "head_hash": "%s"}' % (b"0" * 64),
    ],
    ids=["not json", "not an object", "another city's"],
)
def test_a_file_that_is_no_anchor_of_the_city_is_reported(in_mitaka: City, content: bytes) -> None:
    # Before, such a file as the latest made verify fail with an exception (KeyError...).
    record_events(2)
    audit_anchor()
    with schema_context("public"):
        default_storage.save("anchors/mitaka/2099-12-31.json", ContentFile(content))
    result = audit_verify()
    assert (result.ok, result.code) == (False, "anchor_invalid")
    assert "anchors/mitaka/2099-12-31.json" in result.reason


# --- Object Lock ---------------------------------------------------------------------------


def test_an_anchor_file_is_put_under_object_lock_and_never_replaced(
    in_mitaka: City, locked: Bucket
) -> None:
    record_events(3)
    anchor = audit_anchor()
    assert anchor.storage_name == _today_name()
    head = locked.client.head_object(Bucket=locked.name, Key=locked.key(anchor.storage_name))
    assert head["ObjectLockMode"] == "COMPLIANCE"
    # Retained for the 30 days from the anchor, to the next whole second.
    until = anchor.anchored_at + timedelta(days=30)
    assert until <= head["ObjectLockRetainUntilDate"] < until + timedelta(seconds=1)
    stored = json.loads(
        locked.client.get_object(Bucket=locked.name, Key=locked.key(anchor.storage_name))[
            "Body"
        ].read()
    )
    assert (stored["position"], stored["head_hash"]) == (anchor.position, anchor.head_hash)
    # A second anchor the same day writes no second version of the day's file.
    record_events(1)
    assert audit_anchor().storage_name == ""
    assert len(locked.versions(anchor.storage_name)) == 1
    result = audit_verify()
    assert (result.ok, result.anchors_checked) == (True, 3)


@pytest.mark.parametrize("locked", ["COMPLIANCE", "GOVERNANCE"], indirect=True)
def test_the_storage_refuses_to_delete_a_locked_anchor_file(
    in_mitaka: City, locked: Bucket
) -> None:
    record_events(2)
    name = audit_anchor().storage_name
    (version,) = locked.versions(name)
    with pytest.raises(ClientError) as refused:
        locked.client.delete_object(
            Bucket=locked.name, Key=locked.key(name), VersionId=version["VersionId"]
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert len(locked.versions(name)) == 1
    mode = locked.client.head_object(Bucket=locked.name, Key=locked.key(name))["ObjectLockMode"]
    if mode == "GOVERNANCE":
        # Only for trials: whoever may bypass governance retention can delete the file.
        locked.client.delete_object(
            Bucket=locked.name, Key=locked.key(name), VersionId=version["VersionId"],
            BypassGovernanceRetention=True,
        )  # fmt: skip
        assert locked.versions(name) == []


def test_a_locked_anchor_file_deleted_and_replaced_still_finds_a_rewrite(
    in_mitaka: City, locked: Bucket
) -> None:
    # With the application's credentials: DELETE without a version (a delete marker), then
    # a PUT of a forged file under the same name (a newer version). Before, verify listed
    # only the current objects and read the forged one: "OK".
    events = record_events(6)
    anchor = audit_anchor()
    (original,) = locked.versions(anchor.storage_name)
    rewrite_whole_chain(events[2])
    _remove_public_anchors()
    key = locked.key(anchor.storage_name)
    locked.client.delete_object(Bucket=locked.name, Key=key)
    locked.client.put_object(Bucket=locked.name, Key=key, Body=_forged_anchor())
    assert len(locked.versions(anchor.storage_name)) == 2
    result = audit_verify()
    assert (result.ok, result.code, result.position) == (False, "anchor_mismatch", anchor.position)
    assert f"{anchor.storage_name}（版 {original['VersionId']}）" in result.reason


# --- a lock configured that the storage cannot give ---------------------------------------


def test_anchoring_with_the_lock_on_a_bucket_without_object_lock_fails_before_writing(
    in_mitaka: City, s3_endpoint: str
) -> None:
    bucket = _bucket(s3_endpoint, object_lock=False)
    record_events(3)
    sealed = AuditSeal.objects.count()  # the city's opening event, sealed at provisioning
    with (
        _on_s3(s3_endpoint, bucket, AUDIT_ANCHOR_LOCK_DAYS=30),
        pytest.raises(AnchorLockUnavailable) as refused,
    ):
        audit_anchor()
    assert refused.value.code == "AUDIT_ANCHOR_LOCK_UNAVAILABLE"
    assert f"バケット「{bucket.name}」ではオブジェクトロックが有効になっていません" in str(
        refused.value
    )
    assert "AUDIT_ANCHOR_LOCK_DAYS" in str(refused.value)
    # Nothing anchored, nothing sealed by the refused call, nothing stored.
    assert not AuditAnchor.objects.exists()
    assert AuditSeal.objects.count() == sealed
    assert "Contents" not in bucket.client.list_objects_v2(Bucket=bucket.name)


def test_the_lock_on_local_files_is_refused(in_mitaka: City) -> None:
    record_events(1)
    with (
        override_settings(AUDIT_ANCHOR_LOCK_DAYS=30),
        pytest.raises(AnchorLockUnavailable, match="STORAGE_BACKEND=s3"),
    ):
        audit_anchor()
    assert not AuditAnchor.objects.exists()


def test_readyz_fails_while_the_lock_is_configured_on_a_bucket_without_it(
    cities: dict, db: None, s3_endpoint: str
) -> None:
    plain = _bucket(s3_endpoint, object_lock=False)
    with _on_s3(s3_endpoint, plain, AUDIT_ANCHOR_LOCK_DAYS=30):
        response = Client().get("/readyz", HTTP_HOST="localhost")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == "error: AnchorLockUnavailable"
    with _on_s3(s3_endpoint, _bucket(s3_endpoint, object_lock=True), AUDIT_ANCHOR_LOCK_DAYS=30):
        assert Client().get("/readyz", HTTP_HOST="localhost").status_code == 200
