"""A second factor's code replayed: an authenticator app's code is good once (django-otp
keeps the last time step used, ``last_t``), and so is a backup code, even when the same
code is sent twice at once (``django_otp.verify_token`` locks the device's row). Checked
by a race review (they held already): a code seen over someone's shoulder, or captured
with the password, must not open a second session or mint a second token."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from tests.accounts.conftest import STAFF_PASSWORD, User, code_for, sign_in
from tests.conftest import FUCHU, City

TOKEN = "/api/v1/auth/token/"


def test_a_code_that_signed_in_is_refused_for_a_token_and_another_sign_in(
    staff_device: TOTPDevice, mitaka: City
) -> None:
    code = code_for(staff_device)
    browser = Client()
    sign_in(browser, mitaka, "tanaka", STAFF_PASSWORD)
    verified = browser.post("/accounts/login/verify/", {"otp_token": code}, HTTP_HOST=mitaka.domain)
    assert verified["Location"] == "/"
    token = APIClient(HTTP_HOST=mitaka.domain).post(
        TOKEN, {"username": "tanaka", "password": STAFF_PASSWORD, "otp": code}, format="json"
    )
    assert token.status_code == 401
    other = Client()
    sign_in(other, mitaka, "tanaka", STAFF_PASSWORD)
    again = other.post("/accounts/login/verify/", {"otp_token": code}, HTTP_HOST=mitaka.domain)
    assert again.status_code == 200  # the code step again, with an error


@pytest.mark.parametrize("kind", ["totp", "backup_code"])
def test_one_code_sent_twice_at_once_gives_one_token(
    fuchu: None, django_db_blocker: Any, kind: str
) -> None:
    username = f"hayashi-{kind}"
    with django_db_blocker.unblock():
        with schema_context(FUCHU.slug):
            user = User.objects.create_user(username=username, password=STAFF_PASSWORD)
            device = TOTPDevice.objects.create(user=user, name="認証アプリ", confirmed=True)
            backup = StaticDevice.objects.create(
                user=user, name="バックアップコード", confirmed=True
            )
            StaticToken.objects.create(device=backup, token="abcd2345")
            code = code_for(device) if kind == "totp" else "abcd2345"
        connection.set_schema_to_public()
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def ask() -> None:
        with django_db_blocker.unblock():
            try:
                barrier.wait(timeout=10)
                answer = APIClient(HTTP_HOST=FUCHU.domain).post(
                    TOKEN, {"username": username, "password": STAFF_PASSWORD, "otp": code},
                    format="json",
                )  # fmt: skip
                statuses.append(answer.status_code)
            finally:
                connection.close()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [201, 401]
