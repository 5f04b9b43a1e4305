"""Password guesses sent at once for one username from one address: the lockout counts them
as if they came one after the other. Real requests on threads of their own connections, in
a city whose rows commit (Fuchu)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django_tenants.utils import schema_context

from tests.accounts.conftest import STAFF_PASSWORD, User
from tests.accounts.test_address_lockout import TOKEN_URL, _address
from tests.conftest import FUCHU, _waiting_on_locks


def _token(address: str, username: str, password: str) -> int:
    answer = Client().post(
        TOKEN_URL, {"username": username, "password": password},
        content_type="application/json", HTTP_HOST=FUCHU.domain, REMOTE_ADDR=address,
    )  # fmt: skip
    return answer.status_code


def _screen(address: str, username: str, password: str) -> int:
    answer = Client().post(
        "/accounts/login/", {"username": username, "password": password},
        HTTP_HOST=FUCHU.domain, REMOTE_ADDR=address,
    )  # fmt: skip
    return answer.status_code


SIGN_INS: dict[str, tuple[Callable[[str, str, str], int], int, int]] = {
    # How the sign-in is sent; its answer to a wrong password and to the right one.
    "token": (_token, 401, 201),
    "screen": (_screen, 200, 302),
}


@pytest.mark.parametrize("redis_answers", [True, False], ids=["redis", "redis-down"])
@pytest.mark.parametrize("where", list(SIGN_INS))
def test_the_right_password_sent_beside_the_guess_that_locks_is_refused(
    fuchu: None, django_db_blocker: Any, where: str, redis_answers: bool, request: Any
) -> None:
    """Found by a race review: axes asks whether a username+IP is locked before the
    password is compared (a hash of tenths of a second) and records the failure after, so
    every guess sent while others were being compared passed the check: as many guesses as
    the servers have threads where the limit is five, then again each time the lock ends.
    Here the guess that reaches the limit is held while it records its failure (another
    connection holds its row of axes' table); the right password, sent meanwhile, was let
    in.

    With Redis down the attempts queue on the database instead (an advisory lock of the
    session): they went on unqueued, and so did the right password beside the last guess."""
    if not redis_answers:
        request.getfixturevalue("redis_down")
    send, wrong_answer, right_answer = SIGN_INS[where]
    username, address = f"kimura-{secrets.token_hex(3)}", _address()
    with django_db_blocker.unblock():
        with schema_context(FUCHU.slug):
            User.objects.create_user(username=username, password=STAFF_PASSWORD)
        connection.set_schema_to_public()
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert send(address, username, "Spring2026!") == wrong_answer

    held, go = threading.Event(), threading.Event()
    answers: dict[str, int] = {}

    def holder() -> None:
        with django_db_blocker.unblock():
            try:
                with schema_context(FUCHU.slug), transaction.atomic():
                    list(AccessAttempt.objects.select_for_update().filter(username=username))
                    held.set()
                    assert go.wait(timeout=20)
            finally:
                held.set()
                connection.close()

    def sender(who: str, password: str) -> None:
        with django_db_blocker.unblock():
            try:
                answers[who] = send(address, username, password)
            finally:
                connection.close()

    holding = threading.Thread(target=holder)
    holding.start()
    assert held.wait(timeout=10)
    guess = threading.Thread(target=sender, args=("guess", "Autumn2026!"))
    guess.start()
    with django_db_blocker.unblock():
        deadline = time.monotonic() + 10
        while _waiting_on_locks() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    right = threading.Thread(target=sender, args=("right", STAFF_PASSWORD))
    right.start()
    right.join(timeout=3)  # the code before answers at once, the lock's row still held
    go.set()
    for thread in (holding, guess, right):
        thread.join(timeout=30)
    assert answers == {"guess": settings.AXES_HTTP_RESPONSE_CODE, "right": 429}, answers
    assert right_answer not in answers.values()
