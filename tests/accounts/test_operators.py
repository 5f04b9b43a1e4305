"""Operators on the public host: 2FA for the admin when required; devices stay in their schema."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from tests.accounts.conftest import STAFF_PASSWORD, code_for, sign_in
from tests.conftest import City

User = get_user_model()
OPERATOR_PASSWORD = "Unyou-kanri-2026"


@pytest.fixture
def operator(cities: dict, db: None) -> Any:
    return User.objects.create_superuser(
        username="tanaka", password=OPERATOR_PASSWORD, email=""
    )  # the same username as Mitaka's 田中, on purpose


@pytest.fixture
def operator_device(operator: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=operator, name="運用者の認証アプリ", confirmed=True)


@pytest.fixture
def require_operator_2fa(settings: Any) -> None:
    settings.OPERATOR_REQUIRE_2FA = True


def _admin_login(client: Client, token: str = "", device: Any = None) -> Any:
    return client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "tanaka",
            "password": OPERATOR_PASSWORD,
            "otp_device": device.persistent_id if device else "",
            "otp_token": token,
        },
        HTTP_HOST="localhost",
    )


def test_without_the_setting_the_admin_takes_a_password(operator: Any) -> None:
    client = Client()
    response = _admin_login(client)
    assert response.status_code == 302
    assert client.get("/admin/", HTTP_HOST="localhost").status_code == 200


def test_with_the_setting_a_password_alone_does_not_open_the_admin(
    operator_device: TOTPDevice, require_operator_2fa: None
) -> None:
    client = Client()
    response = _admin_login(client)
    assert response.status_code == 200
    assert client.get("/admin/", HTTP_HOST="localhost").status_code == 302
    # A session signed in some other way without a device is not enough either.
    other = Client(HTTP_HOST="localhost")
    assert other.login(username="tanaka", password=OPERATOR_PASSWORD)
    assert other.get("/admin/").status_code == 302


def test_with_the_setting_the_operators_code_opens_the_admin(
    operator_device: TOTPDevice, require_operator_2fa: None
) -> None:
    client = Client()
    response = _admin_login(client, code_for(operator_device), operator_device)
    assert response.status_code == 302
    assert client.get("/admin/", HTTP_HOST="localhost").status_code == 200


def test_a_citys_device_does_not_open_the_operator_admin(
    operator: Any, staff_device: TOTPDevice, mitaka: City, require_operator_2fa: None
) -> None:
    # Mitaka's 田中 has an app; the operator 田中 has none. Mitaka's code, even naming
    # Mitaka's device id, is checked against the public schema's devices.
    response = _admin_login(Client(), code_for(staff_device), staff_device)
    assert response.status_code == 200
    assert not TOTPDevice.objects.exists()  # public holds no device at all


def test_an_operators_device_does_not_count_in_a_city(
    operator_device: TOTPDevice, staff: Any, mitaka: City
) -> None:
    # The operator 田中 has an app in public; Mitaka's 田中 has none: password only there.
    response = sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    with schema_context(mitaka.slug):
        assert not TOTPDevice.objects.exists()


def test_the_operator_admin_lists_the_operators_devices_only(
    operator_device: TOTPDevice, staff_device: TOTPDevice, mitaka: City
) -> None:
    client = Client(HTTP_HOST="localhost")
    assert client.login(username="tanaka", password=OPERATOR_PASSWORD)
    body = client.get("/admin/otp_totp/totpdevice/").content.decode()
    assert "運用者の認証アプリ" in body
    assert "認証アプリ</a>" not in body.replace("運用者の認証アプリ</a>", "")


def test_the_first_operator_gets_in_with_a_static_token(
    operator: Any, require_operator_2fa: None
) -> None:
    out = io.StringIO()
    call_command("addstatictoken", "tanaka", stdout=out)
    token = out.getvalue().strip()
    device = StaticDevice.objects.get(user=operator)
    client = Client()
    response = _admin_login(client, token, device)
    assert response.status_code == 302
    assert client.get("/admin/otp_totp/totpdevice/add/", HTTP_HOST="localhost").status_code == 200
