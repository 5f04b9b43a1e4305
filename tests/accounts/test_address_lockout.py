"""Failed sign-ins from one client address across usernames (password spraying: one
password tried against many usernames, a few times each, never trips the per-username
lockout): per city, in Redis, on the screen and at POST /api/v1/auth/token/ alike."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.accounts.conftest import STAFF_PASSWORD, actions_since, audit_seq, audit_since, sign_in
from tests.conftest import ADMIN_PASSWORD, City

TOKEN_URL = "/api/v1/auth/token/"


def _address() -> str:
    """An address of the test's own in 198.18.0.0/15 (131,072 of them): the locks live in
    Redis, shared with other tests and with earlier runs for their 30 minutes, and one of
    250 addresses (198.51.100.0/24, before) was now and then an address a test had locked
    before, so a sign-in meant to pass met a lock (1 run in ~20)."""
    spot = secrets.randbelow(1 << 17)
    return f"198.{18 + (spot >> 16)}.{(spot >> 8) & 0xFF}.{spot & 0xFF}"


@pytest.fixture
def limit(settings: Any) -> int:
    """A lower limit than the default, for speed (each test's addresses are its own: the
    token endpoint's request rate, 20/min per address, is never reached)."""
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 6
    return 6


def _spray(city: City, address: str, usernames: list[str], **extra: Any) -> list[int]:
    """One wrong password against each username, from ``address``."""
    return [
        sign_in(Client(), city, username, "Spring2026!", REMOTE_ADDR=address, **extra).status_code
        for username in usernames
    ]


def _token(city: City, address: str, username: str, password: str, **extra: Any) -> Any:
    return Client().post(
        TOKEN_URL, {"username": username, "password": password},
        content_type="application/json", HTTP_HOST=city.domain, REMOTE_ADDR=address, **extra,
    )  # fmt: skip


def test_the_default_limit() -> None:
    assert settings.SIGN_IN_ADDRESS_FAILURE_LIMIT == 30


def test_spraying_usernames_from_one_address_locks_the_address(
    staff: Any, mitaka: City, limit: int
) -> None:
    """Each username fails once (far under the per-username lockout); the limit-th one
    locks the address: even the right password of a real account is refused from it,
    answered exactly as for an unknown username, and another address is not affected."""
    address = _address()
    usernames = ["tanaka", *(f"guess{i}" for i in range(limit - 1))]
    statuses = _spray(mitaka, address, usernames)
    assert statuses == [200] * (limit - 1) + [429]
    real = sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address)
    unknown = sign_in(Client(), mitaka, "nobody-here", "x", REMOTE_ADDR=address)
    assert real.status_code == unknown.status_code == 429
    assert real.content == unknown.content
    assert "この接続元" in real.content.decode()
    assert "30分" in real.content.decode()
    other = sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=_address())
    assert other.status_code == 302


def test_the_token_endpoint_counts_with_the_screen_and_answers_429(
    staff: Any, mitaka: City, limit: int
) -> None:
    address = _address()
    _spray(mitaka, address, [f"guess{i}" for i in range(limit - 2)])
    assert _token(mitaka, address, "guess-api", "Spring2026!").status_code == 401
    locked = _token(mitaka, address, "guess-api-2", "Spring2026!")
    assert locked.status_code == 429
    assert locked.json()["code"] == "ERROR_LOCKED_OUT"
    assert 0 < int(locked["Retry-After"]) <= 30 * 60
    assert locked.json()["detail"]["retry_after"] == int(locked["Retry-After"])
    again = _token(mitaka, address, "tanaka", STAFF_PASSWORD)
    assert again.status_code == 429
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code == 429
    )


def test_a_made_up_x_forwarded_for_does_not_escape_it(
    staff: Any, mitaka: City, limit: int, settings: Any
) -> None:
    """Behind the ingress (TRUSTED_PROXY_COUNT=1) the client is the address it saw; what
    the client wrote before it is no new address per attempt."""
    settings.TRUSTED_PROXY_COUNT = 1
    client = _address()
    statuses = [
        sign_in(
            Client(), mitaka, f"guess{i}", "Spring2026!", REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"{_address()}, {client}",
        ).status_code
        for i in range(limit)
    ]  # fmt: skip
    assert statuses[-1] == 429
    # Another client behind the same ingress is not locked.
    other = sign_in(
        Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR=_address(),
    )  # fmt: skip
    assert other.status_code == 302


def test_one_network_of_ipv6_addresses_is_one_client(staff: Any, mitaka: City, limit: int) -> None:
    """An IPv6 client holds a whole /64: a new address per attempt is no new client."""
    network = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    statuses = [
        sign_in(
            Client(), mitaka, f"guess{i}", "Spring2026!",
            REMOTE_ADDR=f"{network}:{secrets.token_hex(2)}::{i + 1}",
        ).status_code
        for i in range(limit)
    ]  # fmt: skip
    assert statuses[-1] == 429


def test_a_sign_in_that_succeeds_forgives_its_own_failures(
    staff: Any, mitaka: City, limit: int
) -> None:
    """An office behind one address: staff who mistype and then sign in leave nothing
    towards the address's limit; only usernames that keep failing count."""
    address = _address()
    for _ in range(limit):
        assert sign_in(Client(), mitaka, "tanaka", "typo", REMOTE_ADDR=address).status_code == 200
        assert (
            sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code
            == 302
        )
    assert _spray(mitaka, address, [f"guess{i}" for i in range(limit - 1)]) == [200] * (limit - 1)


def test_the_lock_is_per_city(staff: Any, mitaka: City, musashino: City, limit: int) -> None:
    address = _address()
    _spray(mitaka, address, [f"guess{i}" for i in range(limit)])
    assert (
        sign_in(Client(), musashino, "admin", ADMIN_PASSWORD, REMOTE_ADDR=address).status_code
        == 302
    )


def test_the_lock_and_each_refused_attempt_are_audited(
    staff: Any, mitaka: City, limit: int
) -> None:
    address = _address()
    start = audit_seq(mitaka)
    _spray(mitaka, address, [f"guess{i}" for i in range(limit)])
    assert actions_since(mitaka, start) == ["auth.login_failed"] * limit + ["auth.address_lockout"]
    lockout = audit_since(mitaka, start)[-1]
    assert lockout.details == {"username": f"guess{limit - 1}", "ip": address, "usernames": limit}
    assert lockout.actor_id is None
    middle = audit_seq(mitaka)
    sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address)
    events = audit_since(mitaka, middle)
    assert [event.action for event in events] == ["auth.login_failed"]
    assert events[0].details == {
        "username": "tanaka",
        "ip": address,
        "reason": "address_locked_out",
    }


def test_a_city_admin_can_lift_an_address_lock(staff: Any, mitaka: City, limit: int) -> None:
    address = _address()
    _spray(mitaka, address, [f"guess{i}" for i in range(limit)])
    admin = Client()
    assert (
        sign_in(admin, mitaka, "admin", ADMIN_PASSWORD, REMOTE_ADDR=_address()).status_code == 302
    )
    page = admin.get("/accounts/security/", HTTP_HOST=mitaka.domain)
    assert address in page.content.decode()
    start = audit_seq(mitaka)
    lifted = admin.post(
        "/accounts/security/", {"action": "unlock_address", "address": address},
        HTTP_HOST=mitaka.domain,
    )  # fmt: skip
    assert lifted.status_code == 302
    assert actions_since(mitaka, start) == ["auth.unlock"]
    assert audit_since(mitaka, start)[0].details["address"] == address
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code == 302
    )


def _known_score(city: City, address: str, username: str) -> float | None:
    """When ``username`` last signed in from ``address``, as the lock reads it."""
    from django_tenants.utils import schema_context

    from daicho.accounts.selectors import sign_in_address_known_key, sign_in_username_digest
    from daicho.caching import redis_client

    with schema_context(city.slug):
        return redis_client().zscore(
            sign_in_address_known_key(address), sign_in_username_digest(username)
        )


def test_staff_who_signed_in_from_the_address_are_let_by_its_lock(
    staff: Any, mitaka: City, limit: int
) -> None:
    """An office behind one address: a colleague spraying usernames from it locks out
    strangers, not the staff who sign in there. tanaka signed in from the address before
    the lock: the lock lets tanaka by (screen and API alike), audited as such; admin, who
    never signed in from it, is refused as before, right password or not."""
    address = _address()
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code == 302
    )
    assert _spray(mitaka, address, [f"guess{i}" for i in range(limit)])[-1] == 429
    start = audit_seq(mitaka)
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code == 302
    )
    login = audit_since(mitaka, start)[-1]
    assert login.action == "auth.login"
    assert login.details["address_locked"] is True
    assert _token(mitaka, address, "tanaka", STAFF_PASSWORD).status_code == 201
    assert (
        sign_in(Client(), mitaka, "admin", ADMIN_PASSWORD, REMOTE_ADDR=address).status_code == 429
    )
    assert _token(mitaka, address, "admin", ADMIN_PASSWORD).status_code == 429
    # A sign-in from an address that is not locked says nothing of a lock.
    start = audit_seq(mitaka)
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=_address()).status_code
        == 302
    )
    assert "address_locked" not in audit_since(mitaka, start)[-1].details


def test_a_known_username_still_has_its_own_lockout_at_a_locked_address(
    staff: Any, mitaka: City, limit: int
) -> None:
    """The lock lets a known username on to the password, never past it: wrong passwords
    are refused and count towards the username's own lockout, which then holds."""
    address = _address()
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code == 302
    )
    _spray(mitaka, address, [f"guess{i}" for i in range(limit)])
    failures = settings.AXES_FAILURE_LIMIT
    statuses = [
        sign_in(Client(), mitaka, "tanaka", "Spring2026!", REMOTE_ADDR=address).status_code
        for _ in range(failures)
    ]
    assert statuses == [200] * (failures - 1) + [429]
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code == 429
    )


def test_a_username_is_known_at_an_address_for_the_set_days(
    staff: Any, mitaka: City, limit: int, settings: Any
) -> None:
    """Known for SIGN_IN_ADDRESS_KNOWN_DAYS after its latest sign-in there; a sign-in
    older than that, or the setting at 0, lets nobody by."""
    from django_tenants.utils import schema_context

    from daicho.accounts.selectors import sign_in_address_known_key, sign_in_username_digest
    from daicho.caching import redis_client

    address = _address()
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code == 302
    )
    assert _known_score(mitaka, address, "tanaka") is not None
    _spray(mitaka, address, [f"guess{i}" for i in range(limit)])
    settings.SIGN_IN_ADDRESS_KNOWN_DAYS = 0
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code == 429
    )
    settings.SIGN_IN_ADDRESS_KNOWN_DAYS = 30
    with schema_context(mitaka.slug):
        # tanaka's sign-in there moved back 31 days.
        old = (_known_score(mitaka, address, "tanaka") or 0) - 31 * 86_400
        redis_client().zadd(
            sign_in_address_known_key(address), {sign_in_username_digest("tanaka"): old}
        )
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code == 429
    )
    settings.SIGN_IN_ADDRESS_KNOWN_DAYS = 32
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address).status_code == 302
    )


def test_a_sign_in_elsewhere_or_in_another_city_makes_no_username_known_here(
    staff: Any, mitaka: City, musashino: City, limit: int
) -> None:
    """Known is per city and per address: admin signing in to musashino from the address,
    or to mitaka from another one, is no pass through mitaka's lock on it."""
    address = _address()
    assert (
        sign_in(Client(), musashino, "admin", ADMIN_PASSWORD, REMOTE_ADDR=address).status_code
        == 302
    )
    assert (
        sign_in(Client(), mitaka, "admin", ADMIN_PASSWORD, REMOTE_ADDR=_address()).status_code
        == 302
    )
    _spray(mitaka, address, [f"guess{i}" for i in range(limit)])
    assert (
        sign_in(Client(), mitaka, "admin", ADMIN_PASSWORD, REMOTE_ADDR=address).status_code == 429
    )
    assert _known_score(mitaka, address, "admin") is None
