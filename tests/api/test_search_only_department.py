"""Someone in a department that may search the DV ledger but not view it (a desk that
finds people through the search screens) and in another that may view it: a record
disclosed only to the first is found through the search screens, which choose what it
shows, and through nothing else (found by the search-surface review of 2026-11-30)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership, Role
from ledgers.access.services import grants_replace
from ledgers.audit.models import AuditEvent
from ledgers.records.services import record_create
from tests.api.conftest import Api, records_url

OTHER_ADDRESS = "東京都三鷹市井口二丁目3番4号"
MOVED = "井口二丁目へ転居"


@pytest.fixture
def setting(city: dict[str, Any]) -> dict[str, Any]:
    """市民課 may search (not view) up to special care, 市民税課 view and search up to
    personal data; ``desk`` is an editor of both. The fixture's record (可 for 市民課 only)
    was changed once with a reason that names a move; ``zei_only`` is 可 for 市民税課 only."""
    clerk = Api(city["people"]["clerk"])
    changed = clerk.patch(
        records_url(city["record"].pk), {"values": {"amount": 2000}, "reason": MOVED},
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert changed.status_code == 200, changed.content
    with schema_context("mitaka"):
        zei_only = record_create(
            actor=city["people"]["clerk"], ledger=city["ledger"],
            values={
                "name": {"kanji": "鈴木 一郎", "kana": "スズキ イチロウ"}, "amount": 500,
                "address": {"postal_code": "181-0011", "text": OTHER_ADDRESS},
                "disclosure": {"shimin": False, "shiminzei": True},
            },
        )  # fmt: skip
        grants_replace(
            actor=city["people"]["designer"], ledger=city["ledger"],
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
    return {"desk": Api(desk), "searched": city["record"], "zei_only": zei_only}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"count": "true"},
        {"address__contains": "下連雀"},  # special care: 市民課 reads it, in its screens only
        {"amount": "2000"},  # in no search screen at all
        {"amount__gte": "1500"},
    ],
)
def test_the_list_holds_no_record_seen_only_through_a_search_only_department(
    setting: dict[str, Any], params: dict[str, str]
) -> None:
    """The list named the record (id, generation, times) with no values, counted it, and
    matched a filter on any field the desk reads against it: 「amount=2000」 found it, and
    「address__contains=下連雀」 spelt out its address without a search screen or a reason."""
    answer = setting["desk"].get(records_url(), params)
    assert answer.status_code == 200, answer.content
    ids = [r["id"] for r in answer.json()["results"]]
    assert str(setting["searched"].pk) not in ids
    if "count" in params:
        assert answer.json()["count"] == 1
        assert ids == [str(setting["zei_only"].pk)]


def test_the_list_shows_the_records_disclosed_to_the_department_that_views(
    setting: dict[str, Any],
) -> None:
    answer = setting["desk"].get(records_url(), {"amount": "500"})
    assert [r["id"] for r in answer.json()["results"]] == [str(setting["zei_only"].pk)]
    assert answer.json()["results"][0]["values"]["name"]["kanji"] == "鈴木 一郎"


def test_the_change_reasons_of_a_record_seen_only_through_search_are_refused(
    setting: dict[str, Any],
) -> None:
    """Its generations were 403 already; their list answered every reason (free text about
    the person: a move, here) and who wrote each."""
    desk = setting["desk"]
    refused = desk.get(records_url(setting["searched"].pk, "versions/"))
    assert refused.status_code == 403
    assert MOVED not in refused.content.decode()
    assert desk.get(records_url(setting["zei_only"].pk, "versions/")).status_code == 200


def test_the_search_screens_still_find_it_and_show_their_result_fields(
    setting: dict[str, Any],
) -> None:
    found = setting["desk"].post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"name": "山田"}, "reason": "窓口での本人確認のため"},
    )
    assert found.status_code == 200, found.content
    (hit,) = found.json()["results"]
    assert hit["id"] == str(setting["searched"].pk)
    assert hit["values"]["address"]["text"].endswith("下連雀九丁目8番7号")


def test_a_record_seen_only_through_search_is_not_read_by_id(setting: dict[str, Any]) -> None:
    """Read by its id (which a search gave), it answered 200 with no values but its state,
    generation and times (when the person's record last changed), outside the screens, and
    the trail said record.view. It is a record the desk may not see, read as such (404,
    record.refused); ``as_of`` refused it already (403), as its generations are."""
    desk = setting["desk"]
    refused = desk.get(records_url(setting["searched"].pk))
    assert refused.status_code == 404, refused.content
    assert "updated_at" not in refused.json()
    with schema_context("mitaka"):
        events = list(
            AuditEvent.objects.filter(
                record_id=setting["searched"].pk, actor__username="desk"
            ).values_list("action", flat=True)
        )
    assert events == ["record.refused"]
    as_of = desk.get(records_url(setting["searched"].pk), {"as_of": "2030-01-01T00:00:00+09:00"})
    assert as_of.status_code == 403
    shown = desk.get(records_url(setting["zei_only"].pk))
    assert shown.status_code == 200
    assert shown.json()["values"]["name"]["kanji"] == "鈴木 一郎"


def test_a_refused_read_of_its_history_is_in_the_trail(setting: dict[str, Any]) -> None:
    """Its generations, their list, a diff and ``as_of`` are 403 to the desk, and left
    nothing in the trail: a look into the history of a person the desk may not read (the
    versions' reasons, the old addresses) was invisible to the auditor, while the same
    look by its id leaves ``record.refused``. Each now leaves one, naming what was tried."""
    desk, record_id = setting["desk"], setting["searched"].pk
    tries = [
        ("versions/", None, "record.versions"),
        ("versions/1/", None, "record.version_view"),
        ("diff/", {"from": 1, "to": 2}, "record.diff"),
        ("", {"as_of": "2030-01-01T00:00:00+09:00"}, "record.view"),
    ]
    for suffix, params, _attempted in tries:
        assert desk.get(records_url(record_id, suffix), params).status_code == 403, suffix
    with schema_context("mitaka"):
        events = list(
            AuditEvent.objects.filter(record_id=record_id, actor__username="desk")
            .order_by("seq")
            .values_list("action", "details")
        )
    assert [(action, details["attempted"], details["exists"]) for action, details in events] == [
        ("record.refused", attempted, True) for _s, _p, attempted in tries
    ]
