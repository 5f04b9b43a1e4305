"""/api/v1/ledgers/{code}/grants/: read and replace."""

from typing import Any


def test_read_and_replace_grants(api: Any) -> None:
    designer = api("designer")
    grants = designer.get("/api/v1/ledgers/dv/grants/").json()
    assert {
        "department": "shimin",
        "role": None,
        "capabilities": ["create", "delete", "export", "search", "update", "view"],
        "clearance": "special_care",
        "search_screens": None,
    } in grants
    replaced = designer.put(
        "/api/v1/ledgers/dv/grants/",
        [{"department": "soumu", "capabilities": ["design", "view"], "clearance": "special_care"},
         {"department": "shimin", "capabilities": ["view"], "clearance": "internal"}],
    )  # fmt: skip
    assert replaced.status_code == 200
    assert (
        api("clerk").post("/api/v1/ledgers/dv/records/", {"values": {"name": "x"}}).status_code
        == 403
    )
    assert api("clerk").get("/api/v1/ledgers/dv/grants/").status_code == 403


def test_invalid_grants_change_nothing(api: Any) -> None:
    response = api("designer").put(
        "/api/v1/ledgers/dv/grants/", [{"department": "nowhere", "capabilities": ["fly"]}]
    )
    assert response.status_code == 400
    assert len(api("designer").get("/api/v1/ledgers/dv/grants/").json()) == 4


def test_an_empty_role_is_every_role_as_the_schema_says(city: dict[str, Any]) -> None:
    """``"role": ""`` was taken as no role (every role of the department) while the schema
    said a role has at least one character, so a client generated from it could not send
    what the server accepts (noticed by the fuzzing review)."""
    from django.test import Client

    from tests.api.conftest import HOST

    document = Client(HTTP_HOST=HOST).get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    schemas = document.json()["components"]["schemas"]
    roles = [s["properties"]["role"] for n, s in schemas.items() if n.startswith("Grant")]
    assert roles
    assert all(role.get("minLength", 0) == 0 for role in roles), roles


def test_an_empty_role_reads_back_as_no_role(api: Any) -> None:
    designer = api("designer")
    replaced = designer.put(
        "/api/v1/ledgers/dv/grants/",
        [{"department": "soumu", "role": "", "capabilities": ["design", "view"]},
         {"department": "shimin", "role": None, "capabilities": ["view"]}],
    )  # fmt: skip
    assert replaced.status_code == 200
    grants = designer.get("/api/v1/ledgers/dv/grants/").json()
    assert {g["department"]: g["role"] for g in grants} == {"soumu": None, "shimin": None}
