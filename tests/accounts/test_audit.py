"""Each sign-in event leaves exactly one audit event in the city, with no secret in it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from tests.accounts.conftest import (
    STAFF_PASSWORD,
    audit_seq,
    audit_since,
    code_for,
    sign_in,
    wrong_code_for,
)
from tests.conftest import City

Step = Callable[[Client, City, TOTPDevice | None], Any]


def _sign_in(client: Client, city: City, device: TOTPDevice | None) -> Any:
    sign_in(client, city, "tanaka", STAFF_PASSWORD)


def _sign_in_fails(client: Client, city: City, device: TOTPDevice | None) -> Any:
    sign_in(client, city, "tanaka", "Kusa-no-ha-2025")


def _sign_in_as_nobody(client: Client, city: City, device: TOTPDevice | None) -> Any:
    sign_in(client, city, "nobody", "Kusa-no-ha-2025")


def _sign_out(client: Client, city: City, device: TOTPDevice | None) -> Any:
    client.post("/accounts/logout/", HTTP_HOST=city.domain)


def _code_accepted(client: Client, city: City, device: TOTPDevice | None) -> Any:
    assert device is not None
    client.post("/accounts/login/verify/", {"otp_token": code_for(device)}, HTTP_HOST=city.domain)


def _code_refused(client: Client, city: City, device: TOTPDevice | None) -> Any:
    assert device is not None
    client.post(
        "/accounts/login/verify/", {"otp_token": wrong_code_for(device)}, HTTP_HOST=city.domain
    )


def _set_up(client: Client, city: City, device: TOTPDevice | None) -> Any:
    with schema_context(city.slug):
        pending = TOTPDevice.objects.get(user__username="tanaka", confirmed=False)
    client.post("/accounts/2fa/", {"otp_token": code_for(pending)}, HTTP_HOST=city.domain)


def _remove(client: Client, city: City, device: TOTPDevice | None) -> Any:
    client.post("/accounts/2fa/remove/", {"password": STAFF_PASSWORD}, HTTP_HOST=city.domain)


def _prepare_signed_in(client: Client, city: City) -> None:
    sign_in(client, city, "tanaka", STAFF_PASSWORD)


def _prepare_setting_up(client: Client, city: City) -> None:
    sign_in(client, city, "tanaka", STAFF_PASSWORD)
    client.get("/accounts/2fa/", HTTP_HOST=city.domain)


# (scenario, needs a confirmed device, what happens before, the step, the one action)
SCENARIOS: list[tuple[str, bool, Callable[[Client, City], None] | None, Step, str]] = [
    ("sign-in", False, None, _sign_in, "auth.login"),
    ("wrong password", False, None, _sign_in_fails, "auth.login_failed"),
    ("unknown user", False, None, _sign_in_as_nobody, "auth.login_failed"),
    ("sign-out", False, _prepare_signed_in, _sign_out, "auth.logout"),
    ("password, no code yet", True, None, _sign_in, ""),
    ("code accepted", True, _prepare_signed_in, _code_accepted, "auth.login"),
    ("code refused", True, _prepare_signed_in, _code_refused, "auth.2fa_failed"),
    ("2FA set up", False, _prepare_setting_up, _set_up, "auth.2fa_enabled"),
    ("2FA removed", False, _prepare_signed_in, _remove, "auth.2fa_disabled"),
]


@pytest.mark.parametrize(
    ("needs_device", "before", "step", "action"),
    [scenario[1:] for scenario in SCENARIOS],
    ids=[scenario[0] for scenario in SCENARIOS],
)
def test_one_sign_in_event_one_audit_event(
    staff: Any,
    mitaka: City,
    needs_device: bool,
    before: Callable[[Client, City], None] | None,
    step: Step,
    action: str,
) -> None:
    device = None
    if needs_device:
        with schema_context(mitaka.slug):
            device = TOTPDevice.objects.create(user=staff, name="認証アプリ", confirmed=True)
    client = Client()
    if before is not None:
        before(client, mitaka)
    start = audit_seq(mitaka)
    step(client, mitaka, device)
    events = audit_since(mitaka, start)
    assert [event.action for event in events] == ([action] if action else [])
    for event in events:
        assert event.details["ip"] == "127.0.0.1"
        assert event.details["username"] in {"tanaka", "nobody"}
        assert set(event.details) <= {"username", "ip", "reason", "second_factor"}
        flat = repr(event.details)
        assert STAFF_PASSWORD not in flat
        assert "Kusa-no-ha-2025" not in flat
        if device is not None:
            assert code_for(device) not in flat
            assert device.key not in flat


def test_the_sign_in_event_names_the_actor_and_the_second_factor(
    staff: Any, staff_device: TOTPDevice, mitaka: City
) -> None:
    client = Client()
    sign_in(client, mitaka, "tanaka", STAFF_PASSWORD)
    start = audit_seq(mitaka)
    _code_accepted(client, mitaka, staff_device)
    (event,) = audit_since(mitaka, start)
    assert event.actor_id == staff.pk
    assert event.details == {"username": "tanaka", "ip": "127.0.0.1", "second_factor": "totp"}


def test_a_failed_sign_in_has_no_actor(staff: Any, mitaka: City) -> None:
    start = audit_seq(mitaka)
    _sign_in_fails(Client(), mitaka, None)
    (event,) = audit_since(mitaka, start)
    assert event.actor_id is None
    assert event.details == {"username": "tanaka", "ip": "127.0.0.1"}


def test_the_address_comes_from_the_trusted_proxy(staff: Any, mitaka: City, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    start = audit_seq(mitaka)
    sign_in(
        Client(), mitaka, "tanaka", "Kusa-no-ha-2025",
        REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7",
    )  # fmt: skip
    (event,) = audit_since(mitaka, start)
    # The ingress appended 203.0.113.7; 1.2.3.4 was written by the client and proves nothing.
    assert event.details["ip"] == "203.0.113.7"


def test_operators_sign_ins_are_not_audited_in_any_city(
    cities: dict, db: None, mitaka: City, caplog: pytest.LogCaptureFixture
) -> None:
    operator = get_user_model().objects.create_superuser(
        username="operator", password="x" * 12, email=""
    )
    start = audit_seq(mitaka)
    with caplog.at_level("INFO", logger="daicho.accounts.services"):
        Client().post(
            "/admin/login/", {"username": "operator", "password": "x" * 12}, HTTP_HOST="localhost"
        )
    assert audit_since(mitaka, start) == []
    lines = [r.getMessage() for r in caplog.records if r.name == "daicho.accounts.services"]
    assert lines == [f"auth.login user_id={operator.pk}"]
