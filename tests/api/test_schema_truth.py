"""/api/schema/ says what the API does: what a client generated from it must send, and what
it refuses (found by schemathesis's positive_data_acceptance, status_code_conformance and
response_headers_conformance checks run with hundreds of examples per operation)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import HOST, assert_documented, records_url

RECORD = "/api/v1/ledgers/{code}/records/{record_id}/"
METHODS = {"get", "put", "patch", "post", "delete"}


@pytest.fixture
def document(city: dict[str, Any]) -> dict[str, Any]:
    return APIClient(HTTP_HOST=HOST).get("/api/schema/?format=json").json()


def _parameter(operation: dict[str, Any], location: str, name: str) -> dict[str, Any]:
    found = [p for p in operation.get("parameters", []) if (p["in"], p["name"]) == (location, name)]
    assert found, f"{location} parameter {name} is not documented"
    return found[0]


def _schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]


@pytest.mark.parametrize(
    ("path", "method"),
    [(RECORD, "patch"), (RECORD, "delete"), (RECORD + "restore/", "post")],
)
def test_if_match_is_documented_as_required(
    document: dict[str, Any], path: str, method: str
) -> None:
    """The server answers 428 without it: a client generated from the schema, which did not
    name it, could not change, delete or restore a record."""
    header = _parameter(document["paths"][path][method], "header", "If-Match")
    assert header["required"] is True


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        (RECORD, "get", "200"),
        (RECORD, "patch", "200"),
        (RECORD, "delete", "200"),
        (RECORD + "restore/", "post", "200"),
        ("/api/v1/ledgers/{code}/records/", "post", "201"),
    ],
)
def test_the_etag_answered_is_documented(
    document: dict[str, Any], path: str, method: str, status: str
) -> None:
    """The generation to send back in If-Match comes in ETag."""
    headers = document["paths"][path][method]["responses"][status].get("headers", {})
    assert "ETag" in headers
    # Always sent: a client may rely on it, and schemathesis's response_headers_conformance
    # checks that it is there (it checks only the headers the schema requires).
    assert headers["ETag"].get("required") is True


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_etag_answered_is_documented_as_always_sent(document: dict[str, Any]) -> None:
    """The ETag of an administrative document (a ledger, its fields and grants, a department,
    a staff member) comes with every answer that documents it, as a record's does."""
    documented = [
        (path, method, status, answer["headers"]["ETag"])
        for path, method, operation in _operations(document)
        for status, answer in operation["responses"].items()
        if "ETag" in answer.get("headers", {})
    ]
    assert len(documented) >= 20
    assert [entry[:3] for entry in documented if entry[3].get("required") is not True] == []


def test_retry_after_is_documented_where_it_is_answered(document: dict[str, Any]) -> None:
    """429 (rate limits, the token endpoint's lockout) and 409 (an Idempotency-Key still
    running, an audit verification running) come with ``Retry-After`` in seconds: the schema
    did not say so, and a client generated from it did not know to wait."""
    waits = [(path, method, "429") for path, method, _ in _operations(document)] + [
        ("/api/v1/ledgers/{code}/records/", "post", "409"),
        ("/api/v1/ledgers/{code}/records/bulk/", "post", "409"),
        ("/api/v1/audit/verify/", "post", "409"),
    ]
    for path, method, status in waits:
        answer = document["paths"][path][method]["responses"][status]
        header = answer.get("headers", {}).get("Retry-After")
        assert header is not None, (path, method, status)
        assert header["schema"]["type"] == "integer", (path, method, status)


def test_the_error_shape_s_code_is_documented_as_error_something(
    document: dict[str, Any],
) -> None:
    """``{"code": "ERROR_…"}``: the schema said any string, so that response_schema_conformance
    let any code through."""
    code = _schema(document, "ErrorShape")["properties"]["code"]
    assert code.get("pattern") == "^ERROR_[A-Z0-9_]+$"


def test_list_sizes_the_server_refuses_are_documented(document: dict[str, Any]) -> None:
    """An empty bulk request, one of more than 1,000 records, a webhook for no event: each
    is a 400 the schema did not foretell."""
    records = _schema(document, "BulkCreateRequest")["properties"]["records"]
    assert (records.get("minItems"), records.get("maxItems")) == (1, 1000)
    for name in ("WebhookCreateRequest", "PatchedWebhookUpdateRequest"):
        assert _schema(document, name)["properties"]["events"].get("minItems") == 1


def test_the_audit_trail_s_record_filter_is_documented_as_a_uuid(
    document: dict[str, Any],
) -> None:
    record = _parameter(document["paths"]["/api/v1/audit/events/"]["get"], "query", "record")
    assert record["schema"].get("format") == "uuid"


@pytest.mark.parametrize("path", ["/api/v1/departments/{code}/", "/api/v1/staff/{username}/"])
def test_put_is_documented_as_what_it_does_a_partial_change(
    document: dict[str, Any], path: str
) -> None:
    """PUT is PATCH there: it answered 200 to a body without the fields the schema called
    required (or to none), where the schema promised a 400."""
    body = document["paths"][path]["put"]["requestBody"]
    reference = body["content"]["application/json"]["schema"]["$ref"]
    assert not document["components"]["schemas"][reference.rsplit("/", 1)[1]].get("required")


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_a_write_on_a_deleted_record_is_a_documented_409(api: Any, city: dict, method: str) -> None:
    """A change or a second deletion of a deleted record is 409 ``ERROR_RECORD_STATE``: the
    schema named 200, 412 and 428 only, and a generated client had no answer for it."""
    clerk = api("clerk")
    record_id = city["record"].pk
    deleted = clerk.delete(records_url(record_id), {"reason": "誤登録"}, HTTP_IF_MATCH='"1"')
    assert deleted.status_code == 200
    body = {"values": {"amount": 2}} if method == "patch" else {"reason": "誤登録"}
    response = getattr(clerk, method)(records_url(record_id), body, HTTP_IF_MATCH='"2"')
    assert (response.status_code, response.json()["code"]) == (409, "ERROR_RECORD_STATE")
    assert_documented(response, RECORD, method)


SENSITIVITIES = {"public", "internal", "personal", "special_care"}
CAPABILITIES = {"view", "search", "create", "update", "delete", "export", "import", "print",
                "design", "audit"}  # fmt: skip
ROLES = {"viewer", "editor", "approver", "ledger_admin", "auditor", "city_admin"}
SCOPES = {"records:read", "records:write", "ledgers:design", "staff:admin", "audit:read", "*"}


@pytest.mark.parametrize(
    ("name", "path", "values"),
    [
        ("Field", ("sensitivity",), SENSITIVITIES),
        ("FieldRequest", ("sensitivity",), SENSITIVITIES),
        ("LedgerOut", ("sensitivity",), SENSITIVITIES),
        ("LedgerDocumentRequest", ("sensitivity",), SENSITIVITIES),
        ("PatchedLedgerPatchDocumentRequest", ("sensitivity",), SENSITIVITIES),
        ("LedgerOut", ("capabilities", "items"), CAPABILITIES),
        ("Grant", ("clearance",), SENSITIVITIES),
        ("GrantRequest", ("clearance",), SENSITIVITIES),
        ("Grant", ("capabilities", "items"), CAPABILITIES),
        ("GrantRequest", ("capabilities", "items"), CAPABILITIES),
        ("Grant", ("role",), ROLES),
        ("GrantRequest", ("role",), ROLES),
        ("MembershipOut", ("role",), ROLES),
        ("MeResponse", ("roles", "items"), ROLES),
        ("MeResponse", ("scopes", "items"), SCOPES),
        ("TokenOut", ("scopes", "items"), SCOPES),
        ("TokenResponse", ("scopes", "items"), SCOPES),
        ("TokenRequestRequest", ("scopes", "items"), SCOPES),
    ],
)
def test_closed_sets_are_documented_as_enums(
    document: dict[str, Any], name: str, path: tuple[str, ...], values: set[str]
) -> None:
    """Sensitivities, capabilities, roles and scopes are closed sets the server checks (400
    for any other): the schema said any string, so a client generated from it offered any,
    and response_schema_conformance let any answer through."""
    schema = _schema(document, name)["properties"]
    for step in path:
        schema = _resolved(document, schema[step])
    assert _enum(document, schema) - {None, ""} == values


def test_the_field_types_are_documented_as_an_enum(document: dict[str, Any]) -> None:
    """Those of the registry (a plug-in's too), as an answer names them (a repeating group
    as ``group``, the contract's id); a request takes their registry ids too."""
    from ledgers.fields.registry import field_type_registry

    types = {field_type.type for field_type in field_type_registry.types()}
    assert {"text", "person_name", "repeating_group", "department_flags"} <= types
    answered = _enum(document, _schema(document, "Field")["properties"]["type"])
    assert answered == types - {"repeating_group"} | {"group"}
    accepted = _enum(document, _schema(document, "FieldRequest")["properties"]["type"])
    assert accepted == types | {"group"}


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _schema(document, schema["$ref"].rsplit("/", 1)[1])
    return schema


def _enum(document: dict[str, Any], schema: dict[str, Any]) -> set[Any]:
    """The values an enum allows, through drf-spectacular's ``$ref``/``allOf``/``oneOf``."""
    schema = _resolved(document, schema)
    values = set(schema.get("enum", []))
    for part in schema.get("allOf", []) + schema.get("oneOf", []):
        values |= _enum(document, part)
    return values


@pytest.mark.parametrize("name", ["LedgerOut", "LedgerDocumentRequest"])
def test_a_search_screen_is_documented_with_its_matches_and_generations(
    document: dict[str, Any], name: str
) -> None:
    """A ledger's search screens were "objects": a client could not tell a criterion's
    ``match`` (exact, prefix, contains, range) or a screen's ``generations`` (current, all)
    from the schema, and a request's screen with a key the server refuses passed for
    valid."""
    screens = _schema(document, name)["properties"]["search_screens"]
    screen = _resolved(document, screens["items"])
    properties = screen["properties"]
    assert _enum(document, properties["generations"]) == {"current", "all"}
    criterion = _resolved(document, properties["criteria"]["items"])
    assert _enum(document, criterion["properties"]["match"]) == {
        "exact", "prefix", "contains", "range"
    }  # fmt: skip
    assert _resolved(document, properties["max_results"])["maximum"] == 1000
    if name == "LedgerDocumentRequest":
        assert screen.get("additionalProperties") is False
        assert set(screen["required"]) == {"code", "name", "criteria"}
    else:
        assert set(screen["required"]) >= {"code", "name", "generations", "criteria",
                                           "result_fields", "excluded_fields",
                                           "reason_required", "max_results"}  # fmt: skip


def test_every_401_documents_the_www_authenticate_it_answers(
    document: dict[str, Any], city: dict
) -> None:
    """Every 401 names the scheme to authenticate with (``Bearer realm="daicho"``); the
    schema did not say so, and nothing checked that a 401 kept it."""
    for path, method, operation in _operations(document):
        header = operation["responses"]["401"].get("headers", {}).get("WWW-Authenticate", {})
        assert header.get("required") is True, (path, method)
    answer = APIClient(HTTP_HOST=HOST).get("/api/v1/me/")
    assert (answer.status_code, answer["WWW-Authenticate"]) == (401, 'Bearer realm="daicho"')


def test_a_method_no_operation_documents_is_405_naming_those_that_are(
    api: Any, city: dict, document: dict[str, Any]
) -> None:
    """Every path of the schema, with each method it does not document: 405
    ``ERROR_METHOD_NOT_ALLOWED`` in the error shape, whose ``Allow`` lists exactly the
    documented methods (and HEAD, OPTIONS), as schemathesis's allow_header_conformance
    reads it. Checked on every path (one view had it, tests/api/test_access_regressions.py)."""
    admin = api("admin")
    named = {"code": "dv", "record_id": str(city["record"].pk), "screen": "latest", "key": "name",
             "username": "zei", "generation": "1", "prefix": "abc",
             "webhook_id": "00000000-0000-0000-0000-000000000000"}  # fmt: skip
    wrong = []
    for path, item in document["paths"].items():
        documented = {method.upper() for method in item if method in METHODS}
        url = path.replace("/departments/{code}/", "/departments/shimin/")
        for name, value in named.items():
            url = url.replace(f"{{{name}}}", value)
        for method in sorted({m.upper() for m in METHODS} - documented):
            answer = getattr(admin, method.lower())(url, {} if method != "GET" else None)
            allowed = {m.strip() for m in answer.get("Allow", "").split(",")} - {"HEAD", "OPTIONS"}
            if (
                answer.status_code != 405
                or answer["Content-Type"] != "application/json"
                or answer.json()["code"] != "ERROR_METHOD_NOT_ALLOWED"
                or allowed != documented
            ):
                wrong.append((method, path, answer.status_code, answer.get("Allow")))
    assert wrong == []
