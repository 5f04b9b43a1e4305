"""The contract as clients of other systems (RPA robots, the resident-record system, BI
tools) meet it: what the OpenAPI schema does not describe is a 4xx in the error shape
naming what was wrong, never read as something else without a word."""

from __future__ import annotations

import base64
import codecs
from typing import Any
from urllib import parse

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import HOST, assert_documented, records_url


def assert_refused(response: Any, name: str, status: int = 400) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert body["code"].startswith("ERROR_")
    assert not body["message"].isascii()
    assert name in str(body["detail"]), body["detail"]


# --- yes-or-no query parameters: count=yes, deleted=on were read as false without a word


@pytest.mark.parametrize("name", ["count", "deleted"])
@pytest.mark.parametrize("value", ["yes", "on", "", "2", "ture", "t"])
def test_a_flag_that_is_no_true_or_false_is_400(api: Any, name: str, value: str) -> None:
    listed = api("clerk").get(records_url(), {name: value})
    assert_refused(listed, name)
    assert_documented(listed, "/api/v1/ledgers/{code}/records/", "get")


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "1"])
def test_count_in_each_spelling_of_true_counts(api: Any, value: str) -> None:
    listed = api("clerk").get(records_url(), {"count": value})
    assert listed.status_code == 200
    assert listed.json()["count"] == 1


@pytest.mark.parametrize("value", ["false", "False", "0"])
def test_count_false_adds_no_count(api: Any, value: str) -> None:
    listed = api("clerk").get(records_url(), {"count": value})
    assert listed.status_code == 200
    assert "count" not in listed.json()


def test_deleted_true_in_python_s_spelling_lists_deleted_records(api: Any, city: dict) -> None:
    clerk = api("clerk")
    record = city["record"]
    deleted = clerk.delete(records_url(record.pk), {"reason": "誤登録"}, HTTP_IF_MATCH='"1"')
    assert deleted.status_code == 200, deleted.content
    assert clerk.get(records_url()).json()["results"] == []
    for value in ("True", "true", "1"):
        listed = clerk.get(records_url(), {"deleted": value})
        assert [r["id"] for r in listed.json()["results"]] == [str(record.pk)]


def test_the_schema_documents_deleted_and_count(api: Any) -> None:
    document = (
        api("clerk").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )
    parameters = document["paths"]["/api/v1/ledgers/{code}/records/"]["get"]["parameters"]
    types = {p["name"]: p["schema"]["type"] for p in parameters}
    assert types["deleted"] == "boolean"
    assert types["count"] == "boolean"


# --- cursors: what is no base64 was skipped and the rest read, often as the first page


def _cursor(text: bytes) -> str:
    return base64.b64encode(text).decode()


TAMPERED = [
    "%%%",
    "A" * 2000,  # base64 of zero bytes: no position at all
    "!!!!",
    "cD0yMDI0",  # p=2024: a position that is no moment
    _cursor(b"r=1&o=5&p=2024-01-01T00:00:00+00:00"),  # backwards: no link of ours
    _cursor(b"o=99999999&p=2024-01-01T00:00:00+00:00"),  # offset past DRF's cutoff
    _cursor(b"o=-1&p=2024-01-01T00:00:00+00:00"),
    _cursor(b"p=2024-01-01T00:00:00+00:00&p=2025-01-01T00:00:00+00:00"),
    _cursor(b"p=2024-01-01T00:00:00+00:00&x=1"),
    _cursor(b"o="),  # neither a position nor an offset
    _cursor("p=２０２４".encode()),
    "6KGo",  # base64 of UTF-8 text
]


@pytest.mark.parametrize("cursor", TAMPERED)
def test_a_tampered_cursor_is_404_naming_the_cursor(api: Any, cursor: str) -> None:
    listed = api("clerk").get(records_url(), {"cursor": cursor})
    assert_refused(listed, "cursor", 404)
    assert listed.json()["code"] == "ERROR_NOT_FOUND"
    assert_documented(listed, "/api/v1/ledgers/{code}/records/", "get")


@pytest.mark.parametrize("cursor", ["%%%", "A" * 200, _cursor(b"p=1&r=1")])
def test_a_tampered_audit_cursor_is_404(api: Any, cursor: str) -> None:
    auditor = api("auditor")
    assert_refused(auditor.get("/api/v1/audit/events/", {"cursor": cursor}), "cursor", 404)


VISIBLE = {"disclosure": {"shimin": True}}


def test_the_next_link_still_pages_through(api: Any) -> None:
    clerk = api("clerk")
    items = [{"values": {"name": {"kanji": f"試験 {i}"}, **VISIBLE}} for i in range(4)]
    assert clerk.post(records_url() + "bulk/", {"records": items}).status_code == 201
    first = clerk.get(records_url(), {"page_size": 2}).json()
    cursor = parse.parse_qs(parse.urlsplit(first["next"]).query)["cursor"][0]
    second = clerk.get(records_url(), {"page_size": 2, "cursor": cursor})
    assert second.status_code == 200
    ids = {r["id"] for r in first["results"] + second.json()["results"]}
    assert len(ids) == 4


def test_an_empty_cursor_is_no_cursor(api: Any) -> None:
    listed = api("clerk").get(records_url(), {"cursor": ""})
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 1


# --- "active": false on a create was ignored: the department or account created active


def _last_event(action: str) -> Any:
    from django_tenants.utils import schema_context

    from ledgers.audit.models import AuditEvent

    with schema_context("mitaka"):
        return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def test_a_department_created_inactive_is_inactive(api: Any) -> None:
    admin = api("admin")
    created = admin.post(
        "/api/v1/departments/", {"code": "kikaku", "name": "企画課", "active": False}
    )
    assert created.status_code == 201, created.content
    assert created.json()["active"] is False
    assert admin.get("/api/v1/departments/kikaku/").json()["active"] is False
    assert _last_event("department.create").details["active"] is False
    active = admin.post("/api/v1/departments/", {"code": "somu", "name": "総務課"})
    assert active.json()["active"] is True
    assert "active" not in _last_event("department.create").details


def test_an_account_created_inactive_cannot_sign_in(api: Any) -> None:
    admin = api("admin")
    body = {"username": "haken", "password": "Spring-2027-ok", "active": False}
    created = admin.post("/api/v1/staff/", body)
    assert created.status_code == 201, created.content
    assert created.json()["active"] is False
    assert admin.get("/api/v1/staff/haken/").json()["active"] is False
    assert _last_event("staff.create").details["active"] is False
    client = APIClient(HTTP_HOST=HOST)
    client.raise_request_exception = False
    token = client.post(
        "/api/v1/auth/token/", {"username": "haken", "password": "Spring-2027-ok"}, format="json"
    )
    assert token.status_code == 401


# --- a ledger's retention_years: "5", 5.0 and " 5.0 " were read as 5 where the rest of the
# definition document (max_results, required) takes only its JSON type


@pytest.mark.parametrize("years", ["5", 5.0, " 5.0 ", "5年", True, [5], {"years": 5}])
def test_retention_years_that_is_no_json_integer_is_400(api: Any, years: Any) -> None:
    designer = api("designer")
    created = designer.post(
        "/api/v1/ledgers/", {"code": "hozon", "name": "保存台帳", "retention_years": years}
    )
    assert_refused(created, "retention_years")
    assert designer.get("/api/v1/ledgers/hozon/").status_code == 404
    changed = designer.patch("/api/v1/ledgers/dv/", {"retention_years": years})
    assert_refused(changed, "retention_years")
    put = designer.put("/api/v1/ledgers/dv/", {"name": "DV", "retention_years": years})
    assert_refused(put, "retention_years")
    assert designer.get("/api/v1/ledgers/dv/").json()["retention_years"] == 5


@pytest.mark.parametrize("years", [7, None])
def test_retention_years_as_a_number_or_null_is_taken(api: Any, years: Any) -> None:
    changed = api("designer").patch("/api/v1/ledgers/dv/", {"retention_years": years})
    assert changed.status_code == 200, changed.content
    assert changed.json()["retention_years"] == years


# --- a body that is no JSON object: one key and one Japanese message on every write (DRF
# answered a null body "No data provided", in English, under non_field_errors)

OBJECT_WRITES = [
    ("post", "/api/v1/ledgers/"),
    ("patch", "/api/v1/ledgers/dv/"),
    ("put", "/api/v1/ledgers/dv/"),
    ("post", "/api/v1/ledgers/dv/fields/"),
    ("post", "/api/v1/departments/"),
    ("post", "/api/v1/staff/"),
    ("patch", "/api/v1/staff/zei/"),
    ("post", "/api/v1/ledgers/dv/search/latest/"),
    ("post", "/api/v1/ledgers/dv/webhooks/"),
    ("post", "/api/v1/ledgers/dv/records/"),
    ("post", "/api/v1/ledgers/dv/records/bulk/"),
    ("post", "/api/v1/auth/token/"),
]


@pytest.mark.parametrize(("method", "path"), OBJECT_WRITES)
@pytest.mark.parametrize("body", ["null", "[]", "[{}]", "3", '"x"', "true"])
def test_a_body_that_is_no_object_is_400_under_body_in_japanese(
    api: Any, method: str, path: str, body: str
) -> None:
    client = api("admin").client
    client.raise_request_exception = False
    response = getattr(client, method)(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == {"body": ["本文は JSON のオブジェクトで指定してください。"]}


# --- a diff's generations: int() read "1_0" as 10, " 1" and "１" as 1; a bad "to" was
# blamed on "from"


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("value", ["1_0", " 1", "１", "+1", "-1", "0", "1.0", "", "9" * 19])
def test_a_diff_generation_that_is_no_count_is_400_naming_it(
    api: Any, city: dict, name: str, value: str
) -> None:
    query = {"from": "1", "to": "1", name: value}
    response = api("clerk").get(records_url(city["record"].pk, "diff/"), query)
    assert_refused(response, name)
    other = "to" if name == "from" else "from"
    assert other not in response.json()["detail"]
    assert_documented(response, "/api/v1/ledgers/{code}/records/{record_id}/diff/", "get")


def test_a_diff_of_plain_generations_is_answered(api: Any, city: dict) -> None:
    response = api("clerk").get(records_url(city["record"].pk, "diff/"), {"from": 1, "to": "1"})
    assert response.status_code == 200
    assert response.json()["changes"] == {}


# --- a filter a closed list does not take was ignored: ?user=clerk answered every event


def test_an_audit_filter_the_trail_does_not_take_is_400_and_no_read(api: Any) -> None:
    auditor = api("auditor")
    before = _last_event("audit.read")
    for query in ({"user": "clerk"}, {"actor": "clerk", "ledger_code": "dv"}, {"since": "2026"}):
        response = auditor.get("/api/v1/audit/events/", query)
        (name,) = set(query) - {"actor"}
        assert_refused(response, name)
        assert "actor" in response.json()["detail"][name][0]  # it names the filters taken
        assert_documented(response, "/api/v1/audit/events/", "get")
    assert _last_event("audit.read") == before
    taken = {"actor": "clerk", "ledger": "dv", "action": "record.", "page_size": "5"}
    assert auditor.get("/api/v1/audit/events/", {**taken, "format": "json"}).status_code == 200


def test_a_token_list_filter_it_does_not_take_is_400(api: Any) -> None:
    admin = api("admin")
    assert_refused(admin.get("/api/v1/auth/tokens/", {"user": "clerk"}), "user")
    assert admin.get("/api/v1/auth/tokens/", {"username": "clerk"}).status_code == 200


# --- 406, 413 and 415 answer the error shape, and the schema says each operation may


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/csv"])
def test_an_answer_in_another_form_is_406_as_documented(api: Any, accept: str) -> None:
    listed = api("clerk").get(records_url(), HTTP_ACCEPT=accept)
    assert_refused(listed, "", 406)
    assert listed.json()["code"] == "ERROR_NOT_ACCEPTABLE"
    assert "application/json" in listed.json()["message"]  # what it answers in
    assert_documented(listed, "/api/v1/ledgers/{code}/records/", "get")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "schema_path"),
    [
        ("post", "/api/v1/ledgers/dv/records/", "/api/v1/ledgers/{code}/records/"),
        ("post", "/api/v1/ledgers/dv/search/latest/", "/api/v1/ledgers/{code}/search/{screen}/"),
        ("patch", "/api/v1/ledgers/dv/", "/api/v1/ledgers/{code}/"),
        ("post", "/api/v1/departments/", "/api/v1/departments/"),
    ],
)
def test_a_body_in_another_form_is_415_as_documented(
    api: Any, content_type: str, method: str, path: str, schema_path: str
) -> None:
    client = api("admin").client
    response = getattr(client, method)(path, "values=1", content_type=content_type)
    assert_refused(response, "", 415)
    assert response.json()["code"] == "ERROR_UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in response.json()["message"]  # what it takes
    assert_documented(response, schema_path, method)


def test_a_body_over_the_limit_is_413_as_documented(api: Any) -> None:
    response = api("clerk").post(records_url(), {"values": {"name": "あ" * 1_000_000}})
    assert_refused(response, "max_bytes", 413)
    assert_documented(response, "/api/v1/ledgers/{code}/records/", "post")
    search = api("clerk").post(
        "/api/v1/ledgers/dv/search/latest/", {"criteria": {"name": "あ" * 1_000_000}}
    )
    assert_refused(search, "max_bytes", 413)
    assert_documented(search, "/api/v1/ledgers/{code}/search/{screen}/", "post")
    # The advice to split fits a bulk request only: a search or a single record was told
    # 「一括登録は分けて送ってください」.
    assert "一括登録" not in search.json()["message"]
    assert "一括登録" not in response.json()["message"]
    assert "バイト" in search.json()["message"]
    bulk = api("clerk").post(
        records_url() + "bulk/", {"records": [{"values": {"name": "あ" * 1_000_000}}]}
    )
    assert_refused(bulk, "max_bytes", 413)
    assert "一括登録は分けて送ってください" in bulk.json()["message"]


# --- a path without its final slash: a bare 404, read as "no such ledger"


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete", "head"])
@pytest.mark.parametrize(
    "path", ["/api/v1/ledgers/dv/records", "/api/v1/ledgers", "/api/v1/audit/events", "/api/v1/me"]
)
def test_a_path_without_its_final_slash_says_so(api: Any, method: str, path: str) -> None:
    client = api("clerk").client
    response = getattr(client, method)(path, content_type="application/json")
    assert response.status_code == 404
    if method != "head":
        assert response.json()["code"] == "ERROR_NOT_FOUND"
        assert response.json()["detail"] == {
            "path": [f"URL の末尾に / を付けてください（{path}/）。"]
        }


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/nope/", "/api/v1/ledgers/dv/records/x/y"]
)
def test_a_path_no_route_takes_is_a_bare_404(api: Any, path: str) -> None:
    response = api("clerk").client.get(path)
    assert response.status_code == 404
    assert response.json() == {
        "code": "ERROR_NOT_FOUND",
        "message": "見つかりません。",
        "detail": {},
    }


# --- bodies a Japanese client sends: a byte order mark, Shift_JIS, a slip in the JSON

NEW_RECORD = '{"values": {"name": {"kanji": "鈴木 一郎"}, "disclosure": {"shimin": true}}}'


def test_a_utf8_body_with_a_byte_order_mark_is_read(api: Any) -> None:
    client = api("clerk").client
    body = codecs.BOM_UTF8 + NEW_RECORD.encode()
    created = client.post(records_url(), body, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["values"]["name"]["kanji"] == "鈴木 一郎"


def test_shift_jis_is_read_when_named_and_refused_saying_so_when_not(api: Any) -> None:
    client = api("clerk").client
    body = NEW_RECORD.encode("shift_jis")
    named = client.post(records_url(), body, content_type="application/json; charset=Shift_JIS")
    assert named.status_code == 201
    unnamed = client.post(records_url(), body, content_type="application/json")
    assert unnamed.status_code == 400
    assert unnamed.json()["code"] == "ERROR_REQUEST_MALFORMED"
    assert "文字コード utf-8" in unnamed.json()["message"]
    assert "charset=Shift_JIS" in unnamed.json()["message"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('{"values": {"name": "山田",}}', "1行目 26文字目"),
        ('{"values":\n  {"name" "山田"}}', "2行目"),
    ],
)
def test_a_slip_in_the_json_is_told_where(api: Any, body: str, where: str) -> None:
    response = api("clerk").client.post(records_url(), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "ERROR_REQUEST_MALFORMED"
    assert where in response.json()["message"], response.json()["message"]


@pytest.mark.parametrize("form", ["xml", "csv", "api", "yaml"])
def test_a_format_the_api_does_not_answer_in_is_406(api: Any, form: str) -> None:
    listed = api("clerk").get(records_url(), {"format": form})
    assert_refused(listed, "", 406)
    assert listed.json()["code"] == "ERROR_NOT_ACCEPTABLE"
    assert_documented(listed, "/api/v1/ledgers/{code}/records/", "get")
    assert api("clerk").get(records_url(), {"format": "json"}).status_code == 200


# --- a ledger's PATCH ignored a changed code, fields, layout or search_screens with a 200


def test_a_ledger_patch_refuses_what_it_does_not_change(api: Any) -> None:
    designer = api("designer")
    read = designer.get("/api/v1/ledgers/dv/")
    document = read.json()
    added = [*document["fields"], {"key": "memo", "label": "メモ", "type": "text"}]
    for change in (
        {"fields": added},
        {"layout": {"sections": [{"title": "基本", "fields": ["name"]}]}},
        {"search_screens": []},
        {"code": "dv2", "name": "改名"},
    ):
        response = designer.patch("/api/v1/ledgers/dv/", change)
        (name,) = set(change) - {"name"}
        assert_refused(response, name)
        assert_documented(response, "/api/v1/ledgers/{code}/", "patch")
    assert designer.get("/api/v1/ledgers/dv/").content == read.content  # nothing written
    # The document as read, sent back whole with a new name: taken.
    renamed = designer.patch("/api/v1/ledgers/dv/", {**document, "name": "DV等支援措置台帳（新）"})
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["name"] == "DV等支援措置台帳（新）"
    assert renamed.json()["fields"] == document["fields"]


def test_the_schema_says_what_a_ledger_patch_changes(api: Any) -> None:
    document = (
        api("clerk").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )
    body = document["paths"]["/api/v1/ledgers/{code}/"]["patch"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    properties = set(document["components"]["schemas"][ref]["properties"])
    assert properties == {"name", "description", "category", "retention_years", "sensitivity"}


# --- whole numbers in a body: DRF's IntegerField read through int(): "1_0" as 10 (a
# restore of generation 10), "0_1", " 1", "+1", "１", 1.0 and "1.0" as 1

NOT_WHOLE = [
    "1_0",
    "0_1",
    " 1",
    "1 ",
    "+1",
    "１",
    "1.0",
    1.0,
    True,
    "",
    "-",
    "9" * 19,
    [1],
    {"n": 1},
]


def _record_at_generation_2(api: Any, city: dict) -> Any:
    clerk = api("clerk")
    record = city["record"]
    changed = clerk.patch(records_url(record.pk), {"values": {"amount": 2000}}, HTTP_IF_MATCH='"1"')
    assert changed.status_code == 200, changed.content
    return clerk


@pytest.mark.parametrize("value", NOT_WHOLE)
def test_a_restore_generation_that_is_no_whole_number_is_400_and_nothing_restored(
    api: Any, city: dict, value: Any
) -> None:
    clerk = _record_at_generation_2(api, city)
    url = records_url(city["record"].pk, "restore/")
    restored = clerk.post(url, {"generation": value}, HTTP_IF_MATCH='"2"')
    assert_refused(restored, "generation")
    assert "半角数字" in restored.json()["detail"]["generation"][0]
    assert_documented(restored, "/api/v1/ledgers/{code}/records/{record_id}/restore/", "post")
    read = clerk.get(records_url(city["record"].pk))
    assert read.json()["generation"] == 2
    assert read.json()["values"]["amount"] == 2000


@pytest.mark.parametrize("value", [1, "1"])
def test_a_restore_generation_as_a_number_or_its_digits_restores(
    api: Any, city: dict, value: Any
) -> None:
    clerk = _record_at_generation_2(api, city)
    url = records_url(city["record"].pk, "restore/")
    restored = clerk.post(url, {"generation": value}, HTTP_IF_MATCH='"2"')
    assert restored.status_code == 200, restored.content
    assert restored.json()["generation"] == 3
    assert restored.json()["values"]["amount"] == 1000


SEARCH = {"criteria": {"name": "山田"}, "reason": "本人確認"}


@pytest.mark.parametrize("name", ["page", "page_size"])
@pytest.mark.parametrize("value", NOT_WHOLE)
def test_a_search_page_that_is_no_whole_number_is_400(api: Any, name: str, value: Any) -> None:
    found = api("clerk").post("/api/v1/ledgers/dv/search/latest/", {**SEARCH, name: value})
    assert_refused(found, name)
    assert_documented(found, "/api/v1/ledgers/{code}/search/{screen}/", "post")


@pytest.mark.parametrize("value", [1, "1", "01"])
def test_a_search_page_as_a_number_or_its_digits_is_taken(api: Any, value: Any) -> None:
    body = {**SEARCH, "page": value, "page_size": value}
    found = api("clerk").post("/api/v1/ledgers/dv/search/latest/", body)
    assert found.status_code == 200, found.content
    assert len(found.json()["results"]) == 1


def test_a_token_lifetime_that_is_no_whole_number_is_400_and_issues_nothing(city: dict) -> None:
    from ledgers.api.tokens.models import ApiToken

    client = APIClient(HTTP_HOST=HOST)
    body = {"username": "clerk", "password": "S3cret!pass-api"}
    for value in ["1_0", "+2", "２", 2.0, True]:
        issued = client.post(
            "/api/v1/auth/token/", {**body, "expires_in_days": value}, format="json"
        )
        assert_refused(issued, "expires_in_days")
    from django_tenants.utils import schema_context

    with schema_context("mitaka"):
        assert not ApiToken.objects.filter(user__username="clerk").exists()
    issued = client.post("/api/v1/auth/token/", {**body, "expires_in_days": "30"}, format="json")
    assert issued.status_code == 201, issued.content


def test_the_schema_says_these_are_integers(api: Any) -> None:
    document = (
        api("clerk").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )
    schemas = document["components"]["schemas"]
    assert schemas["RestoreRequest"]["properties"]["generation"]["type"] == "integer"
    assert schemas["SearchRequestRequest"]["properties"]["page"]["type"] == "integer"
    assert schemas["TokenRequestRequest"]["properties"]["expires_in_days"]["maximum"] == 366


# --- a search body's unknown keys: "pagesize" or "reasons" was dropped without a word (the
# page size not applied, the reason missing)


@pytest.mark.parametrize(
    ("body", "unknown"),
    [
        ({**SEARCH, "pagesize": 1}, ["pagesize"]),
        ({"criteria": {"name": "山田"}, "reasons": "本人確認"}, ["reasons"]),
        ({**SEARCH, "page": 1, "size": 1, "screen": "past"}, ["screen", "size"]),
        ({**SEARCH, "page": "x", "Page": 1}, ["Page", "page"]),
    ],
)
def test_a_search_body_key_it_does_not_take_is_400_naming_each(
    api: Any, body: dict, unknown: list[str]
) -> None:
    before = _last_event("search.run")
    found = api("clerk").post("/api/v1/ledgers/dv/search/latest/", body)
    assert found.status_code == 400, found.content
    detail = found.json()["detail"]
    assert sorted(detail) == unknown
    for key in set(unknown) - {"page"}:
        assert_refused(found, key)
        assert "criteria、page、page_size、reason" in detail[key][0]  # the keys it takes
    assert_documented(found, "/api/v1/ledgers/{code}/search/{screen}/", "post")
    assert _last_event("search.run") == before  # no search ran


def test_the_schema_says_a_search_body_takes_only_its_keys(api: Any) -> None:
    document = (
        api("clerk").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )
    schemas = document["components"]["schemas"]
    assert schemas["SearchRequestRequest"]["additionalProperties"] is False
    assert set(schemas["SearchRequestRequest"]["properties"]) == {
        "criteria", "reason", "page", "page_size",
    }  # fmt: skip
    # Only the search: other bodies are documents read back (or left as they were).
    assert "additionalProperties" not in schemas["RestoreRequest"]
