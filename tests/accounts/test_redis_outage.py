"""Signing in while Redis fails: the lockout, kept in the database, holds; a Redis that hangs
is not asked again by each attempt (tests/conftest.py ``redis_down``, ``hung_redis``)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from daicho.caching import access_counter, generations
from tests.accounts.conftest import STAFF_PASSWORD, User, sign_in
from tests.accounts.test_address_lockout import _address
from tests.conftest import City, SilentServer


def test_the_lockout_holds_while_redis_refuses(staff: Any, mitaka: City, redis_down: None) -> None:
    """The per-username+address lockout is axes' rows in the database: with Redis down the
    limit-th wrong password still locks, and the right one is refused after it."""
    address = _address()
    answers = [
        sign_in(Client(), mitaka, "tanaka", "Spring2026!", REMOTE_ADDR=address).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    right = sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address)
    assert right.status_code == 429


def test_a_sign_in_does_not_wait_on_a_hung_redis_each_time(
    staff: Any, mitaka: City, hung_redis: SilentServer
) -> None:
    """Found by the review of degraded dependencies: a sign-in asked Redis four times (its
    attempt's lock, the address's lock, the failure count or the success) and each ask of a
    Redis that hangs waited out the socket timeout (redis-py's 5 s): 20 s a sign-in. Once
    Redis failed, the process leaves it alone for ``REDIS_SKIP_SECONDS`` (the attempt queues
    on the database, the per-address counts are skipped); a successful one asks nothing
    either (``test_a_sign_in_leaves_the_city_s_caches_alone``)."""
    address = _address()
    sign_in(Client(), mitaka, "tanaka", "Spring2026!", REMOTE_ADDR=address)  # meets the hang
    sent, started = hung_redis.received, time.monotonic()
    wrong = [
        sign_in(Client(), mitaka, "tanaka", "Spring2026!", REMOTE_ADDR=address).status_code
        for _ in range(2)
    ]
    right = sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=address)
    assert (wrong, right.status_code) == ([200, 200], 302)
    assert hung_redis.received == sent
    assert time.monotonic() - started < 0.5 * 3


def test_a_sign_in_leaves_the_city_s_caches_alone(staff: Any, mitaka: City) -> None:
    """Found by the same review: the sign-in's ``last_login`` save bumped the city's access
    generation (``User`` is watched for the API's token and policy caches), so every staff
    sign-in dropped every process's cached tokens and policies of the city, and against a
    Redis that hangs waited out the socket timeout twice (the bump, then again on commit).
    ``last_login`` is in no cached answer: a save of it alone bumps nothing."""
    counter = access_counter(mitaka.slug)
    (before,) = generations(counter)
    signed_in = sign_in(Client(), mitaka, "tanaka", STAFF_PASSWORD, REMOTE_ADDR=_address())
    assert signed_in.status_code == 302
    assert generations(counter) == [before]
    with schema_context(mitaka.slug):
        user = User.objects.get(username="tanaka")
        user.is_active = False
        user.save(update_fields=["is_active"])  # any other change still bumps
    assert generations(counter) == [before + 1]
