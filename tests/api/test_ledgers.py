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
    replaced = designer.put(
        "/api/v1/ledgers/dv2/", {**document, "fields": document["fields"][:2], "search_screens": []}
    )
    assert replaced.status_code == 200
    assert [f["key"] for f in replaced.json()["fields"]] == ["name", "birth_date"]
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
