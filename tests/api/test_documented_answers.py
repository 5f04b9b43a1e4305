"""Every operation's successful answers (and the refusals a client meets in a session)
checked against /api/schema/: status documented, JSON, body valid, required headers there.

The schemathesis run (tests/api/test_schemathesis.py) generates its bodies, which the
server mostly refuses: about 20 operations never reach a success there (a record created,
searched, restored, a webhook read, a staff member created…). Here a client goes through
them all with bodies that work, as the clerk, the designer and the administrator of the
DV ledger's city.
"""

from __future__ import annotations

from typing import Any

from openapi_schema_validator import OAS30Validator
from rest_framework.test import APIClient

from tests.api.conftest import HOST, records_url

RECORD = "/api/v1/ledgers/{code}/records/{record_id}/"
RECORDS = "/api/v1/ledgers/{code}/records/"
FIELDS = "/api/v1/ledgers/{code}/fields/"
WEBHOOKS = "/api/v1/ledgers/{code}/webhooks/"
SEARCH = "/api/v1/ledgers/{code}/search/{screen}/"
PERSON = {"name": {"kanji": "鈴木 一郎", "kana": "スズキ イチロウ"}, "disclosure": {"shimin": True}}


class Conformance:
    """Checks answers against the served schema; collects what does not match."""

    def __init__(self) -> None:
        self.document = (
            APIClient(HTTP_HOST=HOST).get("/api/schema/", HTTP_ACCEPT="application/json").json()
        )
        self.problems: list[str] = []
        self.checked: set[tuple[str, str, int]] = set()

    def __call__(self, response: Any, path: str, method: str) -> Any:
        where = f"{method.upper()} {path} → {response.status_code}"
        self.checked.add((method, path, response.status_code))
        answer = self.document["paths"][path][method]["responses"].get(str(response.status_code))
        if answer is None:
            self.problems.append(f"{where}: status not documented ({response.content[:200]!r})")
            return response
        for name, header in answer.get("headers", {}).items():
            if header.get("required") and not response.has_header(name):
                self.problems.append(f"{where}: no {name}")
        if "content" not in answer:
            if response.content:
                self.problems.append(f"{where}: a body where none is documented")
            return response
        if response["Content-Type"] != "application/json":
            self.problems.append(f"{where}: {response['Content-Type']}")
            return response
        schema = answer["content"]["application/json"]["schema"]
        validator = OAS30Validator({**schema, "components": self.document["components"]})
        for error in validator.iter_errors(response.json()):
            self.problems.append(f"{where}: {list(error.absolute_path)} {error.message}")
        return response


def test_every_operation_answers_as_documented(api: Any, city: dict[str, Any]) -> None:
    check = Conformance()
    clerk, designer, admin = api("clerk"), api("designer"), api("admin")

    # Records: create (and its replay), change, history, restore, delete, list, search.
    created = check(
        clerk.post(records_url(), {"values": PERSON}, HTTP_IDEMPOTENCY_KEY="doc-1"), RECORDS, "post"
    )
    check(
        clerk.post(records_url(), {"values": PERSON}, HTTP_IDEMPOTENCY_KEY="doc-1"), RECORDS, "post"
    )
    record = created.json()["id"]
    check(
        clerk.post(records_url() + "bulk/", {"records": [{"values": PERSON}]}),
        RECORDS + "bulk/", "post",
    )  # fmt: skip
    check(
        clerk.patch(records_url(record), {"values": {"amount": 5}}, HTTP_IF_MATCH='"1"'),
        RECORD,
        "patch",
    )
    check(
        clerk.patch(records_url(record), {"values": {"amount": 6}}, HTTP_IF_MATCH='"1"'),
        RECORD,
        "patch",
    )
    check(clerk.patch(records_url(record), {"values": {"amount": 6}}), RECORD, "patch")
    check(clerk.get(records_url(record)), RECORD, "get")
    check(clerk.get(records_url(record) + "?as_of=2099-01-01T00:00:00%2B09:00"), RECORD, "get")
    check(clerk.get(records_url(record, "versions/")), RECORD + "versions/", "get")
    check(clerk.get(records_url(record, "versions/1/")), RECORD + "versions/{generation}/", "get")
    check(clerk.get(records_url(record, "diff/") + "?from=1&to=2"), RECORD + "diff/", "get")
    check(
        clerk.post(records_url(record, "restore/"), {"generation": 1, "reason": "誤り"}, HTTP_IF_MATCH='"2"'),
        RECORD + "restore/", "post",
    )  # fmt: skip
    check(
        clerk.delete(records_url(record), {"reason": "誤登録"}, HTTP_IF_MATCH='"3"'),
        RECORD,
        "delete",
    )
    check(
        clerk.delete(records_url(record), {"reason": "誤登録"}, HTTP_IF_MATCH='"4"'),
        RECORD,
        "delete",
    )
    check(clerk.get(records_url() + "?count=true&deleted=true&name__contains=鈴木"), RECORDS, "get")
    for screen, criteria in [("latest", {"name": "山田"}), ("past", {"name": "山田"}),
                             ("offender", {"offenders.name": "山田"})]:  # fmt: skip
        found = clerk.post(
            f"/api/v1/ledgers/dv/search/{screen}/", {"criteria": criteria, "reason": "照会"}
        )
        assert found.status_code == 200
        check(found, SEARCH, "post")

    # The definition: ledgers, fields, grants, webhooks.
    check(designer.get("/api/v1/ledgers/"), "/api/v1/ledgers/", "get")
    check(
        designer.post("/api/v1/ledgers/", {"code": "memo", "name": "メモ", "fields": [{"key": "a", "label": "A", "type": "text"}]}),
        "/api/v1/ledgers/", "post",
    )  # fmt: skip
    ledger = check(designer.get("/api/v1/ledgers/dv/"), "/api/v1/ledgers/{code}/", "get")
    check(
        designer.patch("/api/v1/ledgers/dv/", {"name": "DV台帳"}, HTTP_IF_MATCH=ledger["ETag"]),
        "/api/v1/ledgers/{code}/", "patch",
    )  # fmt: skip
    check(designer.get("/api/v1/ledgers/dv/fields/"), FIELDS, "get")
    check(
        designer.post(
            "/api/v1/ledgers/dv/fields/", {"key": "memo", "label": "メモ", "type": "text"}
        ),
        FIELDS,
        "post",
    )
    check(designer.get("/api/v1/ledgers/dv/fields/memo/"), FIELDS + "{key}/", "get")
    check(
        designer.patch("/api/v1/ledgers/dv/fields/memo/", {"label": "備考"}),
        FIELDS + "{key}/",
        "patch",
    )
    check(designer.delete("/api/v1/ledgers/dv/fields/memo/"), FIELDS + "{key}/", "delete")
    grants = check(
        designer.get("/api/v1/ledgers/dv/grants/"), "/api/v1/ledgers/{code}/grants/", "get"
    )
    check(
        designer.put("/api/v1/ledgers/dv/grants/", grants.json(), HTTP_IF_MATCH=grants["ETag"]),
        "/api/v1/ledgers/{code}/grants/", "put",
    )  # fmt: skip
    webhook = check(
        designer.post("/api/v1/ledgers/dv/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": ["record.created"]}),
        WEBHOOKS, "post",
    ).json()["id"]  # fmt: skip
    check(designer.get("/api/v1/ledgers/dv/webhooks/"), WEBHOOKS, "get")
    check(
        designer.get(f"/api/v1/ledgers/dv/webhooks/{webhook}/"), WEBHOOKS + "{webhook_id}/", "get"
    )
    check(
        designer.patch(f"/api/v1/ledgers/dv/webhooks/{webhook}/", {"active": False}),
        WEBHOOKS + "{webhook_id}/",
        "patch",
    )
    check(
        designer.get(f"/api/v1/ledgers/dv/webhooks/{webhook}/deliveries/"),
        WEBHOOKS + "{webhook_id}/deliveries/",
        "get",
    )
    check(
        designer.delete(f"/api/v1/ledgers/dv/webhooks/{webhook}/"),
        WEBHOOKS + "{webhook_id}/",
        "delete",
    )

    # People, tokens, the audit trail.
    check(clerk.get("/api/v1/me/"), "/api/v1/me/", "get")
    check(
        admin.post("/api/v1/departments/", {"code": "kikaku", "name": "企画課"}),
        "/api/v1/departments/",
        "post",
    )
    check(admin.get("/api/v1/departments/"), "/api/v1/departments/", "get")
    department = check(
        admin.get("/api/v1/departments/kikaku/"), "/api/v1/departments/{code}/", "get"
    )
    check(
        admin.patch("/api/v1/departments/kikaku/", {"name": "企画経営課"}, HTTP_IF_MATCH=department["ETag"]),
        "/api/v1/departments/{code}/", "patch",
    )  # fmt: skip
    check(
        admin.patch("/api/v1/departments/kikaku/", {"name": "企画課"}, HTTP_IF_MATCH=department["ETag"]),
        "/api/v1/departments/{code}/", "patch",
    )  # fmt: skip
    check(admin.get("/api/v1/staff/"), "/api/v1/staff/", "get")
    check(
        admin.post("/api/v1/staff/", {"username": "newbie", "display_name": "新人", "password": "Qw3rty!long-pass-99",
                                      "memberships": [{"department": "shimin", "role": "viewer", "valid_from": "2026-04-01"}]}),
        "/api/v1/staff/", "post",
    )  # fmt: skip
    check(admin.get("/api/v1/staff/newbie/"), "/api/v1/staff/{username}/", "get")
    check(
        admin.put("/api/v1/staff/newbie/", {"display_name": "新人さん"}),
        "/api/v1/staff/{username}/",
        "put",
    )
    check(
        admin.patch("/api/v1/staff/newbie/", {"display_name": "新人"}),
        "/api/v1/staff/{username}/",
        "patch",
    )
    check(admin.delete("/api/v1/staff/newbie/"), "/api/v1/staff/{username}/", "delete")
    issued = check(
        APIClient(HTTP_HOST=HOST).post("/api/v1/auth/token/", {"username": "zei", "password": "S3cret!pass-api"}, format="json"),
        "/api/v1/auth/token/", "post",
    ).json()["token"]  # fmt: skip
    prefix = issued.split("_")[1]
    check(admin.get(f"/api/v1/auth/tokens/{prefix}/"), "/api/v1/auth/tokens/{prefix}/", "get")
    check(admin.delete(f"/api/v1/auth/tokens/{prefix}/"), "/api/v1/auth/tokens/{prefix}/", "delete")
    check(admin.get("/api/v1/auth/tokens/?username=zei"), "/api/v1/auth/tokens/", "get")
    check(admin.get("/api/v1/audit/events/?page_size=50"), "/api/v1/audit/events/", "get")
    check(admin.post("/api/v1/audit/verify/"), "/api/v1/audit/verify/", "post")
    check(APIClient(HTTP_HOST=HOST).get("/api/v1/me/"), "/api/v1/me/", "get")

    assert check.problems == []
    succeeded = {(method, path) for method, path, status in check.checked if status < 300}
    documented = {
        (method, path)
        for path, item in check.document["paths"].items()
        for method in item
        if method in {"get", "put", "patch", "post", "delete"}
    }
    # Every operation here with a success, but the PUTs that are PATCHes (or replace a whole
    # definition: test_ledgers.py, test_fields.py).
    assert documented - succeeded == {
        ("put", "/api/v1/departments/{code}/"), ("put", "/api/v1/ledgers/{code}/"),
        ("put", FIELDS + "{key}/"),
    }  # fmt: skip
