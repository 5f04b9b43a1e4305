"""/api/v1/staff/ and /api/v1/staff/{username}/."""

from typing import Any

from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from ledgers.access.staff import staff_update
from ledgers.audit.models import AuditEvent
from tests.conftest import ADMIN_PASSWORD


def test_create_read_update_deactivate(api: Any) -> None:
    admin = api("admin")
    created = admin.post(
        "/api/v1/staff/",
        {"username": "newcomer", "display_name": "新人", "password": "Spring-2027-ok",
         "memberships": [{"department": "shimin", "role": "editor", "valid_from": "2027-04-01", "valid_to": None}]},
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "password" not in body
    assert body["memberships"] == [
        {"department": "shimin", "role": "editor", "valid_from": "2027-04-01", "valid_to": None}
    ]
    moved = admin.patch(
        "/api/v1/staff/newcomer/",
        {
            "memberships": [
                {"department": "shiminzei", "role": "viewer", "valid_from": "2028-04-01"}
            ]
        },
    )
    assert moved.json()["memberships"][0]["department"] == "shiminzei"
    gone = admin.delete("/api/v1/staff/newcomer/")
    assert gone.json()["active"] is False
    with schema_context("mitaka"):
        assert get_user_model().objects.get(username="newcomer").is_active is False


def test_only_city_admins_and_bad_input_changes_nothing(api: Any) -> None:
    assert api("clerk").get("/api/v1/staff/").status_code == 403
    bad = api("admin").post(
        "/api/v1/staff/",
        {
            "username": "x1",
            "password": "short",
            "memberships": [
                {"department": "nowhere", "role": "editor", "valid_from": "2027-04-01"}
            ],
        },
    )
    assert bad.status_code == 400
    with schema_context("mitaka"):
        assert not get_user_model().objects.filter(username="x1").exists()


def test_a_password_an_administrator_chose_must_be_changed_too(
    city: dict[str, Any], api: Any
) -> None:
    admin = api("admin")
    created = admin.post(
        "/api/v1/staff/",
        {"username": "sato", "password": "Chosen-by-admin-1", "display_name": "佐藤"},
    )
    assert created.status_code == 201, created.content
    with schema_context("mitaka"):
        assert get_user_model().objects.get(username="sato").must_change_password is True
        get_user_model().objects.filter(username="sato").update(must_change_password=False)
    reset = admin.patch("/api/v1/staff/sato/", {"password": "Reset-by-admin-22"})
    assert reset.status_code == 200, reset.content
    with schema_context("mitaka"):
        assert get_user_model().objects.get(username="sato").must_change_password is True


def test_a_reset_by_an_administrator_revokes_the_account_s_tokens(
    city: dict[str, Any], api: Any
) -> None:
    """A reset is the answer to a taken-over account: the tokens whoever took it issued
    must end with the old password, as its sessions do. One's own change keeps them."""
    clerk = api("clerk")
    assert clerk.get("/api/v1/me/").status_code == 200
    reset = api("admin").patch("/api/v1/staff/clerk/", {"password": "Reset-by-admin-33"})
    assert reset.status_code == 200, reset.content
    assert clerk.get("/api/v1/me/").status_code == 401
    with schema_context("mitaka"):
        event = AuditEvent.objects.filter(action="staff.update").latest("seq")
        assert event.details["tokens_revoked"] == 1
        assert AuditEvent.objects.filter(action="auth.token_revoked").count() == 1
    zei = api("zei")
    own = zei.patch("/api/v1/staff/zei/", {"password": "Own-choice-of-zei-4"})
    # Only a city administrator changes staff through the API; zei is none: refused, and
    # its token lives on.
    assert own.status_code == 403
    assert zei.get("/api/v1/me/").status_code == 200


def test_an_administrator_s_own_change_keeps_its_tokens(city: dict[str, Any], api: Any) -> None:
    admin = api("admin")
    # With the current password (tests/api/test_own_password.py): a token alone sets none.
    own = admin.patch(
        "/api/v1/staff/admin/",
        {"password": "Own-choice-of-admin-5", "current_password": ADMIN_PASSWORD},
    )
    assert own.status_code == 200, own.content
    assert admin.get("/api/v1/me/").status_code == 200


def test_a_change_read_before_a_deactivation_does_not_make_the_account_active_again(
    city: dict[str, Any],
) -> None:
    """Found by a race review: staff_update saved the whole account as the request had read
    it. One administrator's change of a display name, read before another administrator
    deactivated the account and saved after, made it active again (its password working,
    with no audit event saying so). Each request is the view's: the account read, then the
    service called with it."""
    admin = city["people"]["admin"]
    users = get_user_model().objects
    with schema_context("mitaka"):
        as_read = users.get(username="clerk")
        staff_update(actor=admin, user=users.get(username="clerk"), active=False)
        answered = staff_update(actor=admin, user=as_read, display_name="市民課 担当")
        stored = users.get(username="clerk")
    assert (stored.is_active, stored.display_name) == (False, "市民課 担当")
    assert answered.is_active is False


def test_two_resets_at_once_keep_both_chosen_passwords(city: dict[str, Any]) -> None:
    """Found by a race review: the second reset, read before the first committed, saved the
    chosen passwords as it had read them, dropping the first: its owner could then go back
    to the password the first administrator knows."""
    admin = city["people"]["admin"]
    users = get_user_model().objects
    with schema_context("mitaka"):
        as_read = users.get(username="clerk")
        staff_update(actor=admin, user=users.get(username="clerk"), password="First-reset-2027")
        staff_update(actor=admin, user=as_read, password="Second-reset-2027")
        stored = users.get(username="clerk")
    assert stored.check_password("Second-reset-2027")
    assert stored.is_password_chosen_by_other("First-reset-2027")


def test_a_username_in_the_body_that_is_not_the_path_s_is_refused_not_ignored(
    api: Any,
) -> None:
    """PATCH /staff/zei/ with {"username": "clerk", …} answered 200 and changed zei: the
    body's name was read for the checks and ignored for the change (found by schemathesis)."""
    admin = api("admin")
    for method in ("patch", "put"):
        answer = getattr(admin, method)(
            "/api/v1/staff/zei/", {"username": "clerk", "display_name": "取り違え"}
        )
        assert answer.status_code == 400
        assert "username" in answer.json()["detail"]
    assert admin.get("/api/v1/staff/zei/").json()["display_name"] == "zei"  # unchanged
    same = admin.patch("/api/v1/staff/zei/", {"username": "zei", "display_name": "税 担当"})
    assert same.status_code == 200


def test_a_username_that_differs_only_by_case_or_width_is_taken(api: Any) -> None:
    """Tanaka beside tanaka, or ｃｌｅｒｋ (full width) beside clerk, read as one person in
    the audit trail and on every screen that names who did what: refused as taken, with the
    name already held, nothing created. A full-width name is stored as NFKC reads it, as
    Django's create_user does (before, each was a second account)."""
    admin = api("admin")
    with schema_context("mitaka"):
        before = get_user_model().objects.count()
    for username in ("Clerk", "CLERK", "ｃｌｅｒｋ", "Ｃｌｅｒｋ"):
        taken = admin.post("/api/v1/staff/", {"username": username, "password": "Spring-2027-ok"})
        assert taken.status_code == 400, (username, taken.content)
        assert taken.json()["detail"]["errors"] == {
            "username": ["ユーザー名「clerk」は既に使われています。"]
        }
    wide = admin.post("/api/v1/staff/", {"username": "ｙａｍａｄａ", "password": "Spring-2027-ok"})
    assert wide.status_code == 201, wide.content
    assert wide.json()["username"] == "yamada"
    with schema_context("mitaka"):
        assert get_user_model().objects.count() == before + 1


def _shimin(role: str, start: str, end: str | None = None) -> dict[str, Any]:
    return {"department": "shimin", "role": role, "valid_from": start, "valid_to": end}


def test_overlapping_memberships_of_one_department_and_role_are_400_and_change_nothing(
    api: Any,
) -> None:
    """Two memberships of the same department and role covering a common day were stored
    as given (the same entry twice, too): a list whose entries say one thing twice, which
    a later edit of one of them left in force through the other. 400, naming both
    entries, and nothing of the request written (its display name neither)."""
    admin = api("admin")
    admin.client.raise_request_exception = False
    with schema_context("mitaka"):
        events = AuditEvent.objects.filter(action="staff.update").count()
    for memberships, errors in (
        ([_shimin("editor", "2026-04-01"), _shimin("editor", "2026-04-01")], {2: 1}),
        ([_shimin("editor", "2026-04-01", "2027-03-31"), _shimin("editor", "2027-03-31")], {2: 1}),
        ([_shimin("viewer", "2027-04-01"), _shimin("viewer", "2026-04-01", "2028-03-31")], {2: 1}),
        (
            [_shimin("editor", "2026-04-01", "2026-12-31"), _shimin("editor", "2027-01-01"),
             _shimin("editor", "2026-06-01", "2026-06-30"), _shimin("approver", "2026-04-01")],
            {3: 1},
        ),
    ):  # fmt: skip
        refused = admin.patch(
            "/api/v1/staff/clerk/", {"display_name": "変更", "memberships": memberships}
        )
        assert refused.status_code == 400, refused.content
        assert refused.json()["code"] == "ERROR_DIRECTORY_INVALID"
        assert refused.json()["detail"]["errors"] == {
            f"memberships[{later}]": [
                f"memberships[{first}] と同じ課・役割で、期間が重なっています。"
            ]
            for later, first in errors.items()
        }
    after = admin.get("/api/v1/staff/clerk/").json()
    assert after["display_name"] == "clerk"
    assert after["memberships"] == [_shimin("editor", "2026-04-01")]
    with schema_context("mitaka"):
        assert AuditEvent.objects.filter(action="staff.update").count() == events
    # A handover in one department (one role ends, another begins the next day) and two
    # roles at once stay allowed.
    fine = [
        _shimin("editor", "2026-04-01", "2027-03-31"),
        _shimin("editor", "2027-04-01"),
        _shimin("approver", "2026-04-01"),
    ]
    assert admin.patch("/api/v1/staff/clerk/", {"memberships": fine}).status_code == 200


def test_a_huge_department_code_is_refused_without_being_echoed(api: Any) -> None:
    """An unknown department of any length was named back in the error (a 100 kB code made
    a 100 kB answer and log line); a department code is at most 64 characters."""
    admin = api("admin")
    admin.client.raise_request_exception = False
    refused = admin.post(
        "/api/v1/staff/",
        {"username": "x9", "password": "Spring-2027-ok",
         "memberships": [{"department": "x" * 100_000, "role": "editor", "valid_from": "2026-04-01"}]},
    )  # fmt: skip
    assert refused.status_code == 400
    assert len(refused.content) < 1000
    with schema_context("mitaka"):
        assert not get_user_model().objects.filter(username="x9").exists()


def test_an_unknown_role_is_refused_without_being_echoed(api: Any) -> None:
    """DRF's choice field named the value back ("…" は有効な選択肢ではありません): a 100 kB
    role made a 100 kB answer. The error lists the roles instead, whatever was sent."""
    admin = api("admin")
    admin.client.raise_request_exception = False
    refused = admin.patch(
        "/api/v1/staff/clerk/",
        {"memberships": [{"department": "shimin", "role": "r" * 100_000, "valid_from": "2026-04-01"}]},
    )  # fmt: skip
    assert refused.status_code == 400
    assert len(refused.content) < 1000
    (message,) = refused.json()["detail"]["memberships"]["0"]["role"]
    assert "city_admin" in message
    assert "r" * 20 not in message
