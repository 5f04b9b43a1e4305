"""One's own password through the API takes the current one, as the screen does.

Found by the replay review of 2026-11-30: a city administrator's token (``staff:admin`` or
``*``) set its owner's password with ``PATCH /api/v1/staff/<own username>/`` and nothing
else. Whoever had captured the token (a log, a shared RPA machine) turned it into the
password: the account for good, signed in on the screen, the owner shut out, and the
token itself kept (one's own change revokes none). The screen (``/accounts/password/``)
and the operators' admin asked for the current password; the API did not."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership, Role
from ledgers.access.staff import DirectoryInvalid, staff_update
from ledgers.audit.models import AuditEvent
from tests.conftest import ADMIN_PASSWORD

NEW = "Own-choice-of-admin-77"
ADMIN = "/api/v1/staff/admin/"


def _admin_password_is(password: str) -> bool:
    with schema_context("mitaka"):
        return get_user_model().objects.get(username="admin").check_password(password)


def test_a_token_alone_does_not_set_its_owner_s_password(api: Any) -> None:
    admin = api("admin")
    refused = admin.patch(ADMIN, {"password": NEW})
    assert refused.status_code == 400, refused.content
    assert refused.json()["code"] == "ERROR_DIRECTORY_INVALID"
    assert "current_password" in refused.json()["detail"]["errors"]
    assert _admin_password_is(ADMIN_PASSWORD)


def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failed_sign_in(
    api: Any,
) -> None:
    admin = api("admin")
    with schema_context("mitaka"):
        failed = AuditEvent.objects.filter(action="auth.login_failed").count()
    refused = admin.patch(ADMIN, {"password": NEW, "current_password": "a-guess-1234"})
    assert refused.status_code == 400, refused.content
    assert "current_password" in refused.json()["detail"]["errors"]
    assert "a-guess-1234" not in refused.content.decode()
    assert _admin_password_is(ADMIN_PASSWORD)
    with schema_context("mitaka"):
        assert AuditEvent.objects.filter(action="auth.login_failed").count() == failed + 1


def test_with_the_current_password_the_change_is_made_and_the_token_kept(api: Any) -> None:
    admin = api("admin")
    changed = admin.patch(ADMIN, {"password": NEW, "current_password": ADMIN_PASSWORD})
    assert changed.status_code == 200, changed.content
    assert _admin_password_is(NEW)
    assert admin.get("/api/v1/me/").status_code == 200


def test_a_reset_committed_after_the_check_is_not_written_over(city: dict[str, Any]) -> None:
    """The owner's change is made only to the password its current one was checked
    against: a reset by another administrator in between (the answer to a taken-over
    account) stands, as on the screen (``PasswordChangedMeanwhile``)."""
    users = get_user_model().objects
    with schema_context("mitaka"):
        admin = users.get(username="admin")
        checked = admin.password  # as the view's authenticate() read it
        staff_update(actor=admin, user=users.get(username="zei"), password="Unused-reset-1")
        other = users.create_user(username="ca2", password="Second-admin-pass-2")
        Membership.objects.create(
            user=other, department=city["departments"]["soumu"], role=Role.CITY_ADMIN,
            valid_from="2026-04-01",
        )  # fmt: skip
        staff_update(actor=other, user=users.get(username="admin"), password="Reset-by-ca2-3")
        with pytest.raises(DirectoryInvalid) as refused:
            staff_update(actor=admin, user=admin, password=NEW, own_password_checked=checked)
        assert "current_password" in refused.value.errors
        assert users.get(username="admin").check_password("Reset-by-ca2-3")
