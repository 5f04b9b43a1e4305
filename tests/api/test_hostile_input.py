"""Hostile input to the records and search API: a clear 4xx in the error shape, never a
server error, and nothing personal in the log (NUL in values and query strings, nesting
past Python's limit, moments out of range, sizes past 64 bits, forged cursors, impossible
dates, odd digits in If-Match, DELETE reasons of every wrong kind, bodies over the limit)."""

from __future__ import annotations

import base64
import gzip
import json
import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from django_tenants.utils import schema_context

from ledgers.access.services import grants_replace
from ledgers.definitions.services import ledger_create
from ledgers.records.models import RecordVersion
from tests.api.conftest import Api, assert_documented

ALL_FIELDS = [
    {"key": "t", "label": "テキスト", "type": "text"},
    {"key": "lt", "label": "長文", "type": "long_text"},
    {"key": "n", "label": "整数", "type": "integer"},
    {"key": "dec", "label": "小数", "type": "decimal"},
    {"key": "d", "label": "日付", "type": "date"},
    {"key": "dt", "label": "日時", "type": "datetime"},
    {"key": "b", "label": "可否", "type": "boolean"},
    {"key": "ch", "label": "区分", "type": "choice", "options": {"choices": ["新規", "更新"]}},
    {
        "key": "mc",
        "label": "種類",
        "type": "multi_choice",
        "options": {"choices": ["住民票", "戸籍"]},
    },
    {"key": "f", "label": "添付", "type": "file"},
    {"key": "ref", "label": "参照", "type": "reference"},
    {
        "key": "df",
        "label": "開示",
        "type": "department_flags",
        "options": {"departments": ["shimin", "shiminzei"]},
    },
    {"key": "nm", "label": "氏名", "type": "person_name", "sensitivity": "personal"},
    {"key": "addr", "label": "住所", "type": "address", "sensitivity": "personal"},
    {"key": "mn", "label": "個人番号", "type": "my_number", "sensitivity": "special_care"},
    {
        "key": "g",
        "label": "関係者",
        "type": "group",
        "fields": [
            {"key": "name", "label": "氏名", "type": "person_name", "sensitivity": "personal"},
            {"key": "f", "label": "添付", "type": "file"},
        ],
    },
]


@pytest.fixture
def hostile(city: dict[str, Any]) -> Any:
    people = city["people"]
    with schema_context("mitaka"):
        ledger = ledger_create(
            actor=people["designer"], code="hx", name="試験台帳", fields=ALL_FIELDS
        )
        grants_replace(
            actor=people["designer"],
            ledger=ledger,
            grants=[
                {
                    "department": "shimin",
                    "capabilities": ["view", "search", "create", "update", "delete"],
                    "clearance": "special_care",
                },
            ],
        )
    client = Api(people["clerk"])
    client.client.raise_request_exception = False
    return client


def url(suffix: str = "") -> str:
    return "/api/v1/ledgers/hx/records/" + suffix


VISIBLE = {"df": {"shimin": True}}  # the clerk's department may see the record


def new_record(hostile: Any) -> str:
    response = hostile.post(url(), {"values": {"t": "x", **VISIBLE}})
    assert response.status_code == 201
    return url(response.json()["id"] + "/")


def assert_4xx_json(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:200])
    assert response.json()["code"].startswith("ERROR_")


# D1 ---- deeply nested JSON body: RecursionError escapes DRF's parser (catches ValueError only)
def test_deeply_nested_body_is_400(hostile: Any) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    assert_4xx_json(hostile.client.post(url(), body, content_type="application/json"))


# D2 ---- department_flags given as JSON text: json.loads RecursionError is not ValueError
@pytest.mark.parametrize("where", ["create", "filter"])
def test_department_flags_deep_json_text_is_400(hostile: Any, where: str) -> None:
    deep = '{"shimin":' + "[" * 5000
    if where == "create":
        assert_4xx_json(hostile.post(url(), {"values": {"df": deep}}))
    else:
        assert_4xx_json(hostile.get(url(), {"df": deep}))


# D3 ---- datetime whose offset pushes it past year 1 / 9999 when converted to +09:00
@pytest.mark.parametrize("value", ["0001-01-01T00:00+14:00", "9999-12-31T23:59-10:00"])
def test_datetime_out_of_range_after_tz_conversion_is_400(hostile: Any, value: str) -> None:
    assert_4xx_json(hostile.post(url(), {"values": {"dt": value}}))
    assert_4xx_json(hostile.post(url("bulk/"), {"records": [{"values": {"dt": value}}]}))
    assert_4xx_json(hostile.get(url(), {"dt__gte": value}))


# D4 ---- file size beyond 64 bits passes clean(), then orjson.dumps raises TypeError
def test_file_size_beyond_int64_is_400(hostile: Any) -> None:
    f = {"name": "a.pdf", "storage_key": "k/a.pdf", "size": 2**64}
    assert_4xx_json(hostile.post(url(), {"values": {"f": f}}))
    assert_4xx_json(hostile.post(url("bulk/"), {"records": [{"values": {"g": [{"f": f}]}}]}))


# D5 ---- reference ids may hold NUL; PostgreSQL jsonb refuses \u0000 (single, bulk COPY, filter)
def test_reference_with_nul_is_400_and_logs_no_personal_data(hostile: Any, caplog: Any) -> None:
    values = {
        "nm": {"kanji": "山田 花子", "kana": "ヤマダ ハナコ"},
        "ref": {"ledger": "hx", "record": "a\u0000"},
    }
    with caplog.at_level(logging.ERROR):
        single = hostile.post(url(), {"values": values})
        bulk = hostile.post(
            url("bulk/"), {"records": [{"values": {"t": "x"}}] * 999 + [{"values": values}]}
        )
    assert (
        "ナコ" not in caplog.text
    )  # today: CONTEXT:  JSON data, line 1: ...ナコ"},"ref":{"ledger":"hx","record":"a\u0000...
    assert_4xx_json(single)
    assert_4xx_json(bulk)
    assert_4xx_json(hostile.get(url(), {"ref": "hx:a\u0000"}))


# D6 ---- reference to a record that does not exist (in a ledger that does not exist) is stored
def test_reference_to_a_missing_record_is_refused(hostile: Any) -> None:
    response = hostile.post(
        url(),
        {"values": {"ref": {"ledger": "nope", "record": "00000000-0000-4000-8000-000000000000"}}},
    )
    assert response.status_code == 400, response.json()


# D7 ---- NUL in a query-string value: list audit details (jsonb) and __contains needle (text)
@pytest.mark.parametrize(
    "query",
    [
        "state=%00",
        "deleted=%00",
        "count=%00",
        "page_size=%00",
        "t__contains=%00",
        "nm__contains=%00",
        "addr__contains=%00",
    ],
)
def test_nul_in_list_query_is_400(hostile: Any, query: str) -> None:
    assert_4xx_json(hostile.get(url("?" + query)))


def test_nul_in_list_query_logs_no_searched_name(hostile: Any, caplog: Any) -> None:
    with caplog.at_level(logging.ERROR):
        hostile.get(url("?nm__contains=%E5%B1%B1%E7%94%B0%E8%8A%B1%E5%AD%90&count=%00"))  # 山田花子
    assert "山田花子" not in caplog.text


# D8 ---- search criteria with NUL, and a page number past bigint
@pytest.mark.parametrize(
    "body",
    [
        {"criteria": {"name": "\u0000"}},
        {"criteria": {"name": "山田"}, "page": 10**30},
    ],
)
def test_search_hostile_criteria_is_400(api: Any, body: dict) -> None:
    client = api("clerk")
    client.client.raise_request_exception = False
    body = {**body, "reason": "住民票の写しの交付請求に対する照会のため"}
    assert_4xx_json(client.post("/api/v1/ledgers/dv/search/latest/", body))


# D9 ---- forged cursor: DRF puts "p=" into updated_at__lt -> Django ValidationError -> 500
def test_forged_cursor_is_4xx(hostile: Any) -> None:
    cursor = base64.b64encode(b"p=notadate").decode()
    assert_4xx_json(hostile.get(url(), {"cursor": cursor}))


# D9b --- the audit trail's cursor too: "p=" went into seq__gt -> ValueError -> 500
def test_forged_audit_cursor_is_4xx(api: Any) -> None:
    auditor = api("auditor")
    auditor.client.raise_request_exception = False
    for position in (b"p=notanumber", b"p=1.5", b"p=99999999999999999999999"):
        cursor = base64.b64encode(position).decode()
        assert_4xx_json(auditor.get("/api/v1/audit/events/", {"cursor": cursor}))


# D10 --- well-formed but impossible datetimes: django parse_datetime raises ValueError
@pytest.mark.parametrize("value", ["2023-02-30T00:00:00+09:00", "2023-01-01T00:00:00+99:00"])
def test_impossible_updated_since_and_as_of_are_400(hostile: Any, value: str) -> None:
    assert_4xx_json(hostile.get(url(), {"updated_since": value}))
    assert_4xx_json(hostile.get(new_record(hostile), {"as_of": value}))


# D11 --- If-Match with a non-ASCII digit: str.isdigit() is True, int() raises ValueError
def test_if_match_superscript_digit_is_400(hostile: Any) -> None:
    du = new_record(hostile)
    assert_4xx_json(hostile.patch(du, {"values": {"n": 2}}, HTTP_IF_MATCH='"\u00b2"'))


def test_if_match_past_python_s_integer_digits_is_400(hostile: Any) -> None:
    """int() refuses a text of more than 4,300 digits: a PATCH, DELETE or restore with
    such an If-Match was a server error on demand."""
    du = new_record(hostile)
    huge = '"' + "9" * 5000 + '"'
    assert_4xx_json(hostile.patch(du, {"values": {"n": 2}}, HTTP_IF_MATCH=huge))
    assert_4xx_json(hostile.delete(du, {"reason": "誤登録"}, HTTP_IF_MATCH=huge))
    assert_4xx_json(hostile.post(du + "restore/", {"generation": 1}, HTTP_IF_MATCH=huge))


# D12 --- DELETE reason is never validated (RecordDeleteSerializer is unused)
@pytest.mark.parametrize(
    ("body", "query"),
    [
        ({"reason": 5}, ""),
        ({"reason": ["x"]}, ""),
        ({"reason": "a\u0000"}, ""),
        (None, "?reason=a%00"),
    ],
)
def test_delete_bad_reason_is_400(hostile: Any, body: Any, query: str) -> None:
    du = new_record(hostile)
    assert_4xx_json(hostile.delete(du + query, body, HTTP_IF_MATCH='"1"'))


def test_delete_reason_too_long_is_400_not_truncated(hostile: Any) -> None:
    du = new_record(hostile)
    response = hostile.delete(du, {"reason": "あ" * 600}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 400, response.status_code  # today 200, reason cut to 500


# D13 --- a body over DATA_UPLOAD_MAX_MEMORY_SIZE: 400 with an empty, non-JSON body
def test_too_large_body_has_the_error_shape(hostile: Any) -> None:
    response = hostile.post(url(), {"values": {"lt": "あ" * 1_000_000}})
    assert_4xx_json(response)


def test_a_decimal_in_exponent_form_is_bounded_as_written(hostile: Any) -> None:
    """A JSON 1e300 is one significant digit but 301 written out: refused as the same
    number typed out is, and never a server error (decimal_places made it one)."""
    for body in ('{"values": {"dec": 1e300, "df": {"shimin": true}}}',
                 '{"values": {"dec": 1e60, "df": {"shimin": true}}}'):  # fmt: skip
        response = hostile.client.post(url(), body, content_type="application/json")
        assert response.status_code == 400, response.content
        assert response.json()["detail"]["errors"]["dec"]


def test_a_range_filter_reads_wide_decimals(hostile: Any) -> None:
    created = hostile.post(url(), {"values": {"dec": "123456789012345678901234", **VISIBLE}})
    assert created.status_code == 201, created.content
    listed = hostile.get(url(), {"dec__gte": "0"})
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 1


def test_an_empty_list_is_refused_whatever_came_before(hostile: Any) -> None:
    assert hostile.post(url(), {"values": {"nm": [], **VISIBLE}}).status_code == 400
    assert hostile.post(url(), {"values": {"nm": {}, **VISIBLE}}).status_code == 201
    assert hostile.post(url(), {"values": {"nm": [], **VISIBLE}}).status_code == 400


@pytest.mark.parametrize(
    ("key", "value"), [("ch", "\\ud800"), ("ref", "x:\\ud800"), ("dec", "\\ud800")]
)
def test_a_lone_surrogate_is_a_4xx(hostile: Any, key: str, value: str) -> None:
    body = '{"values": {"%s": "%s", "df": {"shimin": true}}}' % (key, value)  # noqa: UP031
    response = hostile.client.post(url(), body, content_type="application/json")
    assert response.status_code == 400, response.status_code
    assert response.json()["code"].startswith("ERROR_")


def test_a_postal_code_keeps_ascii_digits_only() -> None:
    from ledgers.fields import field_type_registry
    from ledgers.fields.exceptions import FieldValueError

    postal = field_type_registry.get("postal_code")
    assert postal.clean("１８１−００１３", {}) == "181-0013"
    with pytest.raises(FieldValueError):
        postal.clean("\u0661\u0668\u0661-\u0660\u0660\u0661\u0663", {})


# D10 ---- a blank reference filter (empty, or only a space Python reads as one) was a 500
@pytest.mark.parametrize("value", ["", " ", "\u2028", "\x85"])
def test_a_blank_reference_filter_is_not_a_server_error(hostile: Any, value: str) -> None:
    new_record(hostile)
    response = hostile.get(url(), {"ref": value})
    assert response.status_code == 200, response.content[:200]
    assert response.json()["results"] == []  # no record has a reference here


# D15 --- an offset PostgreSQL cannot read: Python takes up to ±23:59, PostgreSQL ±15:59, and
# the moment reached the query with its offset as written (SQLSTATE 22009, a server error)
@pytest.mark.parametrize("offset", ["-18:24", "+23:59", "+16:00"])
def test_a_moment_at_any_offset_python_reads_is_no_server_error(
    hostile: Any, api: Any, offset: str
) -> None:
    record = new_record(hostile)
    moment = f"2024-01-01T00:00:00{offset}"
    listed = hostile.get(url(), {"updated_since": moment})
    assert listed.status_code == 200, listed.content[:200]
    assert len(listed.json()["results"]) == 1  # as the same moment in UTC finds it
    assert hostile.get(record, {"as_of": moment}).status_code == 404  # it did not exist then
    cursor = base64.b64encode(urlencode({"p": moment}).encode()).decode()  # as DRF writes it
    assert hostile.get(url(), {"cursor": cursor}).status_code == 200
    auditor = api("auditor")
    auditor.client.raise_request_exception = False
    for name in ("from", "to"):
        assert auditor.get("/api/v1/audit/events/", {name: moment}).status_code == 200


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-15:00"])
def test_a_moment_whose_utc_leaves_python_s_years_compares_as_itself(
    hostile: Any, api: Any, moment: str
) -> None:
    """In UTC it would be before year 1 or after 9999, which Python cannot hold: it is read
    as the first or last moment Python has, and every comparison answers the same."""
    record = new_record(hostile)
    listed = hostile.get(url(), {"updated_since": moment})
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == (1 if moment.startswith("0001") else 0)
    as_of = hostile.get(record, {"as_of": moment})
    assert as_of.status_code == (404 if moment.startswith("0001") else 200)
    auditor = api("auditor")
    assert auditor.get("/api/v1/audit/events/", {"from": moment}).status_code == 200


# D16 --- a page_size that is no whole number of at least 1 was read as none at all: the
# default page answered without a word (page_size=-1 asked for what?)
@pytest.mark.parametrize("size", ["-1", "0", "abc", "1e3", "", "２", "1.5", "+5"])
def test_a_page_size_that_is_no_count_is_400(hostile: Any, api: Any, size: str) -> None:
    listed = hostile.get(url(), {"page_size": size})
    assert_4xx_json(listed)
    assert "page_size" in listed.json()["detail"]
    auditor = api("auditor")
    auditor.client.raise_request_exception = False
    assert_4xx_json(auditor.get("/api/v1/audit/events/", {"page_size": size}))


def test_a_page_size_above_the_maximum_is_the_maximum(hostile: Any) -> None:
    hostile.post(url("bulk/"), {"records": [{"values": {"t": "x", **VISIBLE}}] * 101})
    for size in ("101", "1000", "9" * 30):
        listed = hostile.get(url(), {"page_size": size})
        assert listed.status_code == 200
        assert len(listed.json()["results"]) == 100
    assert len(hostile.get(url(), {"page_size": "007"}).json()["results"]) == 7


# D17 --- a blank range filter (n__gte=, d__lte=) read as no value went into the range's
# comparison as NULL and then into Decimal(str(None)): a server error
@pytest.mark.parametrize("name", ["n__gte", "n__lte", "dec__gte", "d__lte", "dt__gte"])
@pytest.mark.parametrize("blank", ["", " ", "\u3000"])
def test_a_blank_range_filter_is_400(hostile: Any, name: str, blank: str) -> None:
    new_record(hostile)
    listed = hostile.get(url(), {name: blank})
    assert_4xx_json(listed)
    assert name in listed.json()["detail"]


# D18 --- a lone surrogate in a search term (JSON "\ud800") reached the normaliser (or the
# database) as text no encoding can hold: a server error
@pytest.mark.parametrize("term", ['"\\ud800"', '"山田\\udfff"', '{"from": "\\ud800"}'])
def test_a_lone_surrogate_in_a_search_term_is_400(api: Any, term: str) -> None:
    client = api("clerk")
    client.client.raise_request_exception = False
    criterion = "birth_date" if term.startswith("{") else "name"
    body = '{"criteria": {"%s": %s}, "reason": "本人からの申出による確認"}' % (criterion, term)  # noqa: UP031
    response = client.client.post(
        "/api/v1/ledgers/dv/search/latest/", body, content_type="application/json"
    )
    assert_4xx_json(response)


# D19 --- a NUL in a path parameter or a query string of a view that did not refuse it
# (usernames, department codes, token prefixes, ?username=) reached PostgreSQL, which
# refuses it in text: a server error that logged the statement
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/staff/a%00b/",
        "/api/v1/departments/a%00b/",
        "/api/v1/auth/tokens/a%00b/",
        "/api/v1/auth/tokens/?username=a%00b",
        "/api/v1/ledgers/dv/records/?as_of=%01",
        "/api/v1/me/?x=%1F",
    ],
)
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_a_control_character_anywhere_in_an_api_url_is_400(
    api: Any, path: str, method: str
) -> None:
    admin = api("admin")
    admin.client.raise_request_exception = False
    response = getattr(admin.client, method)(path, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert response.json()["code"] == "ERROR_REQUEST_INVALID"
    assert set(response.json()["detail"]) <= {"path", "query"}


# D20 --- a search term that is a list, an object or a truth value was searched for as its
# Python spelling ("['男', '女']", "{'kanji': '山田'}", "True"): nothing found, no word why
@pytest.mark.parametrize(
    ("criterion", "term"),
    [("name", ["山田", "花子"]), ("name", {"kanji": "山田"}), ("name", True), ("name", 1.5)],
)
def test_a_search_term_that_is_no_text_is_400(api: Any, criterion: str, term: Any) -> None:
    response = api("clerk").post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {criterion: term}, "reason": "本人からの申出による確認"},
    )
    assert_4xx_json(response)
    assert criterion in response.json()["detail"]["criteria"]


def test_a_search_term_given_as_a_whole_number_is_its_digits(api: Any) -> None:
    response = api("clerk").post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"name": 1985}, "reason": "本人からの申出による確認"},
    )
    assert response.status_code == 200


# D21 --- a query string of more than DATA_UPLOAD_MAX_NUMBER_FIELDS parameters: Django's
# TooManyFieldsSent, answered with its HTML 400 page, not the API's error shape
def test_too_many_query_parameters_is_the_api_s_400(hostile: Any) -> None:
    response = hostile.client.get(url("?" + "a=1&" * 1001))
    assert response.status_code == 400
    assert response.json()["code"] == "ERROR_REQUEST_INVALID"
    assert "query" in response.json()["detail"]


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_chunked_body_is_refused_not_read_as_empty(hostile: Any, method: str) -> None:
    """gunicorn passes a ``Transfer-Encoding: chunked`` body on without a Content-Length,
    and Django reads such a body as empty: a chunked PATCH answered 200 with nothing
    changed (an empty PATCH), a chunked create 400 「values は必須です」. Both now 411."""
    target = new_record(hostile) if method == "patch" else url()
    body = json.dumps({"values": {"t": "変更", **VISIBLE}}).encode()
    with schema_context("mitaka"):
        versions = RecordVersion.objects.count()
    response = hostile.client.generic(
        method.upper(), target, body, content_type="application/json",
        CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked", HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert response.status_code == 411, (response.status_code, response.content[:300])
    assert response.json()["code"] == "ERROR_LENGTH_REQUIRED"
    documented = "/api/v1/ledgers/{code}/records/" + ("{record_id}/" if method == "patch" else "")
    assert_documented(response, documented, method)
    with schema_context("mitaka"):
        assert RecordVersion.objects.count() == versions


def test_a_compressed_body_is_415_saying_so(hostile: Any) -> None:
    """A gzip body (Content-Encoding: gzip) was read as text: 400 「本文を文字コード utf-8
    として読めません（2バイト目）」, which sent the client looking at its charset."""
    body = gzip.compress(json.dumps({"records": [{"values": {"t": "x", **VISIBLE}}]}).encode())
    response = hostile.client.generic(
        "POST", url("bulk/"), body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 415, (response.status_code, response.content[:300])
    assert response.json()["code"] == "ERROR_UNSUPPORTED_MEDIA_TYPE"
    assert "Content-Encoding" in response.json()["message"]
    identity = hostile.client.generic(
        "POST", url(), json.dumps({"values": {"t": "x", **VISIBLE}}),
        content_type="application/json", HTTP_CONTENT_ENCODING="identity",
    )  # fmt: skip
    assert identity.status_code == 201, identity.content[:300]


# D-deep ---- a body orjson reads (up to 1,024 levels) but that code walking it recursively
# cannot: a search's criteria (as_searched) and a definition's options (deepcopy) ran out of
# stack at ~600 levels, a server error
def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("where", ["ledger", "search"])
def test_a_body_nested_past_what_its_handling_recurses_is_400(
    hostile: Any, api: Any, where: str
) -> None:
    designer = api("designer")
    designer.client.raise_request_exception = False
    deep = _nested(600)
    if where == "ledger":
        fields = [{"key": "a", "label": "a", "type": "choice", "options": deep}]
        answer = designer.post("/api/v1/ledgers/", {"code": "zz", "name": "z", "fields": fields})
    else:
        answer = hostile.post(
            "/api/v1/ledgers/dv/search/latest/", {"criteria": {"name": deep}, "reason": "確認"}
        )
    assert answer.status_code == 400, answer.content[:200]
    assert answer.json()["message"] == "JSON の入れ子が深すぎます。"
