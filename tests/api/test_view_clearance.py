"""Someone in a department that views the DV ledger up to internal data (市民税課), and in one
whose grant gives no view (市民課: a 窓口 that may only search, 加害者検索 alone or every
screen, or a grant to export only) up to special care: a record disclosed to both showed,
in the list and by its id, the name, birth date and address, which neither grant shows
this person by itself (the search screens choose their fields; 加害者検索 never shows a
birth date or an address). Found by the outputs review of 2026-11-30: the clearance was
the highest of the grants with any read capability (view, search, export, print). Now a
grant's clearance goes with its own capabilities: records are shown with that of the
grants that give ``view`` (``LedgerPolicy``), a search screen with that of the grants
that allow it (``for_screen``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership, Role
from ledgers.access.services import grants_replace
from ledgers.records.services import record_create
from tests.api.conftest import Api, records_url


@pytest.fixture
def desk(city: dict[str, Any]) -> dict[str, Any]:
    with schema_context("mitaka"):
        both = record_create(
            actor=city["people"]["clerk"], ledger=city["ledger"],
            values={
                "name": {"kanji": "鈴木 一郎", "kana": "スズキ イチロウ"}, "amount": 500,
                "birth_date": "1980-01-02",
                "address": {"postal_code": "181-0011", "text": "東京都三鷹市井口二丁目3番4号"},
                "disclosure": {"shimin": True, "shiminzei": True},
            },
        )  # fmt: skip
        user = get_user_model().objects.create_user(
            username="desk", password="S3cret!pass-api", display_name="desk"
        )
        for code in ("shimin", "shiminzei"):
            Membership.objects.create(
                user=user, department=city["departments"][code], role=Role.EDITOR,
                valid_from=date(2026, 4, 1),
            )  # fmt: skip
    return {"record": both, "user": user}


def _grants(city: dict[str, Any], shimin: dict[str, Any]) -> None:
    with schema_context("mitaka"):
        grants_replace(
            actor=city["people"]["designer"], ledger=city["ledger"],
            grants=[
                {"department": "shimin", "clearance": "special_care", **shimin},
                {"department": "shiminzei", "capabilities": ["view", "search"], "clearance": "internal"},
            ],
        )  # fmt: skip


@pytest.mark.parametrize(
    "shimin",
    [
        {"capabilities": ["search"], "search_screens": ["offender"]},
        {"capabilities": ["search"]},
        {"capabilities": ["export"]},
    ],
)
def test_a_grant_without_view_does_not_raise_what_a_viewed_record_shows(
    city: dict[str, Any], desk: dict[str, Any], shimin: dict[str, Any]
) -> None:
    _grants(city, shimin)
    client = Api(desk["user"])
    listed = client.get(records_url(), {"amount": "500"})
    assert listed.status_code == 200, listed.content
    (shown,) = listed.json()["results"]
    read = client.get(records_url(desk["record"].pk))
    assert read.status_code == 200, read.content
    for values in (shown["values"], read.json()["values"]):
        assert values["amount"] == 500
        for key in ("name", "birth_date", "address"):
            assert values[key] == {"masked": True}, key


@pytest.mark.parametrize("screens", [["latest"], None])
def test_the_search_grant_still_reads_at_its_own_clearance_through_its_screens(
    city: dict[str, Any], desk: dict[str, Any], screens: list[str] | None
) -> None:
    """What the desk's grant to search gives is unchanged where it applies: a screen it
    allows shows the result fields up to its clearance (the name, birth date and address
    本人検索（最新） chooses), and takes criteria on them; only the list and the record's
    page, which the grant does not give, keep to the ``view`` grant's clearance."""
    _grants(city, {"capabilities": ["search"], "search_screens": screens})
    client = Api(desk["user"])
    found = client.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"address": "井口二丁目"}, "reason": "本人からの申出の確認"},
    )
    assert found.status_code == 200, found.content
    (hit,) = found.json()["results"]
    assert hit["id"] == str(desk["record"].pk)
    assert hit["values"]["address"]["text"] == "東京都三鷹市井口二丁目3番4号"
    assert hit["values"]["birth_date"] == "1980-01-02"
    # Nor does a filter of the list on the address match it (its page shows it masked):
    # else its matches spelt out what the page hides, one question at a time.
    listed = client.get(records_url(), {"address__contains": "井口"})
    assert listed.status_code == 200, listed.content
    assert listed.json()["results"] == []
    assert client.get(records_url(), {"amount": "500"}).json()["results"][0]["id"] == hit["id"]


def test_on_a_ledger_without_disclosure_the_view_grant_s_clearance_shows_the_records(
    city: dict[str, Any], desk: dict[str, Any]
) -> None:
    """Without a 照会可否 field every record is read with the policy's own clearance: it
    was the highest of the grants with any read capability, so 市民課's grant to search
    (要配慮) showed the address on every page 市民税課's ``view`` (庁内) lists."""
    from ledgers.definitions.services import ledger_create

    with schema_context("mitaka"):
        ledger = ledger_create(
            actor=city["people"]["designer"], code="plain", name="相談記録",
            fields=[{"key": "name", "label": "氏名", "type": "person_name", "sensitivity": "personal"},
                    {"key": "address", "label": "住所", "type": "address", "sensitivity": "special_care"},
                    {"key": "amount", "label": "金額", "type": "integer"}],
        )  # fmt: skip
        record_create(
            actor=city["people"]["designer"], ledger=ledger,
            values={"name": {"kanji": "鈴木 一郎", "kana": "スズキ イチロウ"}, "amount": 7,
                    "address": {"postal_code": "181-0011", "text": "東京都三鷹市井口二丁目3番4号"}},
        )  # fmt: skip
        grants_replace(
            actor=city["people"]["designer"], ledger=ledger,
            grants=[
                {"department": "shimin", "capabilities": ["search"], "clearance": "special_care"},
                {"department": "shiminzei", "capabilities": ["view"], "clearance": "internal"},
            ],
        )  # fmt: skip
    client = Api(desk["user"])
    (shown,) = client.get("/api/v1/ledgers/plain/records/").json()["results"]
    assert shown["values"]["amount"] == 7
    assert shown["values"]["name"] == {"masked": True}
    assert shown["values"]["address"] == {"masked": True}
    refused = client.get("/api/v1/ledgers/plain/records/", {"address__contains": "井口"})
    assert refused.status_code == 400, refused.content


def test_opening_a_record_to_one_s_own_search_only_department_is_refused(
    city: dict[str, Any], desk: dict[str, Any]
) -> None:
    """The desk person writes through 市民税課 (view, search, update up to 庁内) a record
    disclosed to 市民税課 alone. Setting 市民課 (its own other department, search up to
    要配慮) to 可 gives it nothing on the record's page, but its search screens would then
    show it the address: still raising its own rights, refused as before (the write guard
    compared the page's clearance only once that clearance kept to ``view`` grants)."""
    with schema_context("mitaka"):
        zei_only = record_create(
            actor=city["people"]["clerk"], ledger=city["ledger"],
            values={"name": {"kanji": "佐藤 次郎", "kana": "サトウ ジロウ"}, "amount": 9,
                    "address": {"postal_code": "181-0011", "text": "東京都三鷹市井口一丁目2番3号"},
                    "disclosure": {"shimin": False, "shiminzei": True}},
        )  # fmt: skip
        grants_replace(
            actor=city["people"]["designer"], ledger=city["ledger"],
            grants=[
                {"department": "shimin", "capabilities": ["search"], "clearance": "special_care"},
                {"department": "shiminzei", "capabilities": ["view", "search", "update"], "clearance": "internal"},
            ],
        )  # fmt: skip
    client = Api(desk["user"])
    opened = client.patch(
        records_url(zei_only.pk),
        {"values": {"disclosure": {"shimin": True, "shiminzei": True}}},
        HTTP_IF_MATCH='"1"',
    )
    assert opened.status_code == 403, opened.content
    assert opened.json()["detail"]["fields"] == ["disclosure"]
