"""``issue_api_token``, the OpenAPI schema and its docs page, and rate limits."""

import contextlib
import hashlib
import ipaddress
import re
import secrets
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import schema_context
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from tests.api.conftest import HOST


def _address() -> str:
    """An address of a test's own, in a /64 of its own (the counters live in Redis, shared
    with other tests, and count an IPv6 client by its /64)."""
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::{secrets.token_hex(2)}"


def _network(address: str) -> str:
    return str(ipaddress.IPv6Network((address, 64), strict=False))


def test_the_schema_is_generated_without_a_warning_and_validates(tmp_path: Any) -> None:
    """Every operation described (the fields list was left out: drf-spectacular could not
    guess its serializer), every request body typed, and stable operation ids: collection
    and item GETs shared theirs, which the generator suffixed with numbers (``…_retrieve_2``)
    that a client generator would name methods after."""
    call_command(
        "spectacular", "--urlconf", "daicho.urls_tenant", "--fail-on-warn", "--validate",
        "--file", str(tmp_path / "schema.yaml"),
    )  # fmt: skip
    text = (tmp_path / "schema.yaml").read_text()
    for operation in ("v1_ledgers_list", "v1_ledgers_retrieve", "v1_ledgers_fields_list",
                      "v1_ledgers_records_list", "v1_ledgers_records_retrieve", "v1_staff_list"):  # fmt: skip
        assert f"operationId: {operation}\n" in text, operation
    assert "_retrieve_2" not in text


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
    # ... and is served here: the page renders from Swagger UI's script and style, and the
    # description it reads.
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset
    assert 'url: "/api/schema/"' in html


def test_the_served_schema_validates_as_openapi_3(city: dict[str, Any]) -> None:
    """What a city's host serves (not only what the command writes) is a valid OpenAPI 3
    document, checked by openapi-spec-validator as client generators check it."""
    served = APIClient(HTTP_HOST=HOST).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert served.status_code == 200
    document = served.json()
    assert document["openapi"].startswith("3.")
    validate(document)


@pytest.mark.parametrize(
    ("method", "path", "accept", "status", "code"),
    [
        ("get", "/api/schema/", "text/html", 406, "ERROR_NOT_ACCEPTABLE"),
        ("post", "/api/schema/", "application/json", 405, "ERROR_METHOD_NOT_ALLOWED"),
        ("get", "/api/docs/", "application/json", 406, "ERROR_NOT_ACCEPTABLE"),
        ("delete", "/api/docs/", "text/html", 405, "ERROR_METHOD_NOT_ALLOWED"),
    ],
)
def test_the_schema_s_and_the_docs_errors_are_the_api_s_error_shape(
    city: dict[str, Any], method: str, path: str, accept: str, status: int, code: str
) -> None:
    """Their refusals were written by the page's own renderer: the schema's as YAML
    (``code: ERROR_NOT_ACCEPTABLE`` as application/vnd.oai.openapi), the docs page's as
    "406 Not Acceptable" in HTML; every answer under /api/ that is an error is JSON in the
    error shape."""
    response = getattr(APIClient(HTTP_HOST=HOST), method)(path, HTTP_ACCEPT=accept)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert set(response.json()) == {"code", "message", "detail"}


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
    address = _address()
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
    assert designer.get("/api/v1/me/", REMOTE_ADDR=_address()).status_code == 200


def test_a_previous_release_throttle_history_does_not_break_the_rate_limit(
    api: Any, settings: Any
) -> None:
    """DRF's throttle kept a pickled list under ``throttle_<scope>_<ident>``; during a rolling
    deploy such keys are still live, and counting into them would fail every request."""
    client = api("clerk")
    address = _address()
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


def _rate_count(scope: str, ident: str) -> int | None:
    """The counter's value in Mitaka (counters are per city)."""
    from daicho.caching import redis_client
    from ledgers.api.common import _rate_key

    value = redis_client().get(_rate_key("mitaka", scope, ident))
    return None if value is None else int(value)


def _token_ident(token: str) -> str:
    return "b:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def test_a_request_with_a_token_is_counted_once_in_the_city_middleware_s_round_trip(
    api: Any,
) -> None:
    """The city middleware counts an API request bearing a token with the generation
    counters it reads (one round trip to Redis); the throttle then only compares: each
    counter goes up by one per request, not two."""
    client = api("clerk")
    address = _address()
    before = _rate_count("token", _token_ident(client.token)) or 0
    assert client.get("/api/v1/me/", REMOTE_ADDR=address).status_code == 200
    assert client.get("/api/v1/me/", REMOTE_ADDR=address).status_code == 200
    assert _rate_count("address", _network(address)) == 2
    assert _rate_count("token", _token_ident(client.token)) == before + 2
    # Counted by the token as presented, never by its public prefix.
    assert _rate_count("token", f"t:{client.token.split('_')[1]}") is None


def test_a_made_up_secret_is_not_counted_against_the_real_token(api: Any) -> None:
    """The prefix of a token is shown in screens and the audit trail: a request with that
    prefix and a made-up secret is refused and leaves the real token's counter alone."""
    client = api("clerk")
    address = _address()
    assert client.get("/api/v1/me/", REMOTE_ADDR=address).status_code == 200
    real = _rate_count("token", _token_ident(client.token))
    forged = "_".join(client.token.split("_")[:2]) + "_" + secrets.token_urlsafe(24)
    response = APIClient(HTTP_HOST=HOST).get(
        "/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {forged}", REMOTE_ADDR=address
    )
    assert response.status_code == 401
    assert _rate_count("token", _token_ident(client.token)) == real
    assert _rate_count("address", _network(address)) == 2  # the address counts every request


def test_an_address_over_its_limit_creates_no_counter_for_the_tokens_it_tries(
    api: Any, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "1000/min", "address": "2/min", "auth": "20/min"},
    }
    address = _address()
    made_up = [f"dch_{secrets.token_hex(6)}_{secrets.token_urlsafe(24)}" for _ in range(4)]
    for token in made_up:
        response = APIClient(HTTP_HOST=HOST).get(
            "/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=address
        )
        assert response.status_code == 401
    assert _rate_count("address", _network(address)) == 4  # over its limit from the third on
    assert [_rate_count("token", _token_ident(t)) for t in made_up] == [1, 1, None, None]
    # A real token from that address is refused with the address's limit, uncounted.
    client = api("clerk")
    before = _rate_count("token", _token_ident(client.token))
    limited = client.get("/api/v1/me/", REMOTE_ADDR=address)
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    assert _rate_count("token", _token_ident(client.token)) == before


def test_generations_and_counts_reads_the_counters_and_counts_in_one_call() -> None:
    from daicho.caching import generation_bump, generations, generations_and_counts

    name = f"test-{secrets.token_hex(4)}"
    generation_bump(name)
    first, second = (f"test_rate_{secrets.token_hex(4)}" for _ in range(2))
    values, counts = generations_and_counts(
        [name, f"{name}-never"], [(first, 60, 1), (second, 60, 5)]
    )
    assert values == generations(name, f"{name}-never") == [1, 0]
    assert counts == {first: 1, second: 1}
    values, counts = generations_and_counts([name], [(first, 60, 1), (second, 60, 5)])
    assert (values, counts) == ([1], {first: 2})  # over its limit: the second is not counted
    values, counts = generations_and_counts([name], [])
    assert (values, counts) == ([1], {})


def test_the_token_is_counted_however_the_header_separates_it(api: Any, settings: Any) -> None:
    """The authentication splits the header on any whitespace; so does the counter, or a
    tab would authenticate a token its limit never counted."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "2/min", "address": "1000/min", "auth": "20/min"},
    }
    client = api("clerk")
    plain = APIClient(HTTP_HOST=HOST)
    statuses = [
        plain.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer\t{client.token}").status_code,
        plain.get("/api/v1/me/", HTTP_AUTHORIZATION=f"bearer  {client.token} ").status_code,
        plain.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer\t{client.token}").status_code,
    ]
    assert statuses == [200, 200, 429]


@contextlib.contextmanager
def _redis_down() -> Iterator[None]:
    """Redis as a client on a port nothing listens on, within the block only. The process's
    client (cached) and the counters' script (registered on the client it first met) are
    reset afterwards: a later test in the same worker once met the dead client and failed;
    so is the window in which the process leaves a failed Redis alone."""
    import redis

    from daicho import caching

    original = caching.redis_client
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(caching, "redis_client", lambda: down)
            patch.setattr(caching, "_generations_and_counts_script", None)
            yield
    finally:
        original.cache_clear()
        caching._generations_and_counts_script = None
        caching.redis_failure_forget()  # the process asks Redis again at once


def test_the_counters_read_as_none_when_redis_does_not_answer() -> None:
    """Redis down (a client on a port nothing listens on): caches are bypassed, every
    request then reads the database, rather than a request failing."""
    from daicho import caching

    with _redis_down():
        assert caching.generations("tenancy", "other") == [None, None]
        assert caching.generations_and_counts(["tenancy"], [("k", 60, 5)]) == ([None], {})


def test_with_redis_down_a_token_request_is_answered_unlimited(api: Any) -> None:
    """The rate counters fail open as the caches do: the request reads the database and is
    answered, neither refused nor a server error."""
    client = api("clerk")  # its token issued while Redis answers
    with _redis_down():
        response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["username"] == "clerk"
