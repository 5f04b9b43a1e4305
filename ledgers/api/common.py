"""Authentication, scopes and rate limits shared by every API view."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    get_authorization_header,
)
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from daicho.caching import redis_client
from ledgers.api.tokens.models import ApiToken
from ledgers.api.tokens.services import token_authenticate, token_has_scope

logger = logging.getLogger(__name__)


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
        token = token_authenticate(raw, generation=getattr(request, "access_generation", None))
        if token is None:
            raise exceptions.AuthenticationFailed("トークンが無効か、期限切れか、失効しています。")
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
        scope = scopes.get(request.method, scopes.get("*"))
        if scope is None:
            return True
        token = request.auth if isinstance(request.auth, ApiToken) else None
        return token_has_scope(token, scope)


class _LiveRateThrottle(SimpleRateThrottle):
    """A counter per client and window in Redis (one round trip), rate read when used.

    DRF's throttle keeps every request's timestamp in one cached list, read and rewritten
    whole on each request: at thousands per minute that list costs more than the request.
    Here a window starts at a client's first request and allows ``num_requests`` until it
    expires (a burst across two windows may reach twice the rate, never more).
    """

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        key = cache.make_key(key)
        client = redis_client()
        pipe = client.pipeline(transaction=False)
        pipe.set(key, 0, ex=self.duration, nx=True)
        pipe.incr(key)
        count = pipe.execute()[1]
        if count <= self.num_requests:
            return True
        self._retry_after = max(1, client.ttl(key))
        return False

    def wait(self) -> float | None:
        return getattr(self, "_retry_after", None)


class TokenRateThrottle(_LiveRateThrottle):
    """Requests per token (or per session user) per minute, counted in Redis."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"t:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"u:{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AddressRateThrottle(_LiveRateThrottle):
    """Requests per client address per minute, authenticated or not."""

    scope = "address"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
