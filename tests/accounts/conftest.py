"""Fixtures for sign-in security: a staff member of Mitaka, their authenticator app, helpers.

Everything goes through the real URL routing with ``HTTP_HOST`` set; database work for a
city happens inside ``schema_context`` (the test's transaction is rolled back).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Max
from django.http import HttpResponse
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from daicho.accounts.models import CitySecuritySettings
from ledgers.audit.models import AuditEvent
from tests.conftest import City

User = get_user_model()
STAFF_PASSWORD = "Kusa-no-ha-2026"


def code_for(device: TOTPDevice, steps: int = 0) -> str:
    """The code the staff member's app shows now (or ``steps`` time steps later)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift + steps):0{device.digits}d}"


def wrong_code_for(device: TOTPDevice) -> str:
    """A six-digit code that none of the accepted time steps shows."""
    valid = {code_for(device, steps) for steps in (-1, 0, 1)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)


def sign_in(client: Client, city: City, username: str, password: str, **extra: Any) -> HttpResponse:
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password, **extra.pop("data", {})},
        HTTP_HOST=city.domain,
        **extra,
    )


def audit_seq(city: City) -> int:
    """The last audit event's number in the city, to count what a step adds."""
    with schema_context(city.slug):
        return AuditEvent.objects.aggregate(last=Max("seq"))["last"] or 0


def audit_since(city: City, seq: int) -> list[AuditEvent]:
    with schema_context(city.slug):
        return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


def actions_since(city: City, seq: int) -> list[str]:
    return [event.action for event in audit_since(city, seq)]


def security_settings_set(city: City, **values: Any) -> None:
    with schema_context(city.slug):
        CitySecuritySettings.objects.update_or_create(
            pk=CitySecuritySettings.SINGLETON_ID, defaults=values
        )


@pytest.fixture
def staff(mitaka: City) -> Any:
    """田中, a member of staff of Mitaka without a second factor."""
    with schema_context(mitaka.slug):
        return User.objects.create_user(
            username="tanaka", password=STAFF_PASSWORD, display_name="田中"
        )


@pytest.fixture
def staff_device(staff: Any, mitaka: City) -> TOTPDevice:
    """田中's confirmed authenticator app."""
    with schema_context(mitaka.slug):
        return TOTPDevice.objects.create(user=staff, name="認証アプリ", confirmed=True)


@pytest.fixture
def no_throttle(settings: Any) -> None:
    """django-otp waits 1, 2, 4 … s after wrong codes; tests that retry at once skip it."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


@pytest.fixture
def signed_in(staff: Any, mitaka: City) -> Client:
    """A browser in which 田中 has signed in to Mitaka with his password."""
    client = Client()
    response = sign_in(client, mitaka, "tanaka", STAFF_PASSWORD)
    assert response.status_code == 302
    return client
