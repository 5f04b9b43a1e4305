"""Setting up, using and removing a second factor; a city that makes it mandatory."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from tests.accounts.conftest import (
    STAFF_PASSWORD,
    code_for,
    security_settings_set,
    sign_in,
    wrong_code_for,
)
from tests.conftest import ADMIN_PASSWORD, City


def _enrolment_device(city: City) -> TOTPDevice:
    with schema_context(city.slug):
        return TOTPDevice.objects.get(user__username="tanaka", confirmed=False)


def test_the_set_up_page_shows_a_server_drawn_qr_code_and_the_uri(
    signed_in: Client, mitaka: City
) -> None:
    response = signed_in.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body
    assert "otpauth://totp/" in body
    assert "Daicho%20%E4%B8%89%E9%B7%B9%E5%B8%82%3Atanaka" in body  # "Daicho 三鷹市:tanaka"
    # Nothing is loaded from elsewhere: no script, no external image or stylesheet.
    assert "<script" not in body
    assert "http://" not in body.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in body
    # A reload shows the same key: a code already scanned keeps working.
    key = _enrolment_device(mitaka).key
    signed_in.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    assert _enrolment_device(mitaka).key == key


def test_set_up_is_confirmed_with_a_code_and_gives_backup_codes(
    signed_in: Client, mitaka: City
) -> None:
    signed_in.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    device = _enrolment_device(mitaka)
    response = signed_in.post(
        "/accounts/2fa/", {"otp_token": code_for(device)}, HTTP_HOST=mitaka.domain
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "二要素認証を設定しました" in body
    with schema_context(mitaka.slug):
        device.refresh_from_db()
        assert device.confirmed
        tokens = list(StaticToken.objects.filter(device__user__username="tanaka"))
    assert len(tokens) == 10
    assert all(token.token in body for token in tokens)
    # This session now counts as verified.
    status = signed_in.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    assert "二要素認証の解除" in status.content.decode()


def test_a_wrong_code_does_not_confirm_the_set_up(signed_in: Client, mitaka: City) -> None:
    signed_in.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    device = _enrolment_device(mitaka)
    response = signed_in.post(
        "/accounts/2fa/", {"otp_token": wrong_code_for(device)}, HTTP_HOST=mitaka.domain
    )
    assert response.status_code == 200
    assert "確認コードが正しくありません" in response.content.decode()
    with schema_context(mitaka.slug):
        device.refresh_from_db()
        assert not device.confirmed


def test_after_set_up_the_next_sign_in_asks_for_a_code(signed_in: Client, mitaka: City) -> None:
    signed_in.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    device = _enrolment_device(mitaka)
    signed_in.post("/accounts/2fa/", {"otp_token": code_for(device)}, HTTP_HOST=mitaka.domain)
    signed_in.post("/accounts/logout/", HTTP_HOST=mitaka.domain)
    response = sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD)
    assert response["Location"] == "/accounts/login/verify/"


def test_removal_needs_the_password(
    staff_device: TOTPDevice, staff: Any, mitaka: City, no_throttle: None
) -> None:
    client = Client()
    sign_in(client, mitaka, "tanaka", STAFF_PASSWORD)
    client.post(
        "/accounts/login/verify/", {"otp_token": code_for(staff_device)}, HTTP_HOST=mitaka.domain
    )
    with schema_context(mitaka.slug):
        StaticDevice.objects.create(user=staff, name="バックアップコード", confirmed=True)

    response = client.post(
        "/accounts/2fa/remove/", {"password": "not-my-password"}, HTTP_HOST=mitaka.domain
    )
    assert response.status_code == 400
    assert "パスワードが正しくありません" in response.content.decode()
    with schema_context(mitaka.slug):
        assert TOTPDevice.objects.filter(user=staff).exists()

    response = client.post(
        "/accounts/2fa/remove/", {"password": STAFF_PASSWORD}, HTTP_HOST=mitaka.domain
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    with schema_context(mitaka.slug):
        assert not TOTPDevice.objects.filter(user=staff).exists()
        assert not StaticDevice.objects.filter(user=staff).exists()
    # Signing in again takes the password only.
    assert sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD)["Location"] == "/"


def test_removal_is_a_post_only(signed_in: Client, mitaka: City) -> None:
    assert signed_in.get("/accounts/2fa/remove/", HTTP_HOST=mitaka.domain).status_code == 405


def test_the_pages_need_a_signed_in_user(mitaka: City) -> None:
    response = Client().get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", ["/", "/accounts/security/", "/no/such/page/"])
def test_mandatory_2fa_sends_staff_without_a_device_to_set_up(
    signed_in: Client, mitaka: City, path: str
) -> None:
    security_settings_set(mitaka, require_2fa=True)
    response = signed_in.get(path, HTTP_HOST=mitaka.domain)
    if path == "/no/such/page/":
        assert response.status_code == 404  # no view, nothing to protect
        return
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    page = signed_in.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    assert page.status_code == 200
    assert "二要素認証が必須です" in page.content.decode()


def test_mandatory_2fa_lets_staff_through_once_set_up(signed_in: Client, mitaka: City) -> None:
    security_settings_set(mitaka, require_2fa=True)
    assert signed_in.get("/", HTTP_HOST=mitaka.domain).status_code == 302
    signed_in.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    device = _enrolment_device(mitaka)
    signed_in.post("/accounts/2fa/", {"otp_token": code_for(device)}, HTTP_HOST=mitaka.domain)
    assert signed_in.get("/", HTTP_HOST=mitaka.domain).status_code == 200


def test_mandatory_2fa_still_lets_staff_sign_out(signed_in: Client, mitaka: City) -> None:
    security_settings_set(mitaka, require_2fa=True)
    response = signed_in.post("/accounts/logout/", HTTP_HOST=mitaka.domain)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"


def test_a_session_signed_in_before_set_up_elsewhere_is_verified_with_a_code(
    signed_in: Client, staff_device: TOTPDevice, mitaka: City
) -> None:
    # 田中 signed in on this PC with his password, then set up his app on another one.
    security_settings_set(mitaka, require_2fa=True)
    assert signed_in.get("/", HTTP_HOST=mitaka.domain)["Location"] == "/accounts/2fa/"
    page = signed_in.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    assert "このログインの確認" in page.content.decode()
    response = signed_in.post(
        "/accounts/2fa/", {"otp_token": code_for(staff_device)}, HTTP_HOST=mitaka.domain
    )
    assert response.status_code == 302
    assert signed_in.get("/", HTTP_HOST=mitaka.domain).status_code == 200


def test_mandatory_2fa_in_one_city_does_not_touch_another(mitaka: City, musashino: City) -> None:
    security_settings_set(mitaka, require_2fa=True)
    client = Client()
    sign_in(client, musashino, "admin", ADMIN_PASSWORD)
    assert client.get("/", HTTP_HOST=musashino.domain).status_code == 200


def test_a_session_from_before_set_up_must_be_verified_even_where_2fa_is_optional(
    signed_in: Client, staff_device: TOTPDevice, staff: Any, mitaka: City
) -> None:
    """Someone who signed in with a stolen password before 田中 set up his app elsewhere
    (the city does not require 2FA) must not keep using that session, nor remove the app
    with the password alone and sign in with it alone from then on."""
    assert signed_in.get("/", HTTP_HOST=mitaka.domain)["Location"] == "/accounts/2fa/"
    api = signed_in.get("/api/v1/me/", HTTP_HOST=mitaka.domain)
    assert api.status_code == 302
    removed = signed_in.post(
        "/accounts/2fa/remove/", {"password": STAFF_PASSWORD}, HTTP_HOST=mitaka.domain
    )
    assert removed["Location"] == "/accounts/2fa/"
    with schema_context(mitaka.slug):
        assert TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    assert sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD)["Location"] == (
        "/accounts/login/verify/"
    )
    verified = signed_in.post(
        "/accounts/2fa/", {"otp_token": code_for(staff_device)}, HTTP_HOST=mitaka.domain
    )
    assert verified.status_code == 302
    assert signed_in.get("/", HTTP_HOST=mitaka.domain).status_code == 200


@pytest.mark.parametrize("require_2fa", [False, True])
def test_a_session_from_before_set_up_cannot_change_the_password_until_verified(
    signed_in: Client, staff_device: TOTPDevice, staff: Any, mitaka: City, require_2fa: bool
) -> None:
    """Whoever holds a session signed in with 田中's password before he set up his app
    elsewhere must not change that password either: the password page was open to every
    unverified session, so that session changed it (ending 田中's own sessions, and his
    password no longer worked) while its holder could use nothing else."""
    security_settings_set(mitaka, require_2fa=require_2fa)
    new = "Hoka-no-aikotoba-2026"
    page = signed_in.get("/accounts/password/", HTTP_HOST=mitaka.domain)
    assert page.status_code == 302
    assert page["Location"] == "/accounts/2fa/"
    changed = signed_in.post(
        "/accounts/password/",
        {"old_password": STAFF_PASSWORD, "new_password1": new, "new_password2": new},
        HTTP_HOST=mitaka.domain,
    )
    assert changed["Location"] == "/accounts/2fa/"
    with schema_context(mitaka.slug):
        staff.refresh_from_db()
        assert staff.check_password(STAFF_PASSWORD)
    # Verified with a code, the session reaches the page.
    signed_in.post("/accounts/2fa/", {"otp_token": code_for(staff_device)}, HTTP_HOST=mitaka.domain)
    assert signed_in.get("/accounts/password/", HTTP_HOST=mitaka.domain).status_code == 200


def test_mandatory_2fa_still_lets_staff_without_a_device_change_their_password(
    signed_in: Client, mitaka: City
) -> None:
    """Enrolment comes after the password someone else chose is changed: the password page
    stays open to staff who have no device yet."""
    security_settings_set(mitaka, require_2fa=True)
    assert signed_in.get("/accounts/password/", HTTP_HOST=mitaka.domain).status_code == 200


def _session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_verifying_a_session_with_a_code_gives_it_a_new_key(
    signed_in: Client, staff_device: TOTPDevice, mitaka: City
) -> None:
    """A session signed in with the password alone becomes one verified by a second factor:
    its key changes, as at sign-in, so that a copy of the old cookie (taken while it was a
    password-only session) does not become a verified session with it."""
    before = _session_key(signed_in)
    stolen = Client()
    stolen.cookies[settings.SESSION_COOKIE_NAME] = before
    signed_in.post("/accounts/2fa/", {"otp_token": code_for(staff_device)}, HTTP_HOST=mitaka.domain)
    assert signed_in.get("/", HTTP_HOST=mitaka.domain).status_code == 200
    assert _session_key(signed_in) != before
    response = stolen.get("/", HTTP_HOST=mitaka.domain)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_setting_up_gives_the_session_a_new_key(signed_in: Client, mitaka: City) -> None:
    before = _session_key(signed_in)
    signed_in.get("/accounts/2fa/", HTTP_HOST=mitaka.domain)
    device = _enrolment_device(mitaka)
    done = signed_in.post(
        "/accounts/2fa/", {"otp_token": code_for(device)}, HTTP_HOST=mitaka.domain
    )
    assert done.status_code == 200
    assert _session_key(signed_in) != before
    assert signed_in.get("/", HTTP_HOST=mitaka.domain).status_code == 200
