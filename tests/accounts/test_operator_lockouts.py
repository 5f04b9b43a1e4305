"""django-axes' admin of the operators' sign-ins (lockouts, failed sign-ins) on the public host.

axes registered its admin for every operator given its permissions: one given "delete
access attempt" lifted any operator's lockout, the lockout that stopped them guessing a
superuser's password included, and one given "view" read every operator's failed
sign-ins. Now only a superuser sees them, lifts a lockout (recorded in the admin's log) or
runs an action; to any other operator they do not exist, whatever their permissions.
"""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

User = get_user_model()
PASSWORD = "Unyou-kanri-2026"
#: Everything axes' admin asks of an operator, given to Sato, who is no superuser.
AXES_PERMISSIONS = [f"{verb}_{model}" for verb in ("view", "change", "delete")
                    for model in ("accessattempt", "accesslog", "accessfailurelog")]  # fmt: skip
AXES_PAGES = ["/admin/axes/accessattempt/", "/admin/axes/accesslog/",
              "/admin/axes/accessfailurelog/"]  # fmt: skip


def _signed_in(username: str) -> Client:
    client = Client(HTTP_HOST="localhost")
    assert client.login(username=username, password=PASSWORD)
    return client


def _guess(username: str, times: int) -> list[int]:
    """``times`` wrong passwords for ``username`` on the admin's sign-in page."""
    guesser = Client(HTTP_HOST="localhost")
    return [
        guesser.post("/admin/login/", {"username": username, "password": "x" * 12}).status_code
        for _ in range(times)
    ]


@pytest.fixture
def people(cities: dict, db: None) -> dict[str, Any]:
    """Sato, an operator with every permission on axes' models but no superuser, and Kanri,
    the superuser, whose account Sato has been guessing until it locked."""
    sato = User.objects.create_user(username="sato", password=PASSWORD, is_staff=True)
    sato.user_permissions.set(Permission.objects.filter(codename__in=AXES_PERMISSIONS))
    kanri = User.objects.create_superuser(username="kanri", password=PASSWORD, email="")
    assert _guess("kanri", settings.AXES_FAILURE_LIMIT)[-1] == 429
    return {"sato": sato, "kanri": kanri}


def test_an_operator_cannot_lift_a_superuser_s_lockout(people: dict[str, Any]) -> None:
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    assert attempts
    sato = _signed_in("sato")
    (attempt,) = attempts
    assert sato.get(f"/admin/axes/accessattempt/{attempt}/delete/").status_code == 403
    assert sato.post(
        f"/admin/axes/accessattempt/{attempt}/delete/", {"post": "yes"}
    ).status_code == 403  # fmt: skip
    listed = sato.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert listed.status_code == 403
    cleaned = sato.post(
        "/admin/axes/accessattempt/",
        {"action": "cleanup_expired_attempts", "_selected_action": attempts},
    )
    assert cleaned.status_code == 403
    assert sorted(AccessAttempt.objects.values_list("pk", flat=True)) == attempts
    # Still locked: the guessing stops at the limit.
    assert _guess("kanri", 1) == [429]


@pytest.mark.parametrize("page", AXES_PAGES)
def test_an_operator_sees_no_one_s_sign_in_failures(people: dict[str, Any], page: str) -> None:
    sato = _signed_in("sato")
    assert sato.get(page).status_code == 403
    attempt = AccessAttempt.objects.get()
    assert sato.get(f"/admin/axes/accessattempt/{attempt.pk}/change/").status_code == 403
    index = sato.get("/admin/")
    assert index.status_code == 200
    assert "axes" not in [app["app_label"] for app in index.context["app_list"]]
    assert "/admin/axes/" not in index.content.decode()


def test_a_superuser_lifts_a_lockout_and_the_log_keeps_it(people: dict[str, Any]) -> None:
    kanri = _signed_in("kanri")
    listed = kanri.get("/admin/axes/accessattempt/")
    assert listed.status_code == 200
    assert "kanri" in listed.content.decode()
    attempt = AccessAttempt.objects.get()
    page = kanri.get(f"/admin/axes/accessattempt/{attempt.pk}/change/")
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    deleted = kanri.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not AccessAttempt.objects.exists()
    entry = LogEntry.objects.get(content_type__app_label="axes", object_id=str(attempt.pk))
    assert (entry.user.username, entry.action_flag) == ("kanri", DELETION)
    # The lockout is lifted: the right password signs in again.
    signed = Client(HTTP_HOST="localhost").post(
        "/admin/login/", {"username": "kanri", "password": PASSWORD}
    )
    assert signed.status_code == 302
