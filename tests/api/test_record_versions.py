"""…/records/{id}/versions/, …/versions/{generation}/, …/diff/, …/restore/ and ?as_of=."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import field_add, field_update
from tests.api.conftest import ADDRESS, assert_documented, records_url


def _two_generations(api: Any, city: dict[str, Any]) -> tuple[Any, str]:
    clerk, record_id = api("clerk"), city["record"].pk
    response = clerk.patch(
        records_url(record_id),
        {"values": {"amount": 2000, "name": "佐藤 花子"}, "reason": "婚姻"},
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200
    return clerk, record_id


def test_versions_list_and_one_snapshot(api: Any, city: dict[str, Any]) -> None:
    clerk, record_id = _two_generations(api, city)
    listing = clerk.get(records_url(record_id, "versions/")).json()["results"]
    assert [(v["generation"], v["action"], v["actor"]) for v in listing] == [
        (1, "create", "clerk"),
        (2, "update", "clerk"),
    ]
    first = clerk.get(records_url(record_id, "versions/1/")).json()
    assert first["values"]["name"]["kanji"] == "山田 花子"
    assert clerk.get(records_url(record_id, "versions/9/")).status_code == 404


def test_diff_between_generations(api: Any, city: dict[str, Any]) -> None:
    clerk, record_id = _two_generations(api, city)
    changes = clerk.get(records_url(record_id, "diff/"), {"from": 1, "to": 2}).json()["changes"]
    assert changes["amount"] == {"from": 1000, "to": 2000}
    assert set(changes) == {"amount", "name"}


def test_the_diff_answer_is_as_the_schema_names_it(api: Any, city: dict[str, Any]) -> None:
    # The schema named the first generation `from_generation` (required); the answer says
    # `from`: a client generated from /api/schema/ refused every diff.
    clerk, record_id = _two_generations(api, city)
    response = clerk.get(records_url(record_id, "diff/"), {"from": 1, "to": 2})
    assert response.json()["from"] == 1
    assert_documented(response, "/api/v1/ledgers/{code}/records/{record_id}/diff/", "get")


def test_a_masked_field_stays_masked_in_every_generation_and_diff(
    api: Any, city: dict[str, Any]
) -> None:
    clerk, record_id = api("clerk"), city["record"].pk
    clerk.patch(
        records_url(record_id),
        {"values": {"disclosure": {"shimin": True, "shiminzei": True}, "address": {"text": "東京都三鷹市井の頭一丁目"}}},
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    zei = api("zei")  # 市民税課 now 可, but cleared only up to personal data
    for path in ["", "versions/1/", "versions/2/"]:
        response = zei.get(records_url(record_id, path))
        assert response.status_code == 200, path
        assert "下連雀" not in response.content.decode()
        assert "井の頭" not in response.content.decode()
        assert response.json()["values"]["address"] == {"masked": True}
    diff = zei.get(records_url(record_id, "diff/"), {"from": 1, "to": 2})
    assert diff.json()["changes"]["address"] == {"from": {"masked": True}, "to": {"masked": True}}
    assert "井の頭" not in diff.content.decode()
    # Generation 1 was written while 市民税課 was 不可; the current policy decides, as for
    # any read: the record is visible now.
    assert zei.get(records_url(record_id, "versions/")).status_code == 200


def test_a_diff_does_not_compare_hidden_values_across_generations(
    api: Any, city: dict[str, Any]
) -> None:
    """An address A, then B, then A again: the diff of 1 and 3 said "unchanged" where 1 and
    2 said "changed", and a reader who sees the address masked but knew A (a perpetrator's
    accomplice) learnt that the person had moved back there. A masked field is changed
    when it changed anywhere between the two generations; a field the reader sees keeps
    its plain diff of the two ends."""
    clerk, record_id = api("clerk"), city["record"].pk
    a = city["record"].data["address"]
    steps = [
        {"disclosure": {"shimin": True, "shiminzei": True}},
        {"address": {"text": "東京都三鷹市井の頭一丁目"}, "amount": 2000},
        {"address": a, "amount": 1000},
    ]
    for generation, values in enumerate(steps, start=1):
        answer = clerk.patch(
            records_url(record_id), {"values": values}, HTTP_IF_MATCH=f'"{generation}"'
        )
        assert answer.status_code == 200, answer.content
    zei = api("zei")  # 市民税課 (可 since generation 2), cleared up to personal data
    masked = {"from": {"masked": True}, "to": {"masked": True}}
    for first, last in [(2, 3), (2, 4), (4, 2), (3, 4)]:
        changes = zei.get(records_url(record_id, "diff/"), {"from": first, "to": last}).json()
        assert changes["changes"]["address"] == masked, (first, last)
    # amount (visible) went 1000 → 2000 → 1000: its two ends are equal, and so it is shown.
    across = zei.get(records_url(record_id, "diff/"), {"from": 2, "to": 4}).json()["changes"]
    assert "amount" not in across
    # Nothing changed between a generation and itself, masked or not.
    assert zei.get(records_url(record_id, "diff/"), {"from": 3, "to": 3}).json()["changes"] == {}
    # The clerk, cleared for addresses, sees the two ends equal: no change of address.
    plain = clerk.get(records_url(record_id, "diff/"), {"from": 2, "to": 4}).json()["changes"]
    assert "address" not in plain


def test_restore_an_older_generation_and_a_deleted_record(api: Any, city: dict[str, Any]) -> None:
    clerk, record_id = _two_generations(api, city)
    restored = clerk.post(
        records_url(record_id, "restore/"),
        {"generation": 1, "reason": "誤変更"},
        HTTP_IF_MATCH='"2"',
    )
    assert restored.status_code == 200, restored.json()
    assert restored.json()["generation"] == 3
    assert restored.json()["values"]["amount"] == 1000
    clerk.delete(records_url(record_id), {"reason": "誤登録"}, HTTP_IF_MATCH='"3"')
    assert clerk.post(records_url(record_id, "restore/"), {}).status_code == 428
    back = clerk.post(records_url(record_id, "restore/"), {}, HTTP_IF_MATCH='"4"')
    assert back.status_code == 200
    assert back.json()["deleted"] is False
    assert back.json()["values"]["address"]["text"] == ADDRESS


def test_as_of_returns_the_record_as_it_was(api: Any, city: dict[str, Any]) -> None:
    before = (timezone.now() + timedelta(milliseconds=1)).isoformat()
    clerk, record_id = _two_generations(api, city)
    old = clerk.get(records_url(record_id), {"as_of": before})
    assert old.status_code == 200
    assert old.json()["generation"] == 1
    assert old.json()["values"]["amount"] == 1000
    too_early = clerk.get(records_url(record_id), {"as_of": "2000-01-01T00:00:00+09:00"})
    assert too_early.status_code == 404


def test_as_of_answers_the_etag_of_the_generation_it_shows(api: Any, city: dict[str, Any]) -> None:
    """A read ``as_of`` a past moment shows generation 1: its ``ETag`` named the record's
    current generation, so a client that sent what it read back with it (read, modify,
    write) wrote generation 1's values over generation 2's with a 200 instead of a 412, the
    change it had never seen undone without a word."""
    before = (timezone.now() + timedelta(milliseconds=1)).isoformat()
    clerk, record_id = _two_generations(api, city)
    old = clerk.get(records_url(record_id), {"as_of": before})
    assert old.status_code == 200
    assert (old.json()["generation"], old["ETag"]) == (1, '"1"')
    read = old.json()["values"]
    sent_back = {"values": {key: read[key] for key in ("amount", "name")}}
    written = clerk.patch(records_url(record_id), sent_back, HTTP_IF_MATCH=old["ETag"])
    assert written.status_code == 412, written.json()
    assert clerk.get(records_url(record_id)).json()["values"]["amount"] == 2000
    # As of now, the current generation: its ETag is the record's.
    now = clerk.get(records_url(record_id), {"as_of": timezone.now().isoformat()})
    assert (now.json()["generation"], now["ETag"]) == (2, '"2"')


def test_the_versions_list_is_an_audited_read(api: Any, city: dict[str, Any]) -> None:
    """Who handled the record and why (a reason is free text about the person): the list
    of generations is a read of personal data like any other."""
    from django_tenants.utils import schema_context

    from ledgers.audit.models import AuditEvent

    clerk, record_id = api("clerk"), city["record"].pk
    changed = clerk.patch(
        records_url(record_id), {"values": {"amount": 2000}, "reason": "転居のため"},
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert changed.status_code == 200
    listing = clerk.get(records_url(record_id, "versions/"))
    assert listing.status_code == 200
    with schema_context("mitaka"):
        event = AuditEvent.objects.filter(action="record.versions").get()
    assert (event.actor_id, event.record_id, event.ledger_code) == (
        city["people"]["clerk"].pk,
        record_id,
        "dv",
    )
    assert event.details == {"generations": [1, 2], "api_token": {"id": clerk.token.split("_")[1]}}


def test_an_old_generation_restores_after_a_department_left_the_disclosure_list(
    api: Any, city: dict[str, Any]
) -> None:
    """Generation 1 holds 市民税課's flag; the designer has since taken 市民税課 off the
    照会可否 list. Restoring generation 1 failed as an unknown department; the flag of a
    department no longer listed is left out (it is 不可 for every record anyway)."""
    clerk, record_id = api("clerk"), city["record"].pk
    changed = api("designer").patch(
        "/api/v1/ledgers/dv/fields/disclosure/", {"options": {"departments": ["shimin", "soumu"]}}
    )
    assert changed.status_code == 200, changed.json()
    updated = clerk.patch(records_url(record_id), {"values": {"amount": 2000}}, HTTP_IF_MATCH='"1"')
    assert updated.status_code == 200, updated.json()
    restored = clerk.post(
        records_url(record_id, "restore/"),
        {"generation": 1, "reason": "誤変更"},
        HTTP_IF_MATCH='"2"',
    )
    assert restored.status_code == 200, restored.json()
    assert restored.json()["values"]["amount"] == 1000
    assert restored.json()["values"]["disclosure"] == {"shimin": True, "soumu": False}


def test_as_of_written_as_the_contract_writes_it_in_a_url(api: Any, city: dict[str, Any]) -> None:
    # `?as_of=2024-04-01T00:00:00+09:00` typed into a URL (the contract's own example, an
    # RPA robot's template) reaches the server with a space for its `+`: it was a 400.
    clerk, record_id = api("clerk"), city["record"].pk
    later = clerk.client.get(records_url(record_id) + "?as_of=2099-04-01T00:00:00+09:00")
    assert later.status_code == 200, later.json()
    assert later.json()["generation"] == 1
    earlier = clerk.client.get(records_url(record_id) + "?as_of=2000-04-01T00:00:00+09:00")
    assert earlier.status_code == 404
    without_offset = clerk.client.get(records_url(record_id) + "?as_of=2099-04-01T00:00:00")
    assert without_offset.status_code == 400


@pytest.mark.parametrize(
    ("suffix", "params", "action"),
    [
        ("", {"as_of": "2100-01-01T00:00:00+09:00"}, "record.view"),
        ("versions/1/", None, "record.version_view"),
    ],
    ids=["as_of", "one generation"],
)
def test_a_generation_that_fails_to_render_names_no_read(
    api: Any, city: dict[str, Any], monkeypatch: Any, suffix: str, params: Any, action: str
) -> None:
    """The event was written before the generation's definition was read and its values
    masked: a failure there (a 500, nothing shown) left a read of that generation."""
    from django.db import OperationalError
    from django_tenants.utils import schema_context

    from ledgers.audit.models import AuditEvent

    def broken(**kwargs: Any) -> Any:
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr("ledgers.api.records.views.version_definition", broken)
    with pytest.raises(OperationalError):
        api("clerk").get(records_url(city["record"].pk, suffix), params)
    with schema_context("mitaka"):
        assert not AuditEvent.objects.filter(action=action).exists()


def test_a_diff_shows_a_field_added_between_its_generations_as_it_shows_any_other(
    api: Any, city: dict[str, Any]
) -> None:
    # Both sides were masked with the older generation's definition alone: a field (or a
    # group's sub-field) added since was unknown to it, dropped from both sides, and then
    # reported as a masked change, to a reader cleared for it, while from=2&to=1 showed it.
    designer, record_id = city["people"]["designer"], city["record"].pk
    with schema_context("mitaka"):
        ledger = Ledger.objects.get(code="dv")
        field_add(actor=designer, ledger=ledger,
                  field={"key": "note", "label": "メモ", "type": "text"})  # fmt: skip
        field_add(actor=designer, ledger=Ledger.objects.get(code="dv"),
                  field={"key": "secret", "label": "秘", "type": "text", "sensitivity": "special_care"})  # fmt: skip
        offenders = next(f for f in ledger.fields() if f["key"] == "offenders")["options"]["fields"]
        field_update(
            actor=designer, ledger=Ledger.objects.get(code="dv"), key="offenders",
            changes={"fields": [*offenders, {"key": "memo", "label": "備考", "type": "text"}]},
        )  # fmt: skip
    clerk = api("clerk")
    rows = [{"name": "山田 太郎", "relation": "配偶者", "memo": "接近禁止"}]
    values = {"note": "来庁", "secret": "秘密", "offenders": rows,
              "disclosure": {"shimin": True, "shiminzei": True}}  # fmt: skip
    response = clerk.patch(records_url(record_id), {"values": values}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 200, response.content
    changes = clerk.get(records_url(record_id, "diff/"), {"from": 1, "to": 2}).json()["changes"]
    assert changes["note"] == {"from": None, "to": "来庁"}
    assert changes["secret"] == {"from": None, "to": "秘密"}
    assert changes["offenders"]["to"][0]["memo"] == "接近禁止"
    backwards = clerk.get(records_url(record_id, "diff/"), {"from": 2, "to": 1}).json()
    assert backwards["changes"]["note"] == {"from": "来庁", "to": None}
    # 市民税課 (personal) reads the new text field, never the new special_care one.
    zei = api("zei").get(records_url(record_id, "diff/"), {"from": 1, "to": 2}).json()["changes"]
    assert zei["note"] == {"from": None, "to": "来庁"}
    assert zei["secret"] == {"from": {"masked": True}, "to": {"masked": True}}


def _generations(api: Any, city: dict[str, Any], count: int) -> tuple[Any, str]:
    """The city's record changed until it holds ``count`` generations."""
    clerk, record_id = api("clerk"), city["record"].pk
    for generation in range(1, count):
        changed = clerk.patch(
            records_url(record_id), {"values": {"amount": 1000 + generation}},
            HTTP_IF_MATCH=f'"{generation}"',
        )  # fmt: skip
        assert changed.status_code == 200
    return clerk, record_id


def test_the_versions_list_comes_a_page_at_a_time(api: Any, city: dict[str, Any]) -> None:
    """A record changed every day holds thousands of generations: the list pages (oldest
    first, ``next`` to follow, ``null`` on the last page), and each read's audit event names
    the generations it answered, not every one."""
    from ledgers.audit.models import AuditEvent

    clerk, record_id = _generations(api, city, 5)
    pages, url = [], records_url(record_id, "versions/") + "?page_size=2"
    while url:
        answer = clerk.get(url)
        assert answer.status_code == 200
        assert_documented(answer, "/api/v1/ledgers/{code}/records/{record_id}/versions/", "get")
        body = answer.json()
        pages.append([v["generation"] for v in body["results"]])
        url = body["next"]
    assert pages == [[1, 2], [3, 4], [5]]
    with schema_context("mitaka"):
        named = [
            event.details["generations"]
            for event in AuditEvent.objects.filter(action="record.versions").order_by("seq")
        ]
    assert named == [[1, 2], [3, 4], [5]]
    whole = clerk.get(records_url(record_id, "versions/")).json()
    assert [v["generation"] for v in whole["results"]] == [1, 2, 3, 4, 5]
    assert whole["next"] is None


def test_the_versions_list_pages_at_100_unless_asked(api: Any, city: dict[str, Any]) -> None:
    """The default page, and at most 1,000 a page however many are asked."""
    from ledgers.api.records.views import VersionPagination

    assert (VersionPagination.page_size, VersionPagination.max_page_size) == (100, 1000)
    clerk, record_id = _generations(api, city, 3)
    answer = clerk.get(records_url(record_id, "versions/") + "?page_size=99999999999")
    assert [v["generation"] for v in answer.json()["results"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("query", "status"),
    [("page_size=0", 400), ("page_size=-1", 400), ("page_size=abc", 400),
     ("cursor=%25%25%25", 404), ("cursor=cD14", 404)],
)  # fmt: skip
def test_a_bad_page_size_or_cursor_on_the_versions_list_is_refused(
    api: Any, city: dict[str, Any], query: str, status: int
) -> None:
    """As on every other list: no silent first page. (``cD14`` is ``p=x``: no generation.)"""
    from ledgers.audit.models import AuditEvent

    clerk, record_id = _generations(api, city, 2)
    answer = clerk.get(records_url(record_id, "versions/") + f"?{query}")
    assert answer.status_code == status
    body = answer.json()
    assert ("page_size" if status == 400 else "cursor") in body["detail"]
    with schema_context("mitaka"):
        assert not AuditEvent.objects.filter(action="record.versions").exists()


def test_the_versions_list_does_not_read_the_generations_values(
    api: Any, city: dict[str, Any]
) -> None:
    """The summary needs none of each generation's values: thousands of snapshots were read
    whole into memory to list their numbers, dates and reasons."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clerk, record_id = _generations(api, city, 2)
    with CaptureQueriesContext(connection) as queries:
        assert clerk.get(records_url(record_id, "versions/")).status_code == 200
    listing = [q["sql"] for q in queries if 'FROM "ledgers_recordversion"' in q["sql"]]
    assert len(listing) == 1
    assert '"ledgers_recordversion"."data"' not in listing[0]
    assert '"ledgers_recordversion"."diff"' not in listing[0]
