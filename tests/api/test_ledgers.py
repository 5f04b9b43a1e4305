"""/api/v1/ledgers/ and /api/v1/ledgers/{code}/: definitions as one document."""

from typing import Any

import pytest

from tests.api.conftest import DV_DOCUMENT


def test_list_shows_only_ledgers_the_caller_may_use(api: Any) -> None:
    assert [
        ledger["code"] for ledger in api("clerk").get("/api/v1/ledgers/").json()["results"]
    ] == ["dv"]
    assert api("admin").get("/api/v1/ledgers/dv/").status_code == 200  # design, as city admin


def test_create_and_replace_a_whole_definition(api: Any) -> None:
    designer = api("designer")
    document = {**DV_DOCUMENT, "code": "dv2", "name": "DV台帳（試行）"}
    created = designer.post("/api/v1/ledgers/", document)
    assert created.status_code == 201, created.json()
    assert [f["key"] for f in created.json()["fields"]] == [f["key"] for f in DV_DOCUMENT["fields"]]
    disclosure = next(f for f in document["fields"] if f["key"] == "disclosure")
    replaced = designer.put(
        "/api/v1/ledgers/dv2/",
        {**document, "fields": [*document["fields"][:2], disclosure], "search_screens": []},
    )
    assert replaced.status_code == 200
    assert [f["key"] for f in replaced.json()["fields"]] == ["name", "birth_date", "disclosure"]
    assert replaced.json()["definition_version"] == 2
    # A screen may not name a field the document removes.
    kept_screens = designer.put(
        "/api/v1/ledgers/dv2/", {**document, "fields": document["fields"][:1]}
    )
    assert kept_screens.status_code == 400
    assert any(k.startswith("search_screens") for k in kept_screens.json()["detail"]["errors"])


def test_invalid_document_is_refused_with_errors(api: Any) -> None:
    response = api("designer").post("/api/v1/ledgers/", {**DV_DOCUMENT, "code": "Bad Code"})
    assert response.status_code == 400
    assert response.json()["code"] == "ERROR_DEFINITION_INVALID"
    assert "code" in response.json()["detail"]["errors"]
    assert api("clerk").post("/api/v1/ledgers/", {**DV_DOCUMENT, "code": "x"}).status_code == 403


@pytest.mark.parametrize(
    "attributes",
    [{"sensitivity": {}}, {"sensitivity": ["personal"]}, {"type": {}}, {"type": ["text"]}],
)
def test_a_field_attribute_of_the_wrong_shape_is_refused_not_a_server_error(
    api: Any, attributes: dict[str, Any]
) -> None:
    """Found by the schemathesis run: an object where a text belongs raised TypeError."""
    field = {**DV_DOCUMENT["fields"][0], **attributes}
    document = {**DV_DOCUMENT, "code": "shape", "fields": [field], "search_screens": []}
    response = api("designer").post("/api/v1/ledgers/", document)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "ERROR_DEFINITION_INVALID"
    assert list(response.json()["detail"]["errors"]) == ["fields[1]（name）"]
    assert api("designer").get("/api/v1/ledgers/shape/").status_code == 404  # nothing written


def test_unknown_ledger_is_404(api: Any) -> None:
    response = api("clerk").get("/api/v1/ledgers/nothing/")
    assert response.status_code == 404
    assert response.json()["code"] == "ERROR_LEDGER_DOES_NOT_EXIST"


def test_the_disclosure_field_cannot_be_removed(api: Any, city: dict[str, Any]) -> None:
    """Without its 照会可否 field every department with view would see every record: no
    document, field removal or type change takes it away."""
    designer = api("designer")
    current = designer.get("/api/v1/ledgers/dv/").json()
    dropped = designer.put(
        "/api/v1/ledgers/dv/",
        {"name": current["name"], "layout": current["layout"], "search_screens": current["search_screens"],
         "fields": [f for f in current["fields"] if f["key"] != "disclosure"]},
    )  # fmt: skip
    assert dropped.status_code == 400
    assert "照会可否の項目は削除できません" in str(dropped.json()["detail"]["errors"])
    removed = designer.delete("/api/v1/ledgers/dv/fields/disclosure/")
    assert removed.status_code == 400
    assert api("zei").get(f"/api/v1/ledgers/dv/records/{city['record'].pk}/").status_code == 404


@pytest.mark.parametrize("key", ["amount\n", "state", "cursor", "deleted", "as_of", "a__gte"])
def test_a_new_field_key_the_api_could_not_address_is_refused(api: Any, key: str) -> None:
    response = api("designer").post(
        "/api/v1/ledgers/dv/fields/", {"key": key, "label": "x", "type": "text"}
    )
    assert response.status_code == 400, response.content


def test_a_group_sub_field_keeps_its_type(api: Any) -> None:
    designer = api("designer")
    subs = designer.get("/api/v1/ledgers/dv/fields/offenders/").json()["fields"]
    changed = [
        {**sub, "type": "date", "options": {}} if sub["key"] == "relation" else sub for sub in subs
    ]
    response = designer.patch("/api/v1/ledgers/dv/fields/offenders/", {"fields": changed})
    assert response.status_code == 400, response.content
    assert "offenders.relation" in str(response.json()["detail"]["errors"])


@pytest.mark.parametrize("how", ["patch", "put"])
def test_a_group_sub_field_dropped_and_added_again_keeps_its_type(
    api: Any, city: dict[str, Any], how: str
) -> None:
    """Dropping 続柄 from 加害者 and adding it back as a name passed (the check compared with
    the version before only), and every record holding a 続柄 became a server error on
    any change: its stored text was indexed as a name. Added back with its own type is
    fine."""
    designer = api("designer")
    clerk = api("clerk")
    clerk.client.raise_request_exception = False
    subs = designer.get("/api/v1/ledgers/dv/fields/offenders/").json()["fields"]
    name = next(sub for sub in subs if sub["key"] == "name")
    relation = next(sub for sub in subs if sub["key"] == "relation")
    assert (
        designer.patch("/api/v1/ledgers/dv/fields/offenders/", {"fields": [name]}).status_code
        == 200
    )

    def add_back(sub: dict[str, Any]) -> Any:
        if how == "patch":
            return designer.patch("/api/v1/ledgers/dv/fields/offenders/", {"fields": [name, sub]})
        document = designer.get("/api/v1/ledgers/dv/").json()
        for field in document["fields"]:
            if field["key"] == "offenders":
                field["fields"] = [name, sub]
        return designer.put("/api/v1/ledgers/dv/", document)

    retyped = add_back({"key": "relation", "label": "続柄", "type": "person_name"})
    assert retyped.status_code == 400, retyped.content
    assert "offenders.relation" in str(retyped.json()["detail"]["errors"])
    record = city["record"]
    changed = clerk.patch(
        f"/api/v1/ledgers/dv/records/{record.pk}/", {"values": {"amount": 5}}, HTTP_IF_MATCH='"1"'
    )
    assert changed.status_code == 200, changed.content
    assert add_back(relation).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "/api/v1/ledgers/dv/grants/", [{"department": ["shimin"], "capabilities": ["view"]}]),
        ("put", "/api/v1/ledgers/dv/grants/", [{"role": ["editor"], "capabilities": ["view"]}]),
        ("put", "/api/v1/ledgers/dv/grants/",
         [{"department": "shimin", "capabilities": ["view"], "clearance": ["personal"]}]),
        ("put", "/api/v1/ledgers/dv/grants/", [{"department": "shimin", "capabilities": 5}]),
        ("put", "/api/v1/ledgers/dv/grants/", [{"department": "shimin", "capabilities": [["view"]]}]),
        ("put", "/api/v1/ledgers/dv/",
         {"name": "x", "fields": [{"key": "a", "label": "a", "type": "text"}],
          "search_screens": [{"code": "s", "name": "s", "generations": ["all"],
                              "criteria": [{"field": "a"}]}]}),
        ("put", "/api/v1/ledgers/dv/",
         {"name": "x", "fields": [{"key": "a", "label": "a", "type": "text"}],
          "search_screens": [{"code": "s", "name": "s",
                              "criteria": [{"field": "a", "match": ["exact"]}]}]}),
        ("post", "/api/v1/ledgers/dv/fields/", ["key", "a"]),
        ("post", "/api/v1/ledgers/dv/fields/", 5),
        ("patch", "/api/v1/ledgers/dv/fields/amount/", "text"),
        # Options, layout rows, keys and screen paths of the wrong JSON kinds (TypeErrors).
        ("post", "/api/v1/ledgers/dv/fields/", {"key": "g", "label": "g", "type": "group", "fields": "abc"}),
        ("post", "/api/v1/ledgers/dv/fields/",
         {"key": "g", "label": "g", "type": "group", "options": {"fields": [{"key": "a", "label": "a", "type": "text"}]}, "fields": 5}),
        ("patch", "/api/v1/ledgers/dv/fields/amount/", {"options": 5}),
        ("patch", "/api/v1/ledgers/dv/fields/offenders/", {"options": {"fields": 5}}),
        ("patch", "/api/v1/ledgers/dv/fields/offenders/", {"fields": [5]}),
        ("put", "/api/v1/ledgers/dv/",
         {"name": "x", "fields": [{"key": "a", "label": "a", "type": "text"}], "layout": {"sections": [{"rows": [[["a"]]]}]}}),
        ("put", "/api/v1/ledgers/dv/",
         {"name": "x", "fields": [{"key": "a", "label": "a", "type": "text"}], "layout": {"sections": [{"rows": [[{"a": 1}]]}]}}),
        ("put", "/api/v1/ledgers/dv/", {"name": "x", "fields": [{"key": ["a"], "label": "a", "type": "text"}]}),
        ("put", "/api/v1/ledgers/dv/",
         {"name": "x", "fields": [{"key": "a", "label": "a", "type": "text"}], "search_screens": [
             {"code": "s", "name": "s", "criteria": [{"field": "a"}], "excluded_fields": [["a"]]}]}),
        ("put", "/api/v1/ledgers/dv/",
         {"name": "x", "fields": [{"key": "a", "label": "a", "type": "text"}], "search_screens": [
             {"code": "s", "name": "s", "criteria": [{"field": "a"}], "result_fields": [["a"]]}]}),
        ("put", "/api/v1/ledgers/dv/",
         {"name": "x", "fields": [{"key": "a", "label": "a", "type": "text"}], "search_screens": [
             {"code": "s", "name": "s", "criteria": [{"field": "a"}], "excluded_fields": "a"}]}),
        # Help text and section must be text (an object was stored as its repr).
        ("post", "/api/v1/ledgers/dv/fields/", {"key": "memo", "label": "メモ", "type": "text", "help_text": {"a": 1}}),
        ("patch", "/api/v1/ledgers/dv/fields/amount/", {"section": ["x"]}),
        ("patch", "/api/v1/ledgers/dv/fields/amount/", {"help_text": "長" * 2001}),
    ],
)  # fmt: skip
def test_hostile_definition_input_is_a_400(api: Any, method: str, path: str, body: Any) -> None:
    designer = api("designer")
    designer.client.raise_request_exception = False
    response = getattr(designer, method)(path, body)
    assert response.status_code == 400, response.content
    assert response.json()["code"].startswith("ERROR_")


def test_the_ledger_list_costs_the_same_queries_for_any_number_of_ledgers(
    api: Any, city: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    """Each ledger's capabilities as policy_for gives them, from one query for every grant
    (it asked two or three per ledger)."""
    from django_tenants.utils import schema_context

    from ledgers.access.policy import capabilities_by_ledger, policy_for
    from ledgers.definitions.models import Ledger
    from ledgers.definitions.services import ledger_create

    designer = city["people"]["designer"]
    with schema_context("mitaka"):
        for index in range(12):
            ledger_create(actor=designer, code=f"extra{index}", name=f"台帳{index}")
        ledgers = list(Ledger.objects.order_by("code"))
        for who in ("designer", "clerk", "zei", "admin", "auditor"):
            user = city["people"][who]
            assert capabilities_by_ledger(user, ledgers) == {
                ledger.pk: policy_for(user, ledger).capabilities for ledger in ledgers
            }, who
    client = api("designer")
    client.get("/api/v1/ledgers/")  # warm: token and city cached
    with django_assert_max_num_queries(8):
        listed = client.get("/api/v1/ledgers/")
    assert len(listed.json()["results"]) == 13


_FIELD = {"key": "memo", "label": "メモ", "type": "text"}


@pytest.mark.parametrize("bad", ["a\u0000b", "a\ud800b", "a\u001bb"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/ledgers/dv/fields/", {**_FIELD, "label": "{bad}"}),
        ("post", "/api/v1/ledgers/dv/fields/", {**_FIELD, "help_text": "{bad}"}),
        ("post", "/api/v1/ledgers/dv/fields/", {**_FIELD, "section": "{bad}"}),
        ("post", "/api/v1/ledgers/dv/fields/",
         {"key": "kind", "label": "区分", "type": "choice", "options": {"choices": ["{bad}"]}}),
        ("post", "/api/v1/ledgers/dv/fields/",
         {"key": "rows", "label": "行", "type": "group", "fields": [{**_FIELD, "label": "{bad}"}]}),
        ("patch", "/api/v1/ledgers/dv/fields/disclosure/",
         {"options": {"departments": ["shimin", "shiminzei", "{bad}"]}}),
        ("put", "/api/v1/ledgers/dv/",
         {"name": "x", "fields": [_FIELD], "layout": {"sections": [{"title": "{bad}", "rows": [["memo"]]}]}}),
        ("put", "/api/v1/ledgers/dv/",
         {"name": "x", "fields": [_FIELD], "search_screens": [
             {"code": "s", "name": "{bad}", "criteria": [{"field": "memo"}]}]}),
        ("put", "/api/v1/ledgers/dv/",
         {"name": "x", "fields": [_FIELD], "search_screens": [
             {"code": "s", "name": "s", "criteria": [{"field": "memo", "label": "{bad}"}]}]}),
        ("patch", "/api/v1/ledgers/dv/", {"description": "{bad}"}),
        ("post", "/api/v1/ledgers/", {"code": "memo", "name": "メモ", "fields": [{**_FIELD, "label": "{bad}"}]}),
    ],
)  # fmt: skip
def test_a_definition_text_that_cannot_be_stored_is_a_400(
    api: Any, city: dict[str, Any], method: str, path: str, body: Any, bad: str
) -> None:
    """A NUL (which PostgreSQL's jsonb refuses), a lone surrogate (which UTF-8 cannot
    encode) or a control character in a label, a help text, a choice, a department code, a
    section or screen title or a description was a server error that logged the failing
    statement (the whole definition); nothing may be written."""
    import json

    from django_tenants.utils import schema_context

    from ledgers.definitions.models import Ledger

    designer = api("designer")
    designer.client.raise_request_exception = False
    raw = json.dumps(body).replace("{bad}", json.dumps(bad)[1:-1])
    response = getattr(designer.client, method)(path, raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"].startswith("ERROR_")
    with schema_context("mitaka"):
        ledger = Ledger.objects.get(code="dv")
        assert ledger.definition_version == 1
        assert ledger.description == ""
        assert not Ledger.objects.filter(code="memo").exists()


def test_a_refused_put_changes_nothing(api: Any, city: dict[str, Any]) -> None:
    """A PUT whose definition is refused (400) kept its name, retention and sensitivity:
    they were written (and audited) before the document was checked. A retention cut to
    one year by a request answered as an error."""
    from django_tenants.utils import schema_context

    from ledgers.audit.models import AuditEvent
    from ledgers.definitions.models import Ledger

    designer = api("designer")
    response = designer.put(
        "/api/v1/ledgers/dv/",
        {"name": "改名", "retention_years": 1, "sensitivity": "internal",
         "fields": [{"key": "memo", "label": "メモ", "type": "no_such_type"}]},
    )  # fmt: skip
    assert response.status_code == 400, response.content
    with schema_context("mitaka"):
        ledger = Ledger.objects.get(code="dv")
        assert (ledger.name, ledger.retention_years, ledger.sensitivity) == (
            "DV等支援措置台帳", 5, "personal",
        )  # fmt: skip
        assert not AuditEvent.objects.filter(action="ledger.update").exists()


def test_a_group_reads_back_as_the_contract_writes_it(api: Any) -> None:
    """A group was answered as `"type": "repeating_group"` with its sub-fields in options:
    a type id the contract does not list and no `fields` beside it, in every definition a
    client read. The document read back is written back as it is."""
    designer = api("designer")
    contract_types = {
        "text", "long_text", "integer", "decimal", "date", "datetime", "boolean", "choice",
        "multi_choice", "person_name", "postal_code", "address", "phone", "email", "my_number",
        "file", "department_flags", "group", "reference",
    }  # fmt: skip
    document = designer.get("/api/v1/ledgers/dv/").json()
    assert {f["type"] for f in document["fields"]} <= contract_types
    offenders = next(f for f in document["fields"] if f["key"] == "offenders")
    assert offenders["type"] == "group"
    assert [sub["key"] for sub in offenders["fields"]] == ["name", "relation"]
    for path in ("/api/v1/ledgers/dv/fields/offenders/", "/api/v1/ledgers/dv/fields/"):
        answer = designer.get(path).json()
        field = answer if "key" in answer else answer["results"][-1]
        assert (field["type"], field["fields"]) == ("group", offenders["fields"])
        assert "fields" not in field["options"]
    written = {k: document[k] for k in ("code", "name", "category", "fields", "search_screens")}
    replaced = designer.put("/api/v1/ledgers/dv/", written)
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["fields"] == document["fields"]


def test_a_group_given_two_different_lists_of_sub_fields_is_refused(api: Any) -> None:
    # A client that edited the sub-fields where they were answered before (options.fields)
    # while `fields` holds the ones read: neither edit may be dropped unsaid.
    designer = api("designer")
    document = designer.get("/api/v1/ledgers/dv/").json()
    offenders = next(f for f in document["fields"] if f["key"] == "offenders")
    offenders["options"]["fields"] = offenders["fields"][:1]
    written = {k: document[k] for k in ("code", "name", "category", "fields", "search_screens")}
    response = designer.put("/api/v1/ledgers/dv/", written)
    assert response.status_code == 400
    assert "options.fields" in str(response.json()["detail"])


@pytest.mark.parametrize(
    ("criterion", "extra"),
    [
        # A whole group: its rows are indexed per sub-field only, so the screen found nothing
        # for any term — a 加害者検索 so written told the desk "not registered" every time.
        ({"field": "offenders", "match": "exact"}, {}),
        # A misspelt "match" was dropped and the criterion matched by contains, wider than
        # the designer wrote.
        ({"field": "offenders.name", "mach": "exact"}, {}),
        # Kept as its Python spelling ("{'ja': '氏名'}"), shown as the criterion's label.
        ({"field": "offenders.name", "label": {"ja": "氏名"}}, {}),
        ({"field": "offenders.name"}, {"description": ["加害者の氏名で"]}),
    ],
)
def test_a_search_screen_of_the_wrong_shape_is_refused_and_nothing_written(
    api: Any, criterion: dict[str, Any], extra: dict[str, Any]
) -> None:
    """A search screen's criterion naming a group, holding an attribute no criterion has, or
    a label or description that is no text was taken with a 200 (a dead criterion, a match
    other than the one written, a label spelt as a Python dict): 400, no new version."""
    designer = api("designer")
    current = designer.get("/api/v1/ledgers/dv/").json()
    screen = {"code": "check", "name": "確認", "criteria": [criterion], **extra}
    document = {k: current[k] for k in ("name", "layout", "fields")}
    document["search_screens"] = [*current["search_screens"], screen]
    response = designer.put("/api/v1/ledgers/dv/", document)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "ERROR_DEFINITION_INVALID"
    assert list(response.json()["detail"]["errors"]) == ["search_screens[4]"]
    assert designer.get("/api/v1/ledgers/dv/").json()["definition_version"] == 1


@pytest.mark.parametrize(
    ("method", "body"),
    [
        # "search_screen" for "search_screens": read as no screen, every screen removed.
        ("put", {"search_screen": []}),
        # "feilds": read as no field, every field removed from the forms and the answers.
        ("put", {"feilds": []}),
        ("patch", {"retention": 1}),
    ],
)
def test_a_document_key_the_api_does_not_know_is_refused_and_nothing_written(
    api: Any, method: str, body: dict[str, Any]
) -> None:
    """A definition document's key the API neither reads nor answers was dropped unsaid:
    a misspelt search_screens or fields in a PUT replaced them with none (a 200, version 2,
    加害者検索 gone), a misspelt retention_years in a PATCH changed nothing with a 200. The
    keys a read answers (definition_version, capabilities, runnable_search_screens) are
    still taken, so a document read back is sent back as it is."""
    designer = api("designer")
    current = designer.get("/api/v1/ledgers/dv/").json()
    document = {**current, **body}
    if "search_screen" in body:
        document["search_screen"] = current["search_screens"]
        del document["search_screens"]
    if "feilds" in body:
        document["feilds"] = current["fields"]
        del document["fields"]
    response = getattr(designer, method)("/api/v1/ledgers/dv/", document)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "ERROR_DEFINITION_INVALID"
    assert list(response.json()["detail"]["errors"]) == [next(iter(body))]
    after = designer.get("/api/v1/ledgers/dv/").json()
    assert after == current
    read_back = designer.put("/api/v1/ledgers/dv/", current)
    assert read_back.status_code == 200, read_back.content
