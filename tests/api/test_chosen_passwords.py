"""A password someone else chose never becomes its owner's own: not by "changing" it to
itself, not away and back (tests/accounts/test_operator_boundary.py), and not with resets
in between, which once made the account forget every choice but the last."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_context

from tests.api.conftest import HOST

User = get_user_model()
TOLD_THE_OWNER = "Chosen-by-admin-1"  # the administrator's first choice, told to the owner


def _change(client: Client, old: str, new: str) -> Any:
    return client.post(
        "/accounts/password/",
        {"old_password": old, "new_password1": new, "new_password2": new},
        HTTP_HOST=HOST,
    )


def _as_the_owner(password: str) -> Client:
    """A browser signed in as the clerk with ``password`` (whoever knows it)."""
    client = Client()
    signed_in = client.post(
        "/accounts/login/", {"username": "clerk", "password": password}, HTTP_HOST=HOST
    )
    assert signed_in.status_code == 302, signed_in.content
    return client


@pytest.mark.parametrize("second", ["admin", "admin2"])
def test_a_second_reset_does_not_make_the_first_chosen_password_the_owner_s(
    city: dict[str, Any], api: Any, second: str
) -> None:
    """An administrator resets the clerk's password to P (and tells the clerk), signs in
    as the clerk with it and changes it to Q (P remembered as chosen), then has the
    password reset again to R (by themselves, or by a second administrator) and changes
    R back to P. P was no longer remembered: the clerk's flag was cleared and the clerk
    kept signing in with P, which the administrator knows, with nothing to change."""
    with schema_context("mitaka"):
        city["people"]["admin2"] = User.objects.create_user(
            username="admin2", password="S3cret!pass-api", is_city_admin=True
        )
    first = api("admin").patch("/api/v1/staff/clerk/", {"password": TOLD_THE_OWNER})
    assert first.status_code == 200, first.content
    away = _change(_as_the_owner(TOLD_THE_OWNER), TOLD_THE_OWNER, "Away-for-now-22")
    assert away.status_code == 302
    again = api(second).patch("/api/v1/staff/clerk/", {"password": "Reset-again-333"})
    assert again.status_code == 200, again.content

    back = _change(_as_the_owner("Reset-again-333"), "Reset-again-333", TOLD_THE_OWNER)
    assert back.status_code == 200
    assert "現在のパスワードと異なる" in back.content.decode()
    with schema_context("mitaka"):
        clerk = User.objects.get(username="clerk")
        assert clerk.must_change_password is True
        assert not clerk.check_password(TOLD_THE_OWNER)
