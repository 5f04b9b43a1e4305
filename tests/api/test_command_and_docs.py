"""``issue_api_token``, the OpenAPI schema and its docs page, and rate limits."""

import secrets
import time
from io import StringIO
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from tests.api.conftest import HOST


def test_issue_api_token_prints_only_a_working_token(city: dict[str, Any]) -> None:
    out = StringIO()
    call_command(
        "issue_api_token", "--schema", "mitaka", "--username", "clerk", "--scopes", "*", stdout=out
    )
    token = out.getvalue().strip()
    assert token.startswith("dch_")
    assert "\n" not in token
    me = APIClient(HTTP_HOST=HOST).get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.json()["username"] == "clerk"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schema", "nowhere", "--username", "clerk"], "自治体"),
        (["--schema", "mitaka", "--username", "ghost"], "職員"),
        (["--schema", "mitaka", "--username", "clerk", "--scopes", "root"], "スコープ"),
    ],
)
def test_issue_api_token_refuses_bad_input(
    city: dict[str, Any], args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("issue_api_token", *args)


def test_schema_and_docs_are_served(city: dict[str, Any]) -> None:
    client = APIClient(HTTP_HOST=HOST)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in [
        "/api/v1/auth/token/",
        "/api/v1/ledgers/{code}/records/{record_id}/",
        "/api/v1/ledgers/{code}/search/{screen}/",
        "/api/v1/audit/verify/",
    ]:
        assert path in paths, path
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger" in html.lower()
    # No CDN: everything the page loads comes from this host (LGWAN has no internet).
    assert "cdn.jsdelivr" not in html
    assert "unpkg.com" not in html


def test_rate_limit_answers_429_with_retry_after(api: Any, settings: Any) -> None:
    client = api("clerk")
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "3/min", "address": "1000/min", "auth": "20/min"},
    }
    statuses = [client.get("/api/v1/me/").status_code for _ in range(3)]
    limited = client.get("/api/v1/me/")
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["code"] == "ERROR_RATE_LIMITED"
    # Another token (another client of the same city) is counted on its own.
    assert api("designer").get("/api/v1/me/").status_code == 200


def test_rate_limit_per_address_counts_every_token_of_that_address(api: Any, settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "1000/min", "address": "3/min", "auth": "20/min"},
    }
    # An address of this test's own: the counters live in Redis, shared with other tests.
    address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    clerk, designer = api("clerk"), api("designer")
    statuses = [
        client.get("/api/v1/me/", REMOTE_ADDR=address).status_code
        for client in (clerk, designer, clerk)
    ]
    limited = designer.get("/api/v1/me/", REMOTE_ADDR=address)
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    # Another address is counted on its own.
    assert designer.get("/api/v1/me/", REMOTE_ADDR=f"{address}:1").status_code == 200


def test_a_previous_release_throttle_history_does_not_break_the_rate_limit(
    api: Any, settings: Any
) -> None:
    """DRF's throttle kept a pickled list under ``throttle_<scope>_<ident>``; during a rolling
    deploy such keys are still live, and counting into them would fail every request."""
    client = api("clerk")
    address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    with schema_context("mitaka"):
        cache.set(f"throttle_address_{address}", [time.time()], 60)
        cache.set(f"throttle_token_t:{client.token.split('_')[1]}", [time.time()], 60)
    assert client.get("/api/v1/me/", REMOTE_ADDR=address).status_code == 200


def test_the_rate_counters_survive_a_redis_that_forgot_its_scripts(api: Any) -> None:
    """Both counters are one Lua script; a Redis restarted (or flushed) has forgotten it and
    redis-py loads it again: requests go on being counted, not refused."""
    from daicho.caching import redis_client

    client = api("clerk")
    assert client.get("/api/v1/me/").status_code == 200
    redis_client().script_flush()
    assert client.get("/api/v1/me/").status_code == 200
