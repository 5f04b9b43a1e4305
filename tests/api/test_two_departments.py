"""Someone in two departments (兼務, or a 人事異動 that overlaps) on a ledger with 照会可否:
the rights on a record come only through the departments it is disclosed to.

市民課 may read addresses (special_care) and delete; 市民税課 may read up to personal data
and may not delete. Before, the policy took the best of both for every record, so a member
of both read the address of a record disclosed only to 市民税課, which neither department
alone showed with it; found by the session 16 review of the read paths."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership, Role
from ledgers.exceptions import RecordInvalid
from ledgers.records.models import Record
from ledgers.records.services import record_bulk_update, record_create
from tests.api.conftest import ADDRESS, Api, records_url

OTHER_ADDRESS = "東京都三鷹市井口二丁目3番4号"
MASKED = {"masked": True}


def _editor_of(city: dict[str, Any], username: str, departments: tuple[str, ...]) -> Any:
    """A new member (editor) of each of ``departments``, in the current schema."""
    user = get_user_model().objects.create_user(
        username=username, password="S3cret!pass-api", display_name=username
    )
    for code in departments:
        Membership.objects.create(
            user=user, department=city["departments"][code], role=Role.EDITOR,
            valid_from=date(2026, 4, 1),
        )  # fmt: skip
    return user


@pytest.fixture
def setting(city: dict[str, Any]) -> dict[str, Any]:
    """``kenmu`` (an editor of 市民課 and of 市民税課), the fixture's record (可 for 市民課
    only) and ``zei_only`` (可 for 市民税課 only, at another address)."""
    with schema_context("mitaka"):
        kenmu = _editor_of(city, "kenmu", ("shimin", "shiminzei"))
        zei_only = record_create(
            actor=city["people"]["clerk"], ledger=city["ledger"],
            values={
                "name": {"kanji": "鈴木 一郎", "kana": "スズキ イチロウ"},
                "birth_date": "1980-01-01", "amount": 500,
                "address": {"postal_code": "181-0011", "text": OTHER_ADDRESS},
                "disclosure": {"shimin": False, "shiminzei": True},
            },
        )  # fmt: skip
    return {"kenmu": Api(kenmu), "user": kenmu, "both": city["record"], "zei_only": zei_only}


def test_a_record_disclosed_to_one_department_shows_what_that_department_may_read(
    setting: dict[str, Any],
) -> None:
    kenmu, zei_only = setting["kenmu"], setting["zei_only"]
    answer = kenmu.get(records_url(zei_only.pk))
    assert answer.status_code == 200
    values = answer.json()["values"]
    assert values["address"] == MASKED
    assert values["name"]["kanji"] == "鈴木 一郎"  # personal: 市民税課 reads it
    assert "井口" not in answer.content.decode()
    # Its generations, the record as it was and a diff alike.
    for path, params in [
        ("versions/1/", None),
        ("", {"as_of": "2100-01-01T00:00:00+09:00"}),
    ]:
        shown = kenmu.get(records_url(zei_only.pk, path), params)
        assert shown.status_code == 200, path
        assert shown.json()["values"]["address"] == MASKED
        assert "井口" not in shown.content.decode()
    # The record disclosed to 市民課 shows the address, through 市民課.
    both = kenmu.get(records_url(setting["both"].pk)).json()
    assert both["values"]["address"]["text"] == ADDRESS


def test_a_list_filter_or_a_search_on_the_field_does_not_match_such_a_record(
    setting: dict[str, Any],
) -> None:
    kenmu = setting["kenmu"]
    hidden = kenmu.get(records_url(), {"address__contains": "井口", "count": "true"}).json()
    assert (hidden["count"], hidden["results"]) == (0, [])
    shown = kenmu.get(records_url(), {"address__contains": "下連雀", "count": "true"}).json()
    assert [r["id"] for r in shown["results"]] == [str(setting["both"].pk)]
    # A field 市民税課 reads finds both records.
    everyone = kenmu.get(records_url(), {"amount__gte": "1", "count": "true"}).json()
    assert everyone["count"] == 2
    search = kenmu.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"address": "井口"}, "reason": "住所の確認"},
    )
    assert search.status_code == 200
    assert search.json()["results"] == []
    by_name = kenmu.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"name": "鈴木"}, "reason": "本人の確認"},
    ).json()["results"]
    assert [hit["id"] for hit in by_name] == [str(setting["zei_only"].pk)]
    assert by_name[0]["values"]["address"] == MASKED


def test_writes_to_such_a_record_go_by_that_department_s_rights(
    setting: dict[str, Any],
) -> None:
    kenmu, zei_only = setting["kenmu"], setting["zei_only"]
    address = kenmu.patch(
        records_url(zei_only.pk),
        {"values": {"address": {"text": "東京都三鷹市牟礼一丁目"}}},
        HTTP_IF_MATCH='"1"',
    )
    assert address.status_code == 403
    assert address.json()["detail"]["fields"] == ["address"]
    # 市民税課 may not delete.
    deleted = kenmu.delete(records_url(zei_only.pk), {"reason": "誤登録"}, HTTP_IF_MATCH='"1"')
    assert deleted.status_code == 403
    # What 市民税課 may change, it changes.
    amount = kenmu.patch(records_url(zei_only.pk), {"values": {"amount": 700}}, HTTP_IF_MATCH='"1"')
    assert amount.status_code == 200
    assert amount.json()["values"]["address"] == MASKED
    with schema_context("mitaka"):
        stored = Record.objects.get(pk=zei_only.pk)
    assert (stored.generation, stored.deleted_at, stored.data["address"]["text"]) == (
        2, None, OTHER_ADDRESS,
    )  # fmt: skip
    # Many at once (imports' path): the address refused for that record alone.
    with schema_context("mitaka"):
        record = Record.objects.get(pk=zei_only.pk)
        with pytest.raises(RecordInvalid) as refused:
            record_bulk_update(
                actor=setting["user"], ledger=record.ledger,
                changes=[(record.pk, 2, {"address": {"text": "東京都三鷹市牟礼一丁目"}})],
            )  # fmt: skip
        assert refused.value.item_errors == {0: {"address": ["閲覧できない項目は変更できません。"]}}
        assert Record.objects.get(pk=zei_only.pk).generation == 2


def test_one_department_s_staff_see_what_they_saw(api: Any, setting: dict[str, Any]) -> None:
    """The rule changes nothing for staff of one department."""
    zei, clerk = api("zei"), api("clerk")
    assert zei.get(records_url(setting["zei_only"].pk)).json()["values"]["address"] == MASKED
    assert clerk.get(records_url(setting["zei_only"].pk)).status_code == 404
    mine = clerk.get(records_url(setting["both"].pk)).json()
    assert mine["values"]["address"]["text"] == ADDRESS


def test_such_a_writer_may_not_open_the_record_to_its_own_other_department(
    api: Any, city: dict[str, Any], setting: dict[str, Any]
) -> None:
    """Acting through 市民税課, setting 市民課 to 可 (by a change, or by restoring a
    generation that had it) would give the writer the address as 市民課 reads it: refused.
    The same change by someone of 市民税課 alone gives them nothing, and passes."""
    kenmu, zei_only = setting["kenmu"], setting["zei_only"]
    opened = {"disclosure": {"shimin": True, "shiminzei": True}}
    refused = kenmu.patch(records_url(zei_only.pk), {"values": opened}, HTTP_IF_MATCH='"1"')
    assert refused.status_code == 403
    assert refused.json()["detail"]["fields"] == ["disclosure"]
    with schema_context("mitaka"):
        assert Record.objects.get(pk=zei_only.pk).generation == 1
    # Through 市民課 (the fixture's record), opening it to 市民税課 raises nothing.
    both = setting["both"]
    passed = kenmu.patch(records_url(both.pk), {"values": opened}, HTTP_IF_MATCH='"1"')
    assert passed.status_code == 200, passed.content
    # A generation that had 市民課 可, restored through 市民税課: no restore opens a
    # department the record is closed to now (``_disclosure_kept_closed``), so 市民課
    # stays 不可 and the writer gains nothing (it was refused, 403, before that rule).
    clerk = api("clerk")
    closed = clerk.patch(
        records_url(both.pk),
        {"values": {"disclosure": {"shimin": False, "shiminzei": True}}},
        HTTP_IF_MATCH='"2"',
    )
    assert closed.status_code == 200
    restore = kenmu.post(records_url(both.pk, "restore/"), {"generation": 2}, HTTP_IF_MATCH='"3"')
    assert restore.status_code == 200, restore.content
    assert restore.json()["values"]["disclosure"] == {"shimin": False, "shiminzei": True}
    assert restore.json()["values"]["address"] == MASKED
    # 市民税課 alone may open its record to 市民課: it decides for others, not for itself.
    zei = api("zei")
    shared = zei.patch(records_url(zei_only.pk), {"values": opened}, HTTP_IF_MATCH='"1"')
    assert shared.status_code == 200
    assert shared.json()["values"]["address"] == MASKED


def test_a_department_the_field_does_not_list_gives_nothing_on_a_record(
    city: dict[str, Any], setting: dict[str, Any]
) -> None:
    """A member of 市民税課 and of 総務課 (which views the ledger up to 要配慮 but is not on
    the 照会可否 list, so 不可 for every record) has on a record disclosed to 市民税課 what
    市民税課 gives: with one listed department only, ``for_record`` took the policy whole,
    and 総務課's clearance read (and wrote) the address."""
    with schema_context("mitaka"):
        user = _editor_of(city, "soumuzei", ("soumu", "shiminzei"))
    both = Api(user)
    zei_only = setting["zei_only"]
    answer = both.get(records_url(zei_only.pk))
    assert answer.status_code == 200
    assert answer.json()["values"]["address"] == MASKED
    assert "井口" not in answer.content.decode()
    assert answer.json()["values"]["name"]["kanji"] == "鈴木 一郎"
    by_name = both.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"name": "鈴木"}, "reason": "本人の確認"},
    ).json()["results"]
    assert [hit["values"]["address"] for hit in by_name] == [MASKED]
    # The record disclosed to 市民課 only: seen through no department.
    assert both.get(records_url(setting["both"].pk)).status_code == 404
    written = both.patch(
        records_url(zei_only.pk),
        {"values": {"address": {"text": "東京都三鷹市牟礼一丁目"}}},
        HTTP_IF_MATCH='"1"',
    )
    assert written.status_code == 403
    with schema_context("mitaka"):
        assert Record.objects.get(pk=zei_only.pk).generation == 1
