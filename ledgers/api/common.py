"""Authentication, scopes and rate limits shared by every API view."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from typing import Any

from django.core.cache import cache
from django.db import connection
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, serializers
from rest_framework.authentication import (
    BaseAuthentication,
    get_authorization_header,
)
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from daicho import caching
from daicho.accounts.network import client_network
from daicho.caching import generations_and_counts
from ledgers.api.numbers import ascii_whole_number
from ledgers.api.tokens.exceptions import TokenSecondFactorRequired
from ledgers.api.tokens.models import ApiToken
from ledgers.api.tokens.services import TOKEN_PREFIX, token_authenticate, token_has_scope
from ledgers.audit.context import audit_token_set
from ledgers.exceptions import LedgerError
from ledgers.fields.normalize import ANY_CONTROL_RE, text_problem

logger = logging.getLogger(__name__)


class AuthenticationRefused(exceptions.AuthenticationFailed):
    """A 401 (with ``WWW-Authenticate``, as DRF answers a failed authentication) under the
    code of the domain error that refused it (``errors.exception_handler`` reads
    ``error_code``), not ``ERROR_NOT_AUTHENTICATED``."""

    def __init__(self, error: LedgerError) -> None:
        super().__init__(error.message)
        self.error_code = error.code


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer dch_…``: a personal token of this city's schema."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Authorization ヘッダーの形式が正しくありません。"
            )
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("トークンが正しくありません。") from None
        try:
            token = token_authenticate(raw, generation=getattr(request, "access_generation", None))
        except TokenSecondFactorRequired as refused:
            raise AuthenticationRefused(refused) from None
        if token is None:
            raise exceptions.AuthenticationFailed("トークンが無効か、期限切れか、失効しています。")
        # Every audit event the request writes names the token (ledgers.audit.context).
        audit_token_set(token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="daicho"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "ledgers.api.common.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


class HasScope(BasePermission):
    """The view says which scope each method needs (``required_scopes``)."""

    message = "このトークンにはこの操作のスコープがありません。"

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        scopes = getattr(view, "required_scopes", {})
        # HEAD runs the GET handler (its policy, its audit events; an answer whose headers
        # tell what its body would): it needs what GET needs.
        method = "GET" if request.method == "HEAD" else request.method
        scope = scopes.get(method, scopes.get("*"))
        if scope is None:
            # A safe method a view names no scope for needs none (``/me/``, the department
            # list); an unsafe one it implements but does not name is refused, not let
            # through. One it does not implement is left to DRF's 405.
            return method in SAFE_METHODS or not hasattr(view, request.method.lower())
        token = request_token(request)
        return token_has_scope(token, scope)


_PREFIX = TOKEN_PREFIX.encode()


def _bearer_ident(request: Any) -> str | None:
    """The rate-limit identity of the token a request bears: a digest of the whole token
    as presented (``b:<sha-256>``), never its public prefix, so that a request with a
    made-up secret cannot be counted against somebody's token. ``None`` for a request
    bearing no token of our form."""
    # Read as the authentication reads it (DRF's header bytes, split on ASCII whitespace),
    # so that no spelling of the header authenticates a token this identity misses.
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"bearer" or not parts[1].startswith(_PREFIX):
        return None
    return "b:" + hashlib.sha256(parts[1]).hexdigest()[:32]


def address_ident(request: Any) -> str | None:
    """The rate-limit identity of the client's address: ``client_network`` (``client_ip``:
    REMOTE_ADDR, or the address the outermost of ``TRUSTED_PROXY_COUNT`` proxies saw, the
    one definition the lockouts and the audit trail use too; an IPv6 address by its /64,
    as the sign-in limit counts it). DRF's own ``get_ident`` took X-Forwarded-For as the
    client wrote it: any client could count itself as anybody, or as a new address per
    request; and each IPv6 address counted alone, so a client holding a /64 (the least an
    IPv6 subscriber is given) took a fresh budget per request."""
    return client_network(request)


def _rate_key(schema: str, scope: str, ident: str) -> str:
    """A counter's key: per city (offices of many cities may reach us from one address, a
    prefecture's security cloud), built from ``schema`` as given. The city middleware
    counts before it switches the connection to the request's city, so a key made by the
    cache's key function (the connection's schema) named the city served last."""
    return f"{schema}:{cache.key_prefix}:{cache.version}:api_rate_{scope}_{ident}"


def _rate_counters(schema: str, idents: list[tuple[str, str | None]]) -> list[tuple[str, int, int]]:
    """(key, window in seconds, limit) of each identity with a rate (``DEFAULT_THROTTLE_RATES``,
    read when used: a change of settings takes effect)."""
    rates = api_settings.DEFAULT_THROTTLE_RATES
    counters = []
    for scope, ident in idents:
        rate = rates.get(scope)
        if rate is None or ident is None:
            continue
        number, period = rate.split("/")
        duration = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
        counters.append((_rate_key(schema, scope, ident), duration, int(number)))
    return counters


def request_counters(request: Any, schema: str) -> list[tuple[str, int, int]]:
    """``REQUEST_RATE_COUNTERS``: the counters ``ApiRateThrottle`` will check an API request
    bearing a token against, for the city middleware to count in its own round trip to
    Redis (the generation counters it reads anyway): one round trip per request instead of
    two. The address comes first: over its limit, the token's counter is not touched, so a
    flood of made-up tokens from one address creates no more counters than its rate allows.
    Any other request: none (the throttle counts it itself, after authentication)."""
    if not request.path_info.startswith("/api/"):
        return []
    token = _bearer_ident(request)
    if token is None:
        return []
    return _rate_counters(schema, [("address", address_ident(request)), ("token", token)])


def _first_over(counters: list[tuple[str, int, int]], counts: dict[str, int]) -> str | None:
    """The key of the first counter whose count is over its limit, if any."""
    return next((key for key, _window, limit in counters if counts.get(key, 0) > limit), None)


class ApiRateThrottle(BaseThrottle):
    """Requests per client address and per token (or session user), each per window.

    The rates are ``address`` and ``token`` of ``DEFAULT_THROTTLE_RATES``, read when used
    (a change of settings takes effect). Both counters live in Redis and are counted with
    one command (``daicho.caching.generations_and_counts``, its Lua script): a window
    starts at a client's first request and allows the rate's number of requests until it
    expires (a burst across two windows may reach twice the rate, never more). A request
    bearing a token was counted already by the city middleware, with the generation
    counters it reads (``request_counters``, ``request.rate_counts``): this throttle then
    only compares. If Redis does not answer, the request is not limited (as the caches are
    bypassed), with a warning in the log, rather than refused.
    DRF's own throttle kept every request's timestamp in one cached
    list, read and rewritten whole per request: at thousands a minute that list cost more
    than the request it guarded. The counters' keys differ from that throttle's
    (``throttle_<scope>_…``), which held pickled lists: a process of the previous release
    and one of this release never read each other's keys during a rolling deploy.
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        counters = _rate_counters(
            connection.schema_name,
            [("address", self.get_ident(request)), ("token", self._client_ident(request))],
        )
        counts: dict[str, int] = dict(getattr(request, "rate_counts", None) or {})
        over = _first_over(counters, counts)
        pending = [counter for counter in counters if counter[0] not in counts]
        if over is None and pending:
            # With the city middleware's own script: counted in order, stopping at the
            # first counter over its limit; nothing (and a warning) if Redis fails.
            counts.update(generations_and_counts([], pending)[1])
            over = _first_over(counters, counts)
        if over is None:
            return True
        try:
            self._retry_after = max(1, caching.redis_client().ttl(over))
        except Exception:  # Redis gone since it counted: the window, not a server error
            logger.warning("rate limit window unavailable", exc_info=True)
            self._retry_after = next(window for key, window, _limit in counters if key == over)
        return False

    def get_ident(self, request: Request) -> str | None:  # type: ignore[override]
        return address_ident(request)

    @staticmethod
    def _client_ident(request: Request) -> str | None:
        if isinstance(request.auth, ApiToken):
            return _bearer_ident(request) or f"t:{request.auth.prefix}"
        if request.user and request.user.is_authenticated:
            return f"u:{request.user.pk}"
        return None

    def wait(self) -> float | None:
        return getattr(self, "_retry_after", None)


# The token endpoint's requests per address in one sliding window, counted in one step: the
# times of the requests let in (a sorted set scored by time), the ones out of the window
# dropped; over the limit, the seconds until the oldest leaves it, else nil and this one
# added. One script, so that requests arriving together are counted one after the other.
_AUTH_RATE = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return tostring(tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], window)
return false
"""
_auth_rate_script: Any = None


class AuthRateThrottle(BaseThrottle):
    """The token endpoint's rate (``auth`` of ``DEFAULT_THROTTLE_RATES``, the views whose
    ``throttle_scope`` is ``auth``) per client address as ``address_ident`` reads it, per
    city, whatever the request is authenticated as: DRF's scoped throttle counted an
    authenticated request by its user, and each valid token it was sent with (one's own
    several, a colleague's) brought a fresh budget of password tries from the same address.

    The window slides, as DRF's did, but is counted in one step in Redis (``_AUTH_RATE``):
    DRF read the address's list of request times, appended and wrote it back, so requests
    arriving together each read it before any wrote and all passed, counted as one. If
    Redis does not answer, the request is not limited (with a warning): the lockouts, per
    username+IP in the database and per address, still hold."""

    scope = "auth"

    def allow_request(self, request: Request, view: Any) -> bool:
        global _auth_rate_script
        if getattr(view, "throttle_scope", None) != self.scope:
            return True
        counters = _rate_counters(
            connection.schema_name, [(self.scope, address_ident(request) or "-")]
        )
        if not counters:
            return True
        ((key, window, limit),) = counters
        if caching.redis_skipped():
            return True
        try:
            client = caching.redis_client()
            if _auth_rate_script is None:
                _auth_rate_script = client.register_script(_AUTH_RATE)
            wait = _auth_rate_script(
                keys=[key], args=[time.time(), window, limit, secrets.token_hex(8)], client=client
            )
        except Exception:
            caching.redis_failed("token endpoint rate limit")
            return True
        if wait is None:
            return True
        self._retry_after = max(1.0, float(wait))
        return False

    def wait(self) -> float | None:
        return getattr(self, "_retry_after", None)


def refuse_control_characters(params: Any) -> None:
    """400 when a query string's name or value holds a control character: none is a
    field's or a filter's, and a NUL reached PostgreSQL (which refuses it in text) as a
    server error that logged the rest of the statement."""
    for name, values in params.lists():
        if ANY_CONTROL_RE.search(name) or any(ANY_CONTROL_RE.search(v) for v in values):
            raise exceptions.ValidationError({"query": ["制御文字は指定できません。"]})


def refuse_unseen_characters(params: Any) -> None:
    """400 naming the parameter and the character when a query string's name or value
    holds what stored text may not (``text_problem``: a bidirectional control, an
    invisible character, U+2800), for queries whose every parameter is an exact value (a
    username, a code, an action, an id, a date) that no such character is part of: the
    audit trail's filters. Read as typed, 「cl\u200berk」 matched no one while its
    ``audit.read`` looked like a read of clerk's trail; cleaned, the read would not be of
    what was typed. An exact filter on a record's field is refused alike (by its field type); a
    contains filter and a search term drop them instead, as the search reads them."""
    for name, values in params.lists():
        problem = text_problem(name, allow_newlines=False)
        if problem is not None:
            raise exceptions.ValidationError({"query": [f"パラメーター名に{problem}。"]})
        for value in values:
            problem = text_problem(value, allow_newlines=False)
            if problem is not None:
                raise exceptions.ValidationError({name: [f"{problem}。"]})


def refuse_unknown_parameters(params: Any, known: Collection[str]) -> None:
    """400 naming a query parameter a list with a closed set of filters does not take (the
    audit trail, one's tokens, a webhook's deliveries): ``?user=clerk`` for ``?actor=clerk``
    was ignored, and the answer, every event, read as the events of clerk. ``format`` is
    DRF's (``?format=json``) and taken everywhere."""
    for name in params:
        if name not in known and name != "format":
            allowed = "、".join(sorted(known))
            raise exceptions.ValidationError(
                {name: [f"この一覧にはない条件です（使えるのは {allowed}）。"]}
            )


_FLAG_VALUES = {"true": True, "1": True, "false": False, "0": False}


def query_flag(params: Any, name: str) -> bool:
    """A yes-or-no query parameter (``count``, ``deleted``): ``true`` or ``false`` in any
    case (Python's ``requests`` writes ``True``), or ``1`` / ``0``; absent is false. Any
    other value is 400 naming the parameter: ``count=yes``, ``deleted=on`` or a bare
    ``count=`` were read as false without a word (no count, no deleted records)."""
    raw = params.get(name)
    if raw is None:
        return False
    flag = _FLAG_VALUES.get(raw.lower())
    if flag is None:
        raise exceptions.ValidationError(
            {name: ["true か false で指定してください（1 / 0 も可）。"]}
        )
    return flag


class WholeNumberField(serializers.IntegerField):
    """A whole number in a request body: a JSON integer, and with ``digit_strings`` a
    string of ASCII digits too (at most 18, as ``If-Match``'s), where the contract takes
    ``"2"`` for 2 (a search's ``page``, a restore's ``generation``). DRF's ``IntegerField``
    read through Python's ``int()``: ``"1_0"`` as 10 (a restore of generation 10), and
    ``" 2"``, ``"+2"``, ``"２"``, ``2.0`` and ``"2.0"`` as 2. Anything else is 400 naming
    the field; ``min_value`` and ``max_value`` are checked as DRF checks them."""

    def __init__(self, *, digit_strings: bool = False, **kwargs: Any) -> None:
        self.digit_strings = digit_strings
        super().__init__(**kwargs)
        self.error_messages["invalid"] = (
            "整数（JSON の数値か半角数字だけの文字列、例: 2）で指定してください。"
            if digit_strings
            else "整数（JSON の数値、例: 5）で指定してください。"
        )

    def to_internal_value(self, data: Any) -> int:
        if type(data) is int:
            return data
        if self.digit_strings and type(data) is str:
            value = ascii_whole_number(data)
            if value is not None:
                return value
        self.fail("invalid")


class ClosedBodySerializer(serializers.Serializer):
    """A request body that takes only the keys its fields declare: any other top-level key
    is 400 naming each, with the keys taken (DRF drops it without a word). For a body that
    is never a document read back and sent whole (a search): there a typo (``pagesize``,
    ``reasons``) was ignored, the page size not applied or the missing reason blamed on
    the screen. The schema says so (``additionalProperties: false``, ``DaichoAutoSchema``)."""

    refuses_unknown_keys = True

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {}
        if isinstance(data, Mapping):
            taken = "、".join(sorted(self.fields))
            errors = {
                str(key): [f"この本文にはない項目です（使えるのは {taken}）。"]
                for key in data
                if key not in self.fields
            }
        try:
            value = super().to_internal_value(data)
        except exceptions.ValidationError as refused:
            if not errors or not isinstance(refused.detail, dict):
                raise
            errors = {**refused.detail, **errors}
        if errors:
            raise exceptions.ValidationError(errors)
        return value


def object_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 (a list or a number is no document)."""
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError(
            {"body": ["本文は JSON のオブジェクトで指定してください。"]}
        )
    return dict(request.data)


def request_token(request: Request) -> ApiToken | None:
    """The API token a request was authenticated with (``None`` for a session)."""
    return request.auth if isinstance(request.auth, ApiToken) else None


# A `+HH:MM` offset typed into a URL unencoded (as the contract writes `as_of`) arrives
# as a space: a moment then a space then an offset can only mean that `+`.
_SPACE_FOR_PLUS_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?) (\d{2}(?::?\d{2})?)"
)


def plus_restored(text: str) -> str:
    """``text`` with the ``+`` of its offset back where a query string turned it into a
    space (``2024-04-01T00:00:00 09:00``); any other text as it is."""
    if spaced := _SPACE_FOR_PLUS_RE.fullmatch(text):
        return f"{spaced[1]}+{spaced[2]}"
    return text


def iso_date(text: str) -> date | None:
    """``text`` as a date alone in any ISO 8601 form (2026-11-30, 20261130, 2026-W49-1);
    None for anything else (a moment, an impossible date)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def utc_moment(moment: datetime) -> datetime:
    """``moment`` (aware) as the same moment in UTC, as the database is asked about it.
    Python reads offsets up to ±23:59, PostgreSQL only up to ±15:59: a moment at -18:24 went
    into the query as written and was a server error (SQLSTATE 22009). One whose conversion
    leaves the years 1–9999 (0001-01-01T00:00+14:00) is the first or last moment Python has:
    nothing stored lies beyond either, so every comparison answers as with the moment."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (
            datetime.min.replace(tzinfo=UTC)
            if moment.year == 1
            else datetime.max.replace(tzinfo=UTC)
        )
