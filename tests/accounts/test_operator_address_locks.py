"""The operators' locked client addresses (public schema), seen and lifted in their admin.

Too many usernames failing from one address lock it for every operator there (Redis,
``sign_in_address_failure_record``), as in a city. A city's administrators see and lift
their city's on /accounts/security/; on the public host nobody could see the operators'
locks, nor lift one before its 30 minutes ran out (axes' pages show axes' records only).
Now a superuser does, on an admin page, and the admin's log keeps who lifted which address.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.template.defaultfilters import date as date_filter
from django.test import Client
from django_tenants.utils import schema_context

from daicho.accounts.selectors import sign_in_address_keys, sign_in_address_lockouts
from daicho.caching import redis_client
from tests.accounts.conftest import sign_in
from tests.conftest import City

User = get_user_model()
PASSWORD = "Unyou-kanri-2026"
PAGE = "/admin/sign-in-address-locks/"
LIMIT = 3


def _address() -> str:
    """An address of the test's own in 198.18.0.0/15 (the locks outlive a test in Redis)."""
    spot = secrets.randbelow(1 << 17)
    return f"198.{18 + (spot >> 16)}.{(spot >> 8) & 0xFF}.{spot & 0xFF}"


def _admin_sign_in(address: str, username: str, password: str) -> int:
    return (
        Client(HTTP_HOST="localhost", REMOTE_ADDR=address)
        .post("/admin/login/", {"username": username, "password": password})
        .status_code
    )


def _spray(address: str) -> None:
    """``LIMIT`` usernames fail on the admin's sign-in page from ``address``: it is locked."""
    statuses = [_admin_sign_in(address, f"guess{i}", "x" * 12) for i in range(LIMIT)]
    assert statuses[-1] == 429


def _signed_in(username: str, **extra: Any) -> Client:
    client = Client(HTTP_HOST="localhost", **extra)
    assert client.login(username=username, password=PASSWORD)
    return client


def _locked(address: str) -> bool:
    return bool(redis_client().exists(sign_in_address_keys(address)[1]))


def _lift_entries() -> list[LogEntry]:
    return list(LogEntry.objects.filter(content_type__isnull=True).order_by("pk"))


@pytest.fixture
def people(cities: dict, db: None, settings: Any) -> dict[str, Any]:
    """Kanri, a superuser, and Sato, an operator given every permission there is, no
    superuser; the address limit lowered for speed."""
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = LIMIT
    kanri = User.objects.create_superuser(username="kanri", password=PASSWORD, email="")
    sato = User.objects.create_user(username="sato", password=PASSWORD, is_staff=True)
    sato.user_permissions.set(Permission.objects.all())
    return {"kanri": kanri, "sato": sato}


def test_a_superuser_sees_the_locked_addresses_and_lifts_one(
    people: dict[str, Any], mitaka: City
) -> None:
    address, other = _address(), _address()
    _spray(address)
    _spray(other)
    # The same address locked in Mitaka is Mitaka's: lifting the operators' leaves it.
    for i in range(LIMIT):
        sign_in(Client(), mitaka, f"guess{i}", "x" * 12, REMOTE_ADDR=address)
    with schema_context(mitaka.slug):
        assert _locked(address)
    assert _admin_sign_in(address, "kanri", PASSWORD) == 429

    kanri = _signed_in("kanri")
    index = kanri.get("/admin/")
    assert PAGE in index.content.decode()
    assert PAGE in kanri.get("/admin/axes/").content.decode()
    page = kanri.get(PAGE)
    assert page.status_code == 200
    until = {lock.address: lock.until for lock in sign_in_address_lockouts()}
    body = page.content.decode()
    for locked in (address, other):
        assert locked in body
        assert date_filter(until[locked], "Y年n月j日 H:i") in body

    lifted = kanri.post(PAGE, {"address": address})
    assert (lifted.status_code, lifted["Location"]) == (302, PAGE)
    assert not _locked(address)
    assert _locked(other)
    with schema_context(mitaka.slug):
        assert _locked(address)
    after = kanri.get(PAGE)
    assert f"接続元 {address} のロックを解除しました。" in after.content.decode()
    assert [lock.address for lock in after.context["lockouts"]] == [other]
    (entry,) = _lift_entries()
    assert (entry.user_id, entry.action_flag) == (people["kanri"].pk, DELETION)
    assert address in entry.object_repr
    assert json.loads(entry.change_message)[0]["deleted"]["address"] == address
    assert address in entry.get_change_message()
    log = kanri.get("/admin/admin/logentry/")
    assert address in log.content.decode()
    # Lifted: the right password signs in from the address again.
    assert _admin_sign_in(address, "kanri", PASSWORD) == 302


def test_no_one_else_sees_or_lifts_them(people: dict[str, Any]) -> None:
    """Sato holds every permission: the page still answers 403, and is not linked."""
    address = _address()
    _spray(address)
    sato = _signed_in("sato")
    assert sato.get(PAGE).status_code == 403
    assert sato.post(PAGE, {"address": address}).status_code == 403
    assert PAGE not in sato.get("/admin/").content.decode()
    assert _locked(address)
    assert _lift_entries() == []
    # Signed out: the admin's sign-in page, nothing lifted.
    anonymous = Client(HTTP_HOST="localhost").post(PAGE, {"address": address})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")
    assert _locked(address)


def test_a_lift_needs_the_page_s_csrf_token(people: dict[str, Any]) -> None:
    address = _address()
    _spray(address)
    kanri = _signed_in("kanri", enforce_csrf_checks=True)
    assert kanri.post(PAGE, {"address": address}).status_code == 403
    assert _locked(address)
    assert _lift_entries() == []
    token = kanri.get(PAGE).context["csrf_token"]
    assert (
        kanri.post(PAGE, {"address": address, "csrfmiddlewaretoken": str(token)}).status_code == 302
    )
    assert not _locked(address)


@pytest.mark.parametrize("typed", ["", "198.18.0.300", "kanri"])
def test_a_lift_of_no_address_is_refused(people: dict[str, Any], typed: str) -> None:
    kanri = _signed_in("kanri")
    answer = kanri.post(PAGE, {"address": typed}, follow=True)
    assert answer.status_code == 200
    assert "IPアドレスが正しくありません。" in answer.content.decode()
    assert _lift_entries() == []
