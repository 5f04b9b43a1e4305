"""GET and POST /api/v1/ledgers/{code}/records/."""

from typing import Any

import pytest

from tests.api.conftest import ADDRESS, records_url

GIVEN = [
    ("一郎", "イチロウ"),
    ("二郎", "ジロウ"),
    ("三郎", "サブロウ"),
    ("四郎", "シロウ"),
    ("五郎", "ゴロウ"),
]


def test_create_then_list_with_filters_and_cursor(api: Any) -> None:
    clerk = api("clerk")
    for i, (kanji, kana) in enumerate(GIVEN):
        created = clerk.post(records_url(), {"values": {
            "name": {"kanji": f"佐藤 {kanji}", "kana": f"サトウ {kana}"}, "birth_date": f"1990-01-0{i + 1}",
            "amount": i * 100, "disclosure": {"shimin": "可"}}})  # fmt: skip
        assert created.status_code == 201, created.json()
        assert created["ETag"] == '"1"'
    page = clerk.get(records_url(), {"page_size": 2, "count": "true"})
    body = page.json()
    assert len(body["results"]) == 2
    assert body["count"] == 6
    assert body["next"]
    second = clerk.get(body["next"].replace("http://mitaka.localhost", ""))
    assert len(second.json()["results"]) == 2
    assert not {r["id"] for r in body["results"]} & {r["id"] for r in second.json()["results"]}
    # 200, 300, 400 and the fixture's 1000.
    assert len(clerk.get(records_url(), {"amount__gte": "200"}).json()["results"]) == 4
    assert (
        len(
            clerk.get(records_url(), {"amount__gte": "200", "amount__lte": "300"}).json()["results"]
        )
        == 2
    )
    assert len(clerk.get(records_url(), {"birth_date": "平成2年1月2日"}).json()["results"]) == 1
    assert len(clerk.get(records_url(), {"name__contains": "さとう"}).json()["results"]) == 5
    assert len(clerk.get(records_url(), {"name__contains": "ﾔﾏﾀﾞ"}).json()["results"]) == 1
    assert len(clerk.get(records_url(), {"name__contains": "藤"}).json()["results"]) == 5


def test_masked_fields_never_appear_and_cannot_be_filtered(api: Any, city: dict[str, Any]) -> None:
    api("clerk").patch(
        records_url(city["record"].pk), {"values": {"disclosure": {"shimin": True, "shiminzei": True}}},
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    zei = api("zei")  # 市民税課: 可 now, cleared up to personal data; the address is special care
    response = zei.get(records_url())
    assert response.status_code == 200
    assert response.json()["results"][0]["values"]["address"] == {"masked": True}
    assert ADDRESS.encode() not in response.content
    assert "下連雀" not in response.content.decode()
    counted = zei.get(records_url(), {"count": "true"})
    assert counted.json()["count"] == 1
    assert counted.json()["results"][0]["values"]["address"] == {"masked": True}
    assert "下連雀" not in counted.content.decode()
    refused = zei.get(records_url(), {"address__contains": "下連雀"})
    assert refused.status_code == 400


def test_invalid_values_are_400_and_write_nothing(api: Any) -> None:
    clerk = api("clerk")
    before = clerk.get(records_url(), {"count": "true"}).json()["count"]
    response = clerk.post(
        records_url(), {"values": {"name": "佐藤", "birth_date": "昭和70年1月1日"}}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "ERROR_RECORD_INVALID"
    assert "birth_date" in response.json()["detail"]["errors"]
    assert clerk.get(records_url(), {"count": "true"}).json()["count"] == before


def test_a_fuka_department_lists_nothing(api: Any) -> None:
    assert api("zei").get(records_url()).json()["results"] == []
    # Nor does the total betray that records it may not see exist.
    assert api("zei").get(records_url(), {"count": "true"}).json() == {
        "results": [],
        "next": None,
        "count": 0,
    }
    assert api("clerk").get(records_url(), {"count": "true"}).json()["count"] == 1


def test_a_counted_first_page_is_one_statement(api: Any) -> None:
    """count=true on a first page costs no statement of its own (the count is a subquery of
    the page's statement); a later page counts every match (those before it too) with a
    second."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clerk = api("clerk")
    for i, (kanji, kana) in enumerate(GIVEN):
        created = clerk.post(records_url(), {"values": {
            "name": {"kanji": f"佐藤 {kanji}", "kana": f"サトウ {kana}"}, "amount": i,
            "disclosure": {"shimin": True}}})  # fmt: skip
        assert created.status_code == 201, created.json()

    def counted(params: dict[str, Any]) -> tuple[dict[str, Any], int]:
        with CaptureQueriesContext(connection) as queries:
            body = clerk.get(records_url(), {**params, "count": "true"}).json()
        return body, sum('"ledgers_record"' in q["sql"] for q in queries.captured_queries)

    body, reads = counted({"name__contains": "佐藤"})
    assert (body["count"], len(body["results"]), body["next"], reads) == (5, 5, None, 1)
    body, reads = counted({"name__contains": "佐藤", "page_size": 5})
    assert (body["count"], body["next"], reads) == (5, None, 1)
    body, reads = counted({"name__contains": "佐藤", "page_size": 4})
    assert (body["count"], len(body["results"]), reads) == (5, 4, 1)
    assert body["next"]
    first_ids = [r["id"] for r in body["results"]]
    with CaptureQueriesContext(connection) as queries:
        second = clerk.get(
            body["next"].replace("http://mitaka.localhost", "") + "&count=true"
        ).json()
    assert (second["count"], len(second["results"])) == (5, 1)  # a later page counts them all
    assert sum("COUNT(*) AS" in q["sql"] for q in queries.captured_queries) == 1
    # The two pages together are every match, once each, newest first.
    everything = clerk.get(records_url(), {"name__contains": "佐藤"}).json()["results"]
    assert [r["id"] for r in everything] == [*first_ids, second["results"][0]["id"]]
    body, reads = counted({"name__contains": "鈴木"})
    assert (body["count"], body["results"], body["next"], reads) == (0, [], None, 1)


def test_a_first_page_reads_only_its_own_rows_whole(api: Any) -> None:
    """The first page sorts the matches' ids and times, then reads its rows by id: one
    statement, whose whole rows are only the page's (and the one past it)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clerk = api("clerk")
    for i in range(4):
        clerk.post(records_url(), {"values": {"name": f"田中 {i}", "disclosure": {"shimin": True}}})
    with CaptureQueriesContext(connection) as queries:
        body = clerk.get(records_url(), {"name__contains": "田中", "page_size": 2}).json()
    reads = [q["sql"] for q in queries.captured_queries if '"ledgers_record"' in q["sql"]]
    assert len(reads) == 1
    assert " JOIN " in reads[0]
    assert "LIMIT 3" in reads[0]
    assert len(body["results"]) == 2
    assert body["next"]


def test_a_counted_first_page_is_the_page_a_plain_one_is(api: Any) -> None:
    """The one-pass counted page shows the same records, values and masks, in the same
    order, as the page without the count, and its total is what a count finds."""
    clerk = api("clerk")
    for i in range(7):
        created = clerk.post(records_url(), {"values": {
            "name": {"kanji": f"山田 {i}", "kana": "ヤマダ"}, "amount": i * 10,
            "disclosure": {"shimin": True}}})  # fmt: skip
        assert created.status_code == 201, created.json()
    for params in ({}, {"page_size": 3}, {"name__contains": "山田", "page_size": 2},
                   {"amount__gte": 30}, {"amount": 20}, {"name__contains": "存在しない"}):  # fmt: skip
        plain = clerk.get(records_url(), params).json()
        counted = clerk.get(records_url(), {**params, "count": "true"}).json()
        assert counted["results"] == plain["results"], params
        assert bool(counted["next"]) == bool(plain["next"]), params
        everything = clerk.get(records_url(), {**params, "page_size": 100}).json()["results"]
        assert counted["count"] == len(everything), params


def test_long_text_is_filtered_by_the_recheck_and_the_data(api: Any) -> None:
    """Long text has no search keys (ledgers.search.index.NO_KEY_TYPES): its equality and
    substring filters still find exactly the records holding it."""
    added = api("designer").post(
        "/api/v1/ledgers/dv/fields/", {"key": "note", "label": "備考", "type": "long_text"}
    )
    assert added.status_code == 201, added.json()
    clerk = api("clerk")
    for i, note in enumerate(["窓口で相談", "電話で相談", "窓口で相談（再）"]):
        created = clerk.post(records_url(), {"values": {
            "name": {"kanji": f"佐藤 {GIVEN[i][0]}", "kana": f"サトウ {GIVEN[i][1]}"},
            "note": note, "disclosure": {"shimin": True}}})  # fmt: skip
        assert created.status_code == 201, created.json()

    def notes(params: dict[str, str]) -> list[str]:
        response = clerk.get(records_url(), params)
        assert response.status_code == 200, response.json()
        return sorted(r["values"]["note"] for r in response.json()["results"])

    assert notes({"note": "窓口で相談"}) == ["窓口で相談"]
    assert notes({"note__contains": "窓口"}) == ["窓口で相談", "窓口で相談（再）"]
    assert notes({"note__contains": "相談", "name__contains": "二郎"}) == ["電話で相談"]
    assert notes({"note": "相談"}) == []


def test_pages_through_records_of_one_bulk_request_see_each_once(api: Any) -> None:
    """Records that share their update time (a bulk update's): paging through them (DRF's
    cursor keeps an offset among equal times, the id orders them) shows every record once."""
    clerk = api("clerk")
    created = clerk.post(
        records_url() + "bulk/",
        {"records": [{"values": {"name": f"一括 {i}", "disclosure": {"shimin": True}}}
                     for i in range(60)]},
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    # As a bulk update leaves them: one time for all (a bulk create's are a microsecond apart).
    from django_tenants.utils import schema_context

    from ledgers.records.models import Record

    with schema_context("mitaka"):
        ids = [r["id"] for r in created.json()["results"]]
        Record.objects.filter(pk__in=ids).update(
            updated_at=Record.objects.get(pk=ids[0]).updated_at
        )
    seen: list[str] = []
    page = clerk.get(records_url(), {"name__contains": "一括", "page_size": 7, "count": "true"})
    body = page.json()
    assert body["count"] == 60
    while True:
        seen.extend(r["id"] for r in body["results"])
        if not body["next"]:
            break
        body = clerk.get(body["next"].replace("http://mitaka.localhost", "")).json()
    assert len(seen) == 60
    assert sorted(seen) == sorted(r["id"] for r in created.json()["results"])


def test_every_list_is_audited_with_the_records_it_showed(api: Any, city: dict[str, Any]) -> None:
    """A list is a read of personal data: one ``record.list`` event per request, naming the
    caller, the ledger, the records shown (in order, the look-ahead row not among them) and
    the filters as asked (the cursor left out)."""
    from django_tenants.utils import schema_context

    from ledgers.audit.models import AuditEvent

    clerk = api("clerk")
    for i in range(3):
        clerk.post(records_url(), {"values": {"name": f"監査 {i}", "disclosure": {"shimin": True}}})

    def events() -> list[AuditEvent]:
        with schema_context("mitaka"):
            return list(AuditEvent.objects.filter(action="record.list").order_by("seq"))

    before = len(events())
    first = clerk.get(records_url(), {"name__contains": "監査", "page_size": 2, "count": "true"})
    second = clerk.get(first.json()["next"].replace("http://mitaka.localhost", ""))
    nothing = api("zei").get(records_url(), {"name__contains": "監査"})
    written = events()[before:]
    assert len(written) == 3
    shown = [first.json()["results"], second.json()["results"], nothing.json()["results"]]
    for event, results in zip(written, shown, strict=True):
        assert event.ledger_code == "dv"
        assert event.details["records"] == [r["id"] for r in results]
    assert [len(r) for r in shown] == [2, 1, 0]
    assert written[0].actor_id == city["people"]["clerk"].pk
    assert written[2].actor_id == city["people"]["zei"].pk
    assert written[0].details["filters"] == {
        "name__contains": "監査",
        "page_size": "2",
        "count": "true",
    }
    assert "cursor" not in written[1].details["filters"]


def test_updated_since_written_with_a_plain_plus_in_the_url(api: Any, city: dict[str, Any]) -> None:
    # A `+09:00` offset typed into a query string arrives as a space: it was a 400.
    clerk = api("clerk")
    since = clerk.client.get(records_url() + "?updated_since=2000-04-01T00:00:00+09:00")
    assert since.status_code == 200, since.json()
    assert [r["id"] for r in since.json()["results"]] == [str(city["record"].pk)]
    future = clerk.client.get(records_url() + "?updated_since=2099-04-01T00:00:00+0900")
    assert future.status_code == 200
    assert future.json()["results"] == []


def test_a_group_filtered_by_contains_finds_its_rows_text(api: Any, city: dict[str, Any]) -> None:
    # `offenders__contains=太郎` answered no record, whatever the rows held: the index keeps
    # a group by its sub-fields' paths. A sub-field above the reader's clearance is not
    # searched (it would tell its value one question at a time).
    designer, clerk, record = api("designer"), api("clerk"), city["record"]
    subs = designer.get("/api/v1/ledgers/dv/fields/offenders/").json()["fields"]
    note = {"key": "note", "label": "備考", "type": "text", "sensitivity": "special_care"}
    assert designer.patch(
        "/api/v1/ledgers/dv/fields/offenders/", {"fields": [*subs, note]}
    ).status_code == 200  # fmt: skip
    name = {"kanji": "山田 太郎", "kana": "ヤマダ タロウ"}
    row = {"name": name, "relation": "配偶者", "note": "秘密の避難先"}
    changed = clerk.patch(
        records_url(record.pk),
        {"values": {"offenders": [row], "disclosure": {"shimin": True, "shiminzei": True}}},
        HTTP_IF_MATCH='"1"',
    )
    assert changed.status_code == 200, changed.json()

    def found(who: str, text: str) -> list[str]:
        response = api(who).get(records_url(), {"offenders__contains": text})
        assert response.status_code == 200, response.json()
        return [r["id"] for r in response.json()["results"]]

    assert found("clerk", "たろう") == found("clerk", "太郎") == [str(record.pk)]
    assert found("clerk", "避難先") == [str(record.pk)]
    assert found("clerk", "花子") == []  # the person's own name is not an offender's
    assert found("zei", "太郎") == [str(record.pk)]
    assert found("zei", "避難先") == []  # 市民税課 reads personal data, not special care


def test_a_name_filtered_by_equals_as_written_without_its_reading(
    api: Any, city: dict[str, Any]
) -> None:
    # `name=山田 花子` answered no record: the name typed in a query string has no reading,
    # and its blank reading had to equal the stored ヤマダ ハナコ.
    clerk = api("clerk")
    found = clerk.get(records_url(), {"name": "山田 花子"})
    assert found.status_code == 200, found.json()
    assert [r["id"] for r in found.json()["results"]] == [str(city["record"].pk)]
    assert clerk.get(records_url(), {"name": "山田 太郎"}).json()["results"] == []
    assert clerk.get(records_url(), {"name": "山田"}).json()["results"] == []  # not a part


def test_updated_since_takes_a_date_as_the_start_of_that_day_in_japan(
    api: Any, city: dict[str, Any]
) -> None:
    """A date alone was a 400; an integrator's nightly job asks for what changed since a day."""
    clerk = api("clerk")
    since = clerk.get(records_url(), {"updated_since": "2000-04-01"})
    assert since.status_code == 200, since.json()
    assert [r["id"] for r in since.json()["results"]] == [str(city["record"].pk)]
    assert clerk.get(records_url(), {"updated_since": "2099-04-01"}).json()["results"] == []
    compact = clerk.get(records_url(), {"updated_since": "20000401"})  # ISO 8601 basic form
    assert [r["id"] for r in compact.json()["results"]] == [str(city["record"].pk)]
    assert clerk.get(records_url(), {"updated_since": "2099-02-30"}).status_code == 400


def test_a_later_page_whose_count_fails_names_no_record_as_shown(
    api: Any, city: dict[str, Any], monkeypatch: Any
) -> None:
    """A later page's count is a second statement (all the matches: the slowest part of a
    list, the one a statement timeout stops). It ran after the ``record.list`` event: a
    count that failed left an event naming a page of records that never left (a 500)."""
    from django.db import OperationalError
    from django.db.models import QuerySet
    from django_tenants.utils import schema_context

    from ledgers.audit.models import AuditEvent

    clerk = api("clerk")
    for i in range(3):
        clerk.post(records_url(), {"values": {"name": f"計数 {i}", "disclosure": {"shimin": True}}})
    first = clerk.get(records_url(), {"name__contains": "計数", "page_size": 2, "count": "true"})
    later = first.json()["next"].replace("http://mitaka.localhost", "")
    with schema_context("mitaka"):
        before = AuditEvent.objects.filter(action="record.list").count()

    def timed_out(self: Any) -> int:
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(QuerySet, "count", timed_out)
    with pytest.raises(OperationalError):
        clerk.get(later)
    monkeypatch.undo()
    with schema_context("mitaka"):
        assert AuditEvent.objects.filter(action="record.list").count() == before
    assert clerk.get(later).json()["count"] == 3  # and with its count, audited as ever
    with schema_context("mitaka"):
        assert AuditEvent.objects.filter(action="record.list").count() == before + 1
