"""A link to a DV record that its reader reaches only through a department that may search
the DV ledger but not view it (a desk that finds people through its search screens, in
another department that views the ledger): shown masked, as the record itself is 404 by
its id and absent from the lists (``LedgerPolicy.viewing``). Found by the review of
existence and value oracles, 2026-11-30: the link named the record, and so that the
person of the 相談記録 has a DV record, outside the screens that choose what the desk
learns (a desk allowed 加害者検索 only never finds a victim by name)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership, Role
from ledgers.access.services import grants_replace
from ledgers.definitions.services import ledger_create
from tests.api.conftest import Api, records_url

SOUDAN = "/api/v1/ledgers/soudan/records/"
MASKED = {"masked": True}


@pytest.fixture
def setting(api: Any, city: dict[str, Any]) -> dict[str, Any]:
    """A 相談記録 linking the DV record (可 for 市民課 only); then 市民課 may only search
    the DV ledger, 市民税課 views it; ``desk`` is an editor of both and views 相談記録."""
    designer = city["people"]["designer"]
    with schema_context("mitaka"):
        soudan = ledger_create(
            actor=designer, code="soudan", name="相談記録",
            fields=[{"key": "title", "label": "件名", "type": "text"},
                    {"key": "dv_case", "label": "DV記録", "type": "reference",
                     "options": {"ledger": "dv"}}],
        )  # fmt: skip
        grants_replace(
            actor=designer, ledger=soudan,
            grants=[{"department": d, "capabilities": ["view", "search", "create", "update"],
                     "clearance": "personal"} for d in ("shimin", "shiminzei")],
        )  # fmt: skip
    dv_id = str(city["record"].pk)
    created = api("clerk").post(
        SOUDAN, {"values": {"title": "住民税の相談", "dv_case": {"ledger": "dv", "record": dv_id}}}
    )
    assert created.status_code == 201, created.content
    with schema_context("mitaka"):
        grants_replace(
            actor=designer, ledger=city["ledger"],
            grants=[
                {"department": "shimin", "capabilities": ["search"], "clearance": "special_care"},
                {"department": "shiminzei", "capabilities": ["view", "search"], "clearance": "personal"},
            ],
        )  # fmt: skip
        desk = get_user_model().objects.create_user(
            username="desk", password="S3cret!pass-api", display_name="desk"
        )
        for code in ("shimin", "shiminzei"):
            Membership.objects.create(
                user=desk, department=city["departments"][code], role=Role.EDITOR,
                valid_from=date(2026, 4, 1),
            )  # fmt: skip
    return {"desk": Api(desk), "dv": dv_id, "soudan": created.json()["id"]}


def test_the_link_is_masked_where_the_record_is_404(setting: dict[str, Any]) -> None:
    desk, dv_id = setting["desk"], setting["dv"]
    assert desk.get(records_url(dv_id)).status_code == 404
    shown = desk.get(f"{SOUDAN}{setting['soudan']}/")
    assert shown.status_code == 200
    assert shown.json()["values"]["dv_case"] == MASKED
    assert dv_id not in shown.content.decode()
    listed = desk.get(SOUDAN)
    assert dv_id not in listed.content.decode()


def test_a_filter_on_the_link_matches_nothing(setting: dict[str, Any]) -> None:
    """As for any link the reader sees masked: a count confirmed a guessed target."""
    answer = setting["desk"].get(SOUDAN, {"dv_case": f"dv:{setting['dv']}", "count": "true"})
    assert answer.status_code == 200
    assert (answer.json()["count"], answer.json()["results"]) == (0, [])


def test_the_desk_may_still_link_a_record_it_found_by_search(setting: dict[str, Any]) -> None:
    """A writer links what its search screens found: the write's check is unchanged."""
    created = setting["desk"].post(
        SOUDAN, {"values": {"title": "窓口", "dv_case": {"ledger": "dv", "record": setting["dv"]}}}
    )
    assert created.status_code == 201, created.content
    assert created.json()["values"]["dv_case"] == MASKED
