"""GET /api/v1/me/."""

from typing import Any


def test_me_lists_departments_and_roles(api: Any) -> None:
    body = api("clerk").get("/api/v1/me/").json()
    assert body["username"] == "clerk"
    assert body["departments"] == ["shimin"]
    assert body["roles"] == ["editor"]
    assert body["memberships"][0]["department_name"] == "市民課"
    assert body["is_city_admin"] is False
    assert api("admin").get("/api/v1/me/").json()["is_city_admin"] is True
