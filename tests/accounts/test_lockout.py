"""Lockout after repeated failures (django-axes): per username+IP, per city, audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from tests.accounts.conftest import STAFF_PASSWORD, actions_since, audit_seq, audit_since, sign_in
from tests.conftest import ADMIN_PASSWORD, City


def _fail(client: Client, city: City, times: int, username: str = "tanaka", **extra: Any) -> Any:
    response = None
    for _ in range(times):
        response = sign_in(client, city, username, "wrong-password", **extra)
    return response


def test_the_limit_th_failure_locks_out_with_a_japanese_page(staff: Any, mitaka: City) -> None:
    client = Client()
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5
    assert _fail(client, mitaka, limit - 1).status_code == 200
    response = _fail(client, mitaka, 1)
    assert response.status_code == 429
    body = response.content.decode()
    assert "ログインが一時的に制限されています" in body
    assert "30分" in body


def test_a_locked_out_user_cannot_sign_in_even_with_the_right_password(
    staff: Any, mitaka: City
) -> None:
    client = Client()
    _fail(client, mitaka, settings.AXES_FAILURE_LIMIT)
    response = sign_in(client, mitaka, "tanaka", STAFF_PASSWORD)
    assert response.status_code == 429
    assert client.get("/", HTTP_HOST=mitaka.domain).status_code == 302


def test_the_lockout_is_per_username_and_ip(staff: Any, mitaka: City) -> None:
    _fail(Client(), mitaka, settings.AXES_FAILURE_LIMIT)
    # The same person from another address, and another person from the same one.
    assert (
        sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR="10.0.0.2")["Location"]
        == "/"
    )
    assert sign_in(Client(), mitaka, "admin", ADMIN_PASSWORD)["Location"] == "/"


def test_the_lockout_is_per_city(staff: Any, mitaka: City, musashino: City) -> None:
    _fail(Client(), mitaka, settings.AXES_FAILURE_LIMIT, username="admin")
    assert sign_in(Client(), mitaka, "admin", ADMIN_PASSWORD).status_code == 429
    # Musashino's admin, same username, same address: its own counters, not locked.
    response = sign_in(Client(), musashino, "admin", ADMIN_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    with schema_context(musashino.slug):
        assert not AccessAttempt.objects.exists()


def test_the_lockout_ends_after_the_cool_off(staff: Any, mitaka: City) -> None:
    _fail(Client(), mitaka, settings.AXES_FAILURE_LIMIT)
    with schema_context(mitaka.slug):
        AccessAttempt.objects.update(
            attempt_time=AccessAttempt.objects.get().attempt_time
            - settings.AXES_COOLOFF_TIME
            - timedelta(seconds=1)
        )
    assert sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD)["Location"] == "/"


def test_a_success_resets_the_count(staff: Any, mitaka: City) -> None:
    _fail(Client(), mitaka, settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD)["Location"] == "/"
    assert _fail(Client(), mitaka, settings.AXES_FAILURE_LIMIT - 1).status_code == 200


def test_the_lockout_and_each_refused_attempt_are_audited(staff: Any, mitaka: City) -> None:
    start = audit_seq(mitaka)
    limit = settings.AXES_FAILURE_LIMIT
    _fail(Client(), mitaka, limit)
    assert actions_since(mitaka, start) == ["auth.login_failed"] * limit + ["auth.lockout"]
    lockout = audit_since(mitaka, start)[-1]
    assert lockout.details == {"username": "tanaka", "ip": "127.0.0.1"}
    assert lockout.actor_id is None

    # While locked, each attempt is one refused sign-in, not a new lockout.
    middle = audit_seq(mitaka)
    sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD)
    events = audit_since(mitaka, middle)
    assert [event.action for event in events] == ["auth.login_failed"]
    assert events[0].details == {"username": "tanaka", "ip": "127.0.0.1", "reason": "locked_out"}


def test_axes_keeps_no_password_or_csrf_token(staff: Any, mitaka: City) -> None:
    sign_in(Client(), mitaka, "tanaka", "my-secret-guess", data={"csrfmiddlewaretoken": "tok3n"})
    with schema_context(mitaka.slug):
        attempt = AccessAttempt.objects.get()
    assert "my-secret-guess" not in attempt.post_data
    assert "tok3n" not in attempt.post_data


def test_a_city_admin_can_lift_a_lockout(staff: Any, mitaka: City) -> None:
    _fail(Client(), mitaka, settings.AXES_FAILURE_LIMIT)
    admin = Client()
    sign_in(admin, mitaka, "admin", ADMIN_PASSWORD, REMOTE_ADDR="10.0.0.9")
    page = admin.get("/accounts/security/", HTTP_HOST=mitaka.domain)
    assert "tanaka" in page.content.decode()
    start = audit_seq(mitaka)
    response = admin.post(
        "/accounts/security/", {"action": "unlock", "username": "tanaka"}, HTTP_HOST=mitaka.domain
    )
    assert response.status_code == 302
    assert actions_since(mitaka, start) == ["auth.unlock"]
    assert sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD)["Location"] == "/"


def test_operators_are_locked_out_on_the_public_host(cities: dict, db: None) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(
            "/admin/login/", {"username": "root", "password": "x"}, HTTP_HOST="localhost"
        )
        assert response.status_code == 200
    response = client.post(
        "/admin/login/", {"username": "root", "password": "x"}, HTTP_HOST="localhost"
    )
    assert response.status_code == 429
    assert "ログインが一時的に制限されています" in response.content.decode()
    assert AccessAttempt.objects.filter(username="root").exists()  # in public


def test_the_token_endpoint_answers_a_lockout_in_the_api_s_shape(
    staff: Any, mitaka: City, settings: Any
) -> None:
    """The web sign-in and the API's token endpoint share the lockout; the API answers it
    as an API does: JSON with a stable code and Retry-After, not the HTML page."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "auth": "1000/min",
        },
    }
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/api/v1/auth/token/", {"username": "tanaka", "password": "wrong-guess"},
            content_type="application/json", HTTP_HOST=mitaka.domain,
        )  # fmt: skip
    locked = client.post(
        "/api/v1/auth/token/", {"username": "tanaka", "password": STAFF_PASSWORD},
        content_type="application/json", HTTP_HOST=mitaka.domain,
    )  # fmt: skip
    assert locked.status_code == 429
    assert locked["Content-Type"].startswith("application/json")
    assert locked.json()["code"] == "ERROR_LOCKED_OUT"
    assert int(locked["Retry-After"]) > 0


def test_the_password_page_counts_wrong_current_passwords(signed_in: Client, mitaka: City) -> None:
    """Someone at a signed-in browser (a colleague at an unlocked desk) must not guess the
    current password on the password page without limit and unaudited: wrong ones count
    towards the lockout like a failed sign-in, and the limit-th one locks."""
    seq = audit_seq(mitaka)
    statuses = []
    for _ in range(settings.AXES_FAILURE_LIMIT):
        statuses.append(signed_in.post(
            "/accounts/password/",
            {"old_password": "a-guess-of-it", "new_password1": "Taken-over-2026",
             "new_password2": "Taken-over-2026"},
            HTTP_HOST=mitaka.domain,
        ).status_code)  # fmt: skip
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    actions = actions_since(mitaka, seq)
    assert actions.count("auth.login_failed") == settings.AXES_FAILURE_LIMIT
    assert "auth.lockout" in actions
    right = signed_in.post(
        "/accounts/password/",
        {"old_password": STAFF_PASSWORD, "new_password1": "Taken-over-2026",
         "new_password2": "Taken-over-2026"},
        HTTP_HOST=mitaka.domain,
    )  # fmt: skip
    assert right.status_code == 429  # locked: not even the right one changes it
    assert sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD).status_code == 429


def test_the_lockout_counts_an_ipv6_client_by_its_64(staff: Any, mitaka: City) -> None:
    """A subscriber holds a whole IPv6 /64 and can take a fresh address per request: counted
    by the exact address, each guess at one username's password came from an address with
    no failure yet, and the lockout never came (the per-address limit counts usernames,
    one here). The /64 counts as one address, as the per-address limit counts it."""
    for host in range(1, settings.AXES_FAILURE_LIMIT + 1):
        _fail(Client(), mitaka, 1, REMOTE_ADDR=f"2001:db8:64:1::{host:x}")
    response = sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR="2001:db8:64:1::ff")
    assert response.status_code == 429
    # Another /64 (another subscriber) is not locked out.
    other = sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR="2001:db8:64:2::1")
    assert other["Location"] == "/"
