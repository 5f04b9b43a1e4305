"""HEAD needs the scope GET needs (it runs the GET handler: its policy, its audit events,
and headers that tell what its body would); the webhooks' reads need ledgers:design."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from tests.api.conftest import records_url


def test_a_get_without_records_read_is_403(api: Any, city: dict[str, Any]) -> None:
    """Control: a token without records:read is refused on GET."""
    token = api("clerk", ["audit:read"])
    assert token.get(records_url(city["record"].pk)).status_code == 403


def test_head_of_a_record_needs_records_read(api: Any, city: dict[str, Any]) -> None:
    token = api("clerk", ["audit:read"])  # no records:read
    hit = token.head(records_url(city["record"].pk))
    miss = token.head(records_url(uuid.uuid4()))
    # was 200 with the record's ETag against 404: an existence oracle without records:read
    assert (hit.status_code, miss.status_code) == (403, 403)
    assert hit.get("ETag") is None


def test_head_of_a_list_needs_records_read_and_writes_no_event(
    api: Any, city: dict[str, Any]
) -> None:
    token = api("clerk", ["audit:read"])  # no records:read
    with schema_context("mitaka"):
        before = AuditEvent.objects.filter(action="record.list").count()
    match = token.head(records_url(), {"name__contains": "山田"})
    nomatch = token.head(records_url(), {"name__contains": "佐藤"})
    with schema_context("mitaka"):
        after = AuditEvent.objects.filter(action="record.list").count()
    # was 200 both, Content-Length telling whether a DV client named 山田 exists
    assert (match.status_code, nomatch.status_code) == (403, 403)
    assert match.content == nomatch.content
    assert after == before


def test_head_of_the_staff_list_needs_staff_admin(api: Any, city: dict[str, Any]) -> None:
    token = api("admin", ["records:read"])  # no staff:admin
    assert token.get("/api/v1/staff/").status_code == 403  # control
    response = token.head("/api/v1/staff/")
    assert response.status_code == 403, (response.status_code, response.get("Content-Length"))


def test_head_of_the_audit_trail_needs_audit_read(api: Any, city: dict[str, Any]) -> None:
    token = api("auditor", ["records:read"])  # no audit:read
    assert token.get("/api/v1/audit/events/").status_code == 403  # control
    response = token.head("/api/v1/audit/events/", {"actor": "clerk"})
    assert response.status_code == 403, (response.status_code, response.get("Content-Length"))


def test_the_department_list_needs_no_scope_as_documented(api: Any, city: dict[str, Any]) -> None:
    token = api("clerk", ["audit:read"])
    assert token.get("/api/v1/departments/").status_code == 200
    assert token.head("/api/v1/departments/").status_code == 200
    refused = token.post("/api/v1/departments/", {"code": "x", "name": "x課"})
    assert refused.status_code == 403


def test_webhook_reads_need_ledgers_design(api: Any, city: dict[str, Any]) -> None:
    designer_full = api("designer")
    created = designer_full.post(
        "/api/v1/ledgers/dv/webhooks/",
        {"url": "http://127.0.0.1:9/x", "events": ["record.created"]},
    )
    assert created.status_code == 201, created.content
    hook = created.json()["id"]
    reader = api("designer", ["records:read"])  # no ledgers:design
    statuses = [
        reader.get(p).status_code
        for p in (
            "/api/v1/ledgers/dv/webhooks/",
            f"/api/v1/ledgers/dv/webhooks/{hook}/",
            f"/api/v1/ledgers/dv/webhooks/{hook}/deliveries/",
        )
    ]
    assert statuses == [403, 403, 403], statuses


def test_a_design_token_reads_the_definitions_it_writes(api: Any) -> None:
    """Reading a definition needs no scope (as the departments): a design-only token can
    read back what it writes; records:read would have opened every record too."""
    designer = api("designer", ["ledgers:design"])
    for path in ("/api/v1/ledgers/", "/api/v1/ledgers/dv/", "/api/v1/ledgers/dv/fields/",
                 "/api/v1/ledgers/dv/fields/name/"):  # fmt: skip
        assert designer.get(path).status_code == 200, path
    assert designer.get("/api/v1/ledgers/dv/records/").status_code == 403


def test_an_unknown_field_and_an_unrouted_path_are_json_404s(api: Any) -> None:
    clerk = api("clerk")
    missing = clerk.get("/api/v1/ledgers/dv/fields/nosuch/")
    assert missing.status_code == 404
    assert missing.json()["code"] == "ERROR_FIELD_DOES_NOT_EXIST"
    unrouted = clerk.get("/api/v1/ledgers/台帳/")
    assert unrouted.status_code == 404
    assert unrouted.json()["code"] == "ERROR_NOT_FOUND"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/ledgers/%0Adv/", "/api/v1/ledgers/dv/fields/%0A/", "/api/v1/%0D%0A", "/api/%0A"],
)
def test_an_unrouted_path_holding_a_line_break_is_an_api_error(api: Any, path: str) -> None:
    """The catch-all route's ``.`` matched no line break: such a path fell through to
    Django's HTML page, not the API's error shape (found by schemathesis). A control
    character in an API path is refused before routing now (ledgers.api.middleware)."""
    unrouted = api("clerk").get(path)
    assert unrouted.status_code == 400
    assert unrouted.json()["code"] == "ERROR_REQUEST_INVALID"
