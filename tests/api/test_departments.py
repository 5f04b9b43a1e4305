"""/api/v1/departments/ and /api/v1/departments/{code}/."""

from typing import Any

from django_tenants.utils import schema_context

from daicho.accounts.models import Department
from ledgers.access.staff import department_update


def test_city_admin_creates_reads_and_renames(api: Any) -> None:
    admin = api("admin")
    created = admin.post("/api/v1/departments/", {"code": "kodomo", "name": "子ども支援課"})
    assert created.status_code == 201
    assert created.json() == {"code": "kodomo", "name": "子ども支援課", "active": True}
    assert admin.get("/api/v1/departments/kodomo/").json()["name"] == "子ども支援課"
    renamed = admin.patch("/api/v1/departments/kodomo/", {"name": "子ども家庭支援課"})
    assert renamed.json()["name"] == "子ども家庭支援課"
    codes = [d["code"] for d in admin.get("/api/v1/departments/").json()["results"]]
    assert "kodomo" in codes


def test_staff_cannot_create_departments_and_duplicates_are_refused(api: Any) -> None:
    assert (
        api("clerk").post("/api/v1/departments/", {"code": "x", "name": "x課"}).status_code == 403
    )
    duplicate = api("admin").post("/api/v1/departments/", {"code": "shimin", "name": "市民課"})
    assert duplicate.status_code == 400
    assert duplicate.json()["code"] == "ERROR_DIRECTORY_INVALID"
    assert api("admin").get("/api/v1/departments/none/").status_code == 404


def test_a_rename_read_before_a_department_was_switched_off_does_not_switch_it_on(
    city: dict[str, Any],
) -> None:
    """Found by a race review: department_update saved the department as the request had
    read it, so a rename read before another administrator switched the department off,
    and saved after, switched it on again, and with it every membership in it."""
    admin = city["people"]["admin"]
    with schema_context("mitaka"):
        as_read = Department.objects.get(code="shiminzei")
        department_update(
            actor=admin, department=Department.objects.get(code="shiminzei"), active=False
        )
        department_update(actor=admin, department=as_read, name="税務課")
        stored = Department.objects.get(code="shiminzei")
    assert (stored.active, stored.name) == (False, "税務課")


def test_a_code_in_the_body_that_is_not_the_path_s_is_refused_not_ignored(api: Any) -> None:
    """A department's code cannot change: PATCH (or PUT) /departments/shimin/ with
    {"code": "other", "name": …} answered 200, renamed it and kept the code, so the caller
    believed it had moved the department (found by schemathesis)."""
    admin = api("admin")
    for method in ("patch", "put"):
        moved = getattr(admin, method)("/api/v1/departments/shimin/", {"code": "x", "name": "x課"})
        assert moved.status_code == 400
        assert "code" in moved.json()["detail"]
    assert admin.get("/api/v1/departments/shimin/").json()["name"] == "市民課"  # unchanged
    same = admin.patch("/api/v1/departments/shimin/", {"code": "shimin", "name": "市民課"})
    assert same.status_code == 200
