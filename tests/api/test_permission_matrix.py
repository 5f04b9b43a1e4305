"""The permission matrix: role × output path, allowed or refused as designed, masks everywhere.

Every member below belongs to 市民課 (the record is disclosed to it) and the 市民課 grant
gives every capability with clearance up to personal data, so what a member may do is
decided by the role's ceiling, and the victim's address (special care) must never appear
in any output, whatever the path. Adding an output path is one line in ``OUTPUT_PATHS``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership, Role
from ledgers.access.policy import ALL_CAPABILITIES, ROLE_CEILING, policy_for
from ledgers.access.services import grants_replace
from tests.api.conftest import ADDRESS, Api, records_url

SECRETS = [ADDRESS, "下連雀", "181-0013"]


def _service_view(client: Api, city: dict[str, Any]) -> tuple[int, bytes]:
    with schema_context("mitaka"):
        policy = policy_for(client.user, city["ledger"])
        if not policy.can("view"):
            return 403, b""
        record = policy.get_record(city["record"].pk)
        return 200, json.dumps(policy.mask(record.data), ensure_ascii=False).encode()


def _http(
    call: Callable[[Api, dict[str, Any]], Any],
) -> Callable[[Api, dict[str, Any]], tuple[int, bytes]]:
    def run(client: Api, city: dict[str, Any]) -> tuple[int, bytes]:
        response = call(client, city)
        return response.status_code, response.content

    return run


# name → (capability it needs, how to call it)
OUTPUT_PATHS: dict[str, tuple[str, Callable[[Api, dict[str, Any]], tuple[int, bytes]]]] = {
    "service.view": ("view", _service_view),
    "api.record": ("view", _http(lambda c, city: c.get(records_url(city["record"].pk)))),
    "api.list": ("view", _http(lambda c, city: c.get(records_url()))),
    "api.as_of": ("view", _http(lambda c, city: c.get(records_url(city["record"].pk), {"as_of": "2100-01-01T00:00:00+09:00"}))),
    "api.versions": ("view", _http(lambda c, city: c.get(records_url(city["record"].pk, "versions/")))),
    "api.version": ("view", _http(lambda c, city: c.get(records_url(city["record"].pk, "versions/1/")))),
    "api.diff": ("view", _http(lambda c, city: c.get(records_url(city["record"].pk, "diff/"), {"from": 1, "to": 1}))),
    "api.search": ("search", _http(lambda c, city: c.post("/api/v1/ledgers/dv/search/latest/", {"criteria": {"name": "山田"}, "reason": "本人確認"}))),
    "api.search_past": ("search", _http(lambda c, city: c.post("/api/v1/ledgers/dv/search/past/", {"criteria": {"name": "山田"}, "reason": "本人確認"}))),
    "api.offender_search": ("search", _http(lambda c, city: c.post("/api/v1/ledgers/dv/search/offender/", {"criteria": {"offenders.name": "山田"}, "reason": "本人確認"}))),
    "api.grants": ("design", _http(lambda c, city: c.get("/api/v1/ledgers/dv/grants/"))),
    "api.audit": ("audit", _http(lambda c, city: c.get("/api/v1/audit/events/"))),
}  # fmt: skip


@pytest.fixture
def members(city: dict[str, Any], api: Any) -> dict[str, Api]:
    with schema_context("mitaka"):
        grants_replace(
            actor=city["people"]["designer"], ledger=city["ledger"],
            grants=[{"department": "soumu", "capabilities": ["design"], "clearance": "internal"},
                    {"department": "shimin", "capabilities": sorted(ALL_CAPABILITIES), "clearance": "personal"}],
        )  # fmt: skip
        from django.contrib.auth import get_user_model

        clients = {}
        for role in Role:
            user = get_user_model().objects.create_user(
                username=f"m_{role.value}", password="x" * 12
            )
            Membership.objects.create(
                user=user,
                department=city["departments"]["shimin"],
                role=role,
                valid_from=date(2026, 4, 1),
            )
            clients[role.value] = Api(user)
    return clients


@pytest.mark.parametrize("path", sorted(OUTPUT_PATHS))
@pytest.mark.parametrize("role", [r.value for r in Role])
def test_role_by_output_path(
    members: dict[str, Api], city: dict[str, Any], role: str, path: str
) -> None:
    capability, call = OUTPUT_PATHS[path]
    status, body = call(members[role], city)
    allowed = capability in ROLE_CEILING[role] or (
        role == Role.CITY_ADMIN and capability == "audit"
    )
    # The audit trail: per grant too (a ledger's events for whoever its grants give 監査,
    # within the role's ceiling), not the auditor's role alone.
    assert (status == 200) is allowed, (role, path, status, body[:300])
    if not allowed:
        assert status == 403
    for secret in SECRETS:
        assert secret.encode() not in body, (role, path, secret)
