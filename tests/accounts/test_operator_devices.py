"""Operators' second-factor devices in the operators' admin: each operator's own only.

django-otp's admin (registered for the public schema's TOTP and static devices) showed
every operator's devices to any operator who may view devices: another operator's key
(the QR code, the hex key: enough to make their codes), their static tokens; it let them
delete those devices and add a device of a known key to another operator's account. An
operator now sees, adds, changes and deletes their own devices only; a superuser sees and
deletes everyone's (a lost phone) but never another operator's secret.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

User = get_user_model()
PASSWORD = "Unyou-kanri-2026"
DEVICE_PERMISSIONS = [
    f"{verb}_{model}" for verb in ("view", "add", "change", "delete")
    for model in ("totpdevice", "staticdevice", "statictoken")
]  # fmt: skip


def _operator(username: str, *, superuser: bool = False) -> Any:
    """An operator of the public schema, with the device permissions (a superuser has all)."""
    if superuser:
        return User.objects.create_superuser(username=username, password=PASSWORD, email="")
    operator = User.objects.create_user(username=username, password=PASSWORD, is_staff=True)
    operator.user_permissions.set(Permission.objects.filter(codename__in=DEVICE_PERMISSIONS))
    return operator


def _signed_in(operator: Any) -> Client:
    client = Client(HTTP_HOST="localhost")
    assert client.login(username=operator.username, password=PASSWORD)
    return client


@pytest.fixture
def operators(cities: dict, db: None) -> dict[str, Any]:
    """Sato and Suzuki, operators who are no superusers, each with an authenticator app
    and a static token device; and Kanri, a superuser."""
    people: dict[str, Any] = {}
    for username in ("sato", "suzuki"):
        operator = _operator(username)
        totp = TOTPDevice.objects.create(user=operator, name=f"{username}-app", confirmed=True)
        static = StaticDevice.objects.create(user=operator, name=f"{username}-codes")
        token = StaticToken.objects.create(device=static, token=f"{username}tok1")
        people[username] = {"user": operator, "totp": totp, "static": static, "token": token}
    people["kanri"] = {"user": _operator("kanri", superuser=True)}
    return people


def _secrets(person: dict[str, Any]) -> list[str]:
    return [person["totp"].key, person["token"].token]


def test_an_operator_lists_their_own_devices_only(operators: dict[str, Any]) -> None:
    sato = _signed_in(operators["sato"]["user"])
    for path, own, others in [
        ("/admin/otp_totp/totpdevice/", "sato-app", "suzuki-app"),
        ("/admin/otp_static/staticdevice/", "sato-codes", "suzuki-codes"),
    ]:
        listed = sato.get(path)
        assert listed.status_code == 200
        body = listed.content.decode()
        assert own in body
        assert others not in body
        assert "suzuki" not in body


@pytest.mark.parametrize(
    "page",
    ["otp_totp/totpdevice/{totp}/change/", "otp_totp/totpdevice/{totp}/delete/",
     "otp_totp/totpdevice/{totp}/history/", "otp_totp/totpdevice/{totp}/config/",
     "otp_totp/totpdevice/{totp}/qrcode/", "otp_static/staticdevice/{static}/change/",
     "otp_static/staticdevice/{static}/delete/", "otp_static/staticdevice/{static}/history/"],
)  # fmt: skip
def test_another_operator_s_device_pages_are_not_shown(
    operators: dict[str, Any], page: str
) -> None:
    suzuki = operators["suzuki"]
    sato = _signed_in(operators["sato"]["user"])
    sato.raise_request_exception = False
    answer = sato.get("/admin/" + page.format(totp=suzuki["totp"].pk, static=suzuki["static"].pk))
    # Django's admin sends a device it does not find back to the index; the QR code views 404.
    assert answer.status_code in (302, 404), answer.status_code
    if answer.status_code == 302:
        assert answer["Location"] == "/admin/"
    body = answer.content.decode(errors="replace")
    assert not [secret for secret in _secrets(suzuki) if secret in body]


def test_an_operator_cannot_delete_another_operator_s_devices(operators: dict[str, Any]) -> None:
    sato_s, suzuki = operators["sato"], operators["suzuki"]
    sato = _signed_in(sato_s["user"])
    sato.post(f"/admin/otp_totp/totpdevice/{suzuki['totp'].pk}/delete/", {"post": "yes"})
    sato.post(f"/admin/otp_static/staticdevice/{suzuki['static'].pk}/delete/", {"post": "yes"})
    sato.post(
        "/admin/otp_totp/totpdevice/",
        {"action": "delete_selected", "post": "yes",
         "_selected_action": [suzuki["totp"].pk, sato_s["totp"].pk]},
    )  # fmt: skip
    assert TOTPDevice.objects.filter(pk=suzuki["totp"].pk).exists()
    assert StaticDevice.objects.filter(pk=suzuki["static"].pk).exists()
    assert not TOTPDevice.objects.filter(pk=sato_s["totp"].pk).exists()  # their own: gone


def test_an_operator_adds_devices_to_their_own_account_only(operators: dict[str, Any]) -> None:
    sato_s, suzuki = operators["sato"], operators["suzuki"]
    sato = _signed_in(sato_s["user"])
    added = sato.post(
        "/admin/otp_totp/totpdevice/add/",
        {"user": suzuki["user"].pk, "name": "planted", "confirmed": "on",
         "key": "3132333435363738393031323334353637383930", "step": 30, "t0": 0,
         "digits": 6, "tolerance": 1, "drift": 0,
         "throttling_failure_count": 0},
    )  # fmt: skip
    assert added.status_code == 302, added.content.decode()[:3000]
    assert TOTPDevice.objects.get(name="planted").user_id == sato_s["user"].pk
    # Nor can their own device be handed to another operator.
    own = sato_s["totp"]
    sato.post(
        f"/admin/otp_totp/totpdevice/{own.pk}/change/",
        {"user": suzuki["user"].pk, "name": own.name, "confirmed": "on", "step": 30, "t0": 0,
         "digits": 6, "tolerance": 1, "drift": 0, "throttling_failure_count": 0},
    )  # fmt: skip
    own.refresh_from_db()
    assert own.user_id == sato_s["user"].pk


def test_an_operator_opens_their_own_device_s_qr_code(operators: dict[str, Any]) -> None:
    sato_s = operators["sato"]
    sato = _signed_in(sato_s["user"])
    page = sato.get(f"/admin/otp_totp/totpdevice/{sato_s['totp'].pk}/change/")
    assert page.status_code == 200
    assert sato_s["totp"].key in page.content.decode()
    assert sato.get(f"/admin/otp_totp/totpdevice/{sato_s['totp'].pk}/config/").status_code == 200
    static = sato.get(f"/admin/otp_static/staticdevice/{sato_s['static'].pk}/change/")
    assert sato_s["token"].token in static.content.decode()


def test_a_superuser_sees_and_deletes_everyone_s_devices_but_not_their_secrets(
    operators: dict[str, Any],
) -> None:
    suzuki = operators["suzuki"]
    kanri = _signed_in(operators["kanri"]["user"])
    kanri.raise_request_exception = False
    listed = kanri.get("/admin/otp_totp/totpdevice/").content.decode()
    assert "sato-app" in listed
    assert "suzuki-app" in listed
    for path in (f"/admin/otp_totp/totpdevice/{suzuki['totp'].pk}/change/",
                 f"/admin/otp_static/staticdevice/{suzuki['static'].pk}/change/"):  # fmt: skip
        page = kanri.get(path)
        assert page.status_code == 200
        assert not [secret for secret in _secrets(suzuki) if secret in page.content.decode()]
    for view in ("config", "qrcode"):
        assert (
            kanri.get(f"/admin/otp_totp/totpdevice/{suzuki['totp'].pk}/{view}/").status_code == 404
        )
    deleted = kanri.post(f"/admin/otp_totp/totpdevice/{suzuki['totp'].pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not TOTPDevice.objects.filter(pk=suzuki["totp"].pk).exists()


def test_a_device_that_does_not_exist_is_404_not_a_server_error(operators: dict[str, Any]) -> None:
    """django-otp's QR code views looked the device up with ``objects.get``: 500."""
    kanri = _signed_in(operators["kanri"]["user"])
    kanri.raise_request_exception = False
    for view in ("config", "qrcode"):
        assert kanri.get(f"/admin/otp_totp/totpdevice/999999/{view}/").status_code == 404


@pytest.mark.parametrize("lookup", ["key__startswith", "key", "key__regex"])
def test_no_one_reads_another_operator_s_key_through_the_list_s_filters(
    operators: dict[str, Any], lookup: str
) -> None:
    """A superuser lists every operator's devices but must not see another's key; a filter
    of the list in the address (``?key__startswith=a``) was answered, listed or not, and
    told the key a character at a time: enough to make that operator's codes. Refused, to
    everyone (nobody needs to find a device by its key)."""
    key = operators["suzuki"]["totp"].key
    value = {"key__startswith": key[:4], "key": key, "key__regex": f"^{key[:4]}"}[lookup]
    for who in ("kanri", "suzuki"):
        client = _signed_in(operators[who]["user"])
        right = client.get("/admin/otp_totp/totpdevice/", {lookup: value})
        wrong = client.get("/admin/otp_totp/totpdevice/", {lookup: "zz"})
        assert (right.status_code, wrong.status_code) == (400, 400)
