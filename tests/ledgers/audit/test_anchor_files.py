"""Anchor files: every one is compared with the chain, not only the latest.

The attacker here is the application's own role: it owns the city tables and the public
anchors (so it can rewrite the chain and delete the public rows, ``rewrite_whole_chain``)
and it holds the storage credentials that write the anchor files.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditSeal
from ledgers.audit.services import audit_anchor, audit_verify
from tests.conftest import City
from tests.ledgers.audit.conftest import as_superuser, record_events, rewrite_whole_chain


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


def test_a_newer_forged_anchor_file_does_not_hide_a_rewrite_from_an_older_one(
    in_mitaka: City,
) -> None:
    # Before, verify read only the latest file: a role that can still add files rewrote
    # the chain, removed the public rows, added tomorrow's file with the new head: "OK".
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
