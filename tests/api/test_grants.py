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
