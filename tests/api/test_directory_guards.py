"""The directory cannot lock the city out, tells in its audit events what it changed, and
a deactivation ends the account's tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_context

from ledgers.access.policy import is_city_admin
from ledgers.audit.context import TOKEN_KEY
from ledgers.audit.models import AuditEvent
from tests.api.conftest import HOST, Api

User = get_user_model()


def _city_admins() -> list[str]:
    with schema_context("mitaka"):
        return [u.username for u in User.objects.filter(is_active=True) if is_city_admin(u)]


def _second_admin(api: Any) -> Api:
    made = api("admin").post(
        "/api/v1/staff/",
        {"username": "ca2", "password": "Second-admin-pass-9",
         "memberships": [{"department": "soumu", "role": "city_admin", "valid_from": "2026-04-01"}]},
    )  # fmt: skip
    assert made.status_code == 201, made.content
    with schema_context("mitaka"):
        User.objects.filter(username="ca2").update(must_change_password=False)
        return Api(User.objects.get(username="ca2"))


def _last(action: str) -> AuditEvent:
    with schema_context("mitaka"):
        return AuditEvent.objects.filter(action=action).latest("seq")


def test_the_last_city_administrator_cannot_demote_itself(api: Any) -> None:
    ca2 = _second_admin(api)
    assert ca2.delete("/api/v1/staff/admin/").status_code == 200
    demoted = ca2.patch(
        "/api/v1/staff/ca2/",
        {"memberships": [{"department": "soumu", "role": "viewer", "valid_from": "2026-04-01"}]},
    )
    assert demoted.status_code == 400
    assert "city_admin" in demoted.json()["detail"]["errors"]
    assert _city_admins() == ["ca2"]


def test_the_last_city_administrator_cannot_switch_off_its_department(api: Any) -> None:
    ca2 = _second_admin(api)
    assert ca2.delete("/api/v1/staff/admin/").status_code == 200
    assert ca2.patch("/api/v1/departments/soumu/", {"active": False}).status_code == 400
    assert _city_admins() == ["ca2"]


def test_directory_changes_are_audited_with_what_changed(api: Any) -> None:
    admin = api("admin")
    moved = admin.patch(
        "/api/v1/staff/clerk/",
        {"memberships": [{"department": "soumu", "role": "viewer", "valid_from": "2026-04-01"}]},
    )
    assert moved.status_code == 200
    details = _last("staff.update").details
    assert details["memberships"]["before"][0]["department"] == "shimin"
    assert details["memberships"]["after"] == [
        {"department": "soumu", "role": "viewer", "valid_from": "2026-04-01", "valid_to": None}
    ]
    _second_admin(api)
    assert _last("staff.create").details["memberships"][0]["role"] == "city_admin"
    assert admin.patch("/api/v1/departments/shimin/", {"active": False}).status_code == 200
    changed = _last("department.update").details
    assert (changed["before"]["active"], changed["after"]["active"]) == (True, False)
    assert (
        api("designer").post("/api/v1/ledgers/", {"code": "mine", "name": "自課台帳"}).status_code
        == 201
    )
    granted = _last("grant.change")
    assert granted.ledger_code == "mine"
    assert granted.details["before"] == []
    assert granted.details["after"][0]["clearance"] == "special_care"


def test_names_are_audited_with_what_they_were_and_became(api: Any) -> None:
    """A display name is what every screen names a person by: a rename said only that it
    changed, and a created account or department named neither its name nor (staff) its
    username, so the trail could not tell who a staff member had been shown as."""
    admin = api("admin")
    made = admin.post(
        "/api/v1/staff/",
        {"username": "newbie", "display_name": "新人", "password": "Spring-2027-ok"},
    )
    assert made.status_code == 201
    created = _last("staff.create").details
    assert (created["username"], created["display_name"]) == ("newbie", "新人")
    assert admin.patch("/api/v1/staff/clerk/", {"display_name": "市民課 山田"}).status_code == 200
    renamed = _last("staff.update").details
    assert renamed["display_name"] == {"before": "clerk", "after": "市民課 山田"}
    assert "username" not in renamed  # no rename of the username here
    assert (
        admin.post("/api/v1/departments/", {"code": "shien", "name": "支援課"}).status_code == 201
    )
    assert _last("department.create").details["name"] == "支援課"


def test_a_deactivation_ends_the_account_s_tokens(api: Any) -> None:
    clerk, admin = api("clerk"), api("admin")
    assert admin.delete("/api/v1/staff/clerk/").status_code == 200
    assert clerk.get("/api/v1/me/").status_code == 401
    listed = admin.get("/api/v1/auth/tokens/", {"username": "clerk"}).json()["results"]
    assert [t["state"] for t in listed] == ["revoked"]
    assert admin.patch("/api/v1/staff/clerk/", {"active": True}).status_code == 200
    assert clerk.get("/api/v1/me/").status_code == 401  # reactivation revives no old token


def test_a_deactivation_ends_the_account_s_sessions(api: Any, city: dict[str, Any]) -> None:
    """A session cookie taken before the deactivation (perhaps its reason) signed in again
    with the reactivation, as a token did before tokens ended with it: Django only skips an
    inactive account's session, it does not end it."""
    admin, browser = api("admin"), Client(HTTP_HOST=HOST)
    with schema_context("mitaka"):
        browser.force_login(city["people"]["clerk"])
    assert browser.get("/api/v1/me/").json()["username"] == "clerk"
    assert admin.delete("/api/v1/staff/clerk/").status_code == 200
    assert _last("staff.update").details["sessions_ended"] == 1
    assert browser.get("/api/v1/me/").status_code in (401, 403)
    assert admin.patch("/api/v1/staff/clerk/", {"active": True}).status_code == 200
    assert browser.get("/api/v1/me/").status_code in (401, 403)  # the old session stays ended


def test_a_refused_change_or_read_of_the_directory_is_audited(api: Any) -> None:
    """A colleague who tried to give themself a role (a perpetrator in another department
    joining the support team, say) or to list the staff was answered 403 and left nothing
    in the trail: the auditors never saw the attempt. ``directory.refused`` names who
    tried, what, and on whom, as given (never a password, never the body)."""
    clerk, designer = api("clerk"), api("designer")
    clerk.client.raise_request_exception = designer.client.raise_request_exception = False
    with schema_context("mitaka"):
        seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    raised = clerk.patch(
        "/api/v1/staff/clerk/",
        {"password": "Taken-over-pass-1",
         "memberships": [{"department": "soumu", "role": "city_admin", "valid_from": "2026-04-01"}]},
    )  # fmt: skip
    assert raised.status_code == 403
    assert designer.get("/api/v1/staff/").status_code == 403
    assert designer.get("/api/v1/staff/nobody/").status_code == 403
    assert clerk.post("/api/v1/staff/", {"username": "mine", "password": "x"}).status_code == 403
    assert clerk.patch("/api/v1/departments/shimin/", {"name": "x"}).status_code == 403
    assert clerk.post("/api/v1/departments/", {"code": "x", "name": "x"}).status_code == 403
    with schema_context("mitaka"):
        events = [
            (e.actor.username, {k: v for k, v in e.details.items() if k != TOKEN_KEY})
            for e in AuditEvent.objects.filter(seq__gt=seq, action="directory.refused")
            .select_related("actor")
            .order_by("seq")
        ]
    assert events == [
        ("clerk", {"attempted": "staff.update", "username": "clerk"}),
        ("designer", {"attempted": "staff.list"}),
        ("designer", {"attempted": "staff.view", "username": "nobody"}),
        ("clerk", {"attempted": "staff.create", "username": "mine"}),
        ("clerk", {"attempted": "department.update", "code": "shimin"}),
        ("clerk", {"attempted": "department.create", "code": "x"}),
    ]


def test_a_list_body_is_a_400(api: Any) -> None:
    admin, designer = api("admin"), api("designer")
    admin.client.raise_request_exception = False
    designer.client.raise_request_exception = False
    assert admin.patch("/api/v1/staff/clerk/", [1, 2]).status_code == 400
    assert designer.put("/api/v1/ledgers/dv/", [1, 2]).status_code == 400
