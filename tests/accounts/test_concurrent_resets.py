"""An administrator's reset racing what the account's holder does with the old password:
a reset is the answer to a taken-over account, and nothing started with the password it
replaces may outlive it. Real threads on their own database connections, in a city whose
rows commit (the other tests roll back)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from daicho.accounts.models import Department, Membership, Role
from ledgers.access.staff import staff_update
from ledgers.api.tokens.models import ApiToken
from ledgers.api.tokens.services import token_issue
from tests.accounts.conftest import STAFF_PASSWORD
from tests.conftest import FUCHU, City

OLD = "Old-password-2026"
RESET = "Reset-by-admin-2027"
User = get_user_model()


def _member(username: str) -> Any:
    with schema_context(FUCHU.slug):
        user = User.objects.create_user(username=username, password=OLD, display_name=username)
        Membership.objects.create(
            user=user,
            department=Department.objects.get(code="shimin"),
            role=Role.EDITOR,
            valid_from=date(2020, 4, 1),
        )
        return user


def _reset(username: str) -> None:
    admin = User.objects.get(username="admin")
    staff_update(actor=admin, user=User.objects.get(username=username), password=RESET)


def _held_open(work: Callable[[], None], done: threading.Event, go: threading.Event) -> None:
    """``work`` in a transaction of its own that stays open until ``go``."""
    try:
        with schema_context(FUCHU.slug), transaction.atomic():
            work()
            done.set()
            assert go.wait(timeout=10)
    finally:
        done.set()
        connection.close()


def _in_thread(target: Callable[[], None]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _live_tokens(username: str) -> int:
    with schema_context(FUCHU.slug):
        return ApiToken.objects.filter(user__username=username, revoked_at__isnull=True).count()


def test_a_token_asked_for_with_the_password_a_reset_is_replacing_is_refused(
    fuchu: None, django_db_blocker: Any
) -> None:
    """Found by a race review: POST /api/v1/auth/token/ checked the old password while the
    reset was in flight and committed its token after it; the reset had revoked the tokens
    live at its commit, so whoever it was meant to shut out kept a 90-day token."""
    with django_db_blocker.unblock():
        _member("yamada")
        done, go, answers = threading.Event(), threading.Event(), []
        resetting = _in_thread(lambda: _held_open(lambda: _reset("yamada"), done, go))
        assert done.wait(timeout=10)
        asking = _in_thread(
            lambda: answers.append(
                APIClient(HTTP_HOST=FUCHU.domain).post(
                    "/api/v1/auth/token/", {"username": "yamada", "password": OLD}, format="json"
                )
            )
        )
        asking.join(timeout=2)  # checked the old password; waits for the reset, if it must
        go.set()
        resetting.join(timeout=10)
        asking.join(timeout=10)
        assert answers[0].status_code == 401, answers[0].json()
        assert answers[0].json()["code"] == "ERROR_TOKEN_ACCOUNT_CHANGED"
        assert answers[0].has_header("WWW-Authenticate")
        assert _live_tokens("yamada") == 0


def test_a_reset_waits_for_a_token_being_issued_and_revokes_it(
    fuchu: None, django_db_blocker: Any
) -> None:
    """The other order: the token's transaction is open when the reset comes; the reset
    waits for it and revokes it with the others (before, it missed it: not yet committed)."""
    with django_db_blocker.unblock():
        user = _member("kawada")
        done, go = threading.Event(), threading.Event()
        issuing = _in_thread(
            lambda: _held_open(lambda: token_issue(actor=user, user=user, scopes=["*"]), done, go)
        )
        assert done.wait(timeout=10)
        resetting = _in_thread(lambda: _reset_in_city("kawada"))
        resetting.join(timeout=2)
        go.set()
        issuing.join(timeout=10)
        resetting.join(timeout=10)
        with schema_context(FUCHU.slug):
            assert User.objects.get(username="kawada").check_password(RESET)
        assert _live_tokens("kawada") == 0


def _reset_in_city(username: str) -> None:
    with schema_context(FUCHU.slug):
        _reset(username)


def test_an_own_password_change_in_flight_does_not_undo_a_reset(
    fuchu: None, django_db_blocker: Any
) -> None:
    """Found by a race review: the password page saved the holder's new password over a
    reset that committed while it ran (it checked the current password against the account
    as the request had read it), cleared must_change_password and kept its session: whoever
    the reset was meant to shut out kept the account, with a password of their choosing.
    The window is the change's own hashing, which a holder changing the password over and
    over keeps open most of the time."""
    with django_db_blocker.unblock():
        _member("morita")
        holder = Client()
        signed_in = holder.post(
            "/accounts/login/",
            {"username": "morita", "password": OLD},
            HTTP_HOST=FUCHU.domain,
        )
        assert signed_in.status_code == 302
        done, go, answers = threading.Event(), threading.Event(), []
        resetting = _in_thread(lambda: _held_open(lambda: _reset("morita"), done, go))
        assert done.wait(timeout=10)
        changing = _in_thread(
            lambda: answers.append(
                holder.post(
                    "/accounts/password/",
                    {
                        "old_password": OLD,
                        "new_password1": "Holders-choice-2027",
                        "new_password2": "Holders-choice-2027",
                    },
                    HTTP_HOST=FUCHU.domain,
                )
            )
        )
        changing.join(timeout=2)
        go.set()
        resetting.join(timeout=10)
        changing.join(timeout=10)
        with schema_context(FUCHU.slug):
            stored = User.objects.get(username="morita")
        assert stored.check_password(RESET)
        assert stored.must_change_password is True
        assert holder.get("/", HTTP_HOST=FUCHU.domain)["Location"].startswith("/accounts/login/")


def test_with_nothing_changed_meanwhile_the_change_and_the_token_go_through(
    signed_in: Client, mitaka: City
) -> None:
    """The checks above refuse only a password replaced meanwhile."""
    changed = signed_in.post(
        "/accounts/password/",
        {
            "old_password": STAFF_PASSWORD,
            "new_password1": "Own-new-choice-2027",
            "new_password2": "Own-new-choice-2027",
        },
        HTTP_HOST=mitaka.domain,
    )
    assert changed.status_code == 302
    assert changed["Location"] == "/"
    assert signed_in.get("/", HTTP_HOST=mitaka.domain).status_code == 200
    issued = APIClient(HTTP_HOST=mitaka.domain).post(
        "/api/v1/auth/token/",
        {"username": "tanaka", "password": "Own-new-choice-2027"},
        format="json",
    )
    assert issued.status_code == 201, issued.json()


def _active(username: str, active: bool) -> None:
    admin = User.objects.get(username="admin")
    staff_update(actor=admin, user=User.objects.get(username=username), active=active)


def test_a_sign_in_in_flight_during_a_deactivation_is_not_signed_in_by_the_reactivation(
    fuchu: None, django_db_blocker: Any
) -> None:
    """Found by a race review: a deactivation ends the account's sessions (Django refuses an
    inactive account's session but keeps it, and a reactivation signed it in again), but a
    sign-in that had checked the password before the deactivation committed saved its
    session after it (the session row is written when the answer leaves), missed by the
    deactivation. Reactivated (a mistaken deactivation undone, staff back from leave),
    whoever held that cookie, perhaps the reason for the deactivation, was signed in again."""
    with django_db_blocker.unblock():
        _member("ishida")
        browser = Client()
        done, go, answers = threading.Event(), threading.Event(), []
        deactivating = _in_thread(lambda: _held_open(lambda: _active("ishida", False), done, go))
        assert done.wait(timeout=10)
        signing_in = _in_thread(
            lambda: answers.append(
                browser.post(
                    "/accounts/login/",
                    {"username": "ishida", "password": OLD},
                    HTTP_HOST=FUCHU.domain,
                )
            )
        )
        # The sign-in checked the password and waits to stamp last_login on the locked row.
        signing_in.join(timeout=2)
        go.set()
        deactivating.join(timeout=10)
        signing_in.join(timeout=10)
        assert answers[0].status_code == 302
        assert browser.get("/", HTTP_HOST=FUCHU.domain)["Location"].startswith("/accounts/login/")
        with schema_context(FUCHU.slug):
            _active("ishida", True)
        connection.set_schema_to_public()
        again = browser.get("/", HTTP_HOST=FUCHU.domain)
        assert again.status_code == 302  # 200 on the code before: signed in again
        assert again["Location"].startswith("/accounts/login/")
