"""The web UI's middleware, stepped over by API requests that bear a token.

Sessions, CSRF, the signed-in user, the second factor, messages, the session timeout and
the 2FA redirect serve people signed in through a browser. A request to
``/api/`` with ``Authorization: Bearer …`` is authenticated by its token alone
(``ledgers.api.common.BearerTokenAuthentication``: DRF never falls back to the session
when the header is there), never reads a session and is not forged across sites (a page
cannot set that header on another site's request without its consent). Each of these
middleware classes is the original with that one difference: such a request goes straight
to the next one. They cost 0.21–0.27 ms of a ~2.1–2.7 ms record read (measured
2026-11-29, the two middleware chains in alternating blocks). Every other request, the web UI's own calls to
the API included, passes through them as before.

Each class here subclasses the original, so the admin's checks of what is installed still
find them. axes' middleware stays itself (its check wants its own path; it only looks at
the response of a request that signed in).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Sessions
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware as _Csrf
from django_otp.middleware import OTPMiddleware as _Otp
from rest_framework.authentication import get_authorization_header

from daicho.accounts import middleware as _accounts


def bears_token(request: HttpRequest) -> bool:
    """An API request whose ``Authorization`` header names the Bearer scheme, read as the
    token authentication reads it (DRF's ``get_authorization_header``, split on ASCII
    whitespace): that authentication then decides alone, a bad token being a 401, never a
    fallback to the session. Read once per request (seven middleware classes ask)."""
    known = getattr(request, "_bears_token", None)
    if known is None:
        known = False
        if request.path_info.startswith("/api/"):
            parts = get_authorization_header(request).split()
            known = bool(parts) and parts[0].lower() == b"bearer"
        request._bears_token = known  # type: ignore[attr-defined]
    return known


def _stepped_over_by_tokens(original: type) -> type:
    """``original`` with requests that bear a token passed straight on."""

    def __call__(self: Any, request: HttpRequest) -> HttpResponse:
        if bears_token(request):
            return self.get_response(request)
        return original.__call__(self, request)

    namespace: dict[str, Any] = {"__call__": __call__, "__module__": __name__}
    if hasattr(original, "process_view"):

        def process_view(self: Any, request: HttpRequest, *args: Any) -> HttpResponse | None:
            if bears_token(request):
                return None
            return original.process_view(self, request, *args)

        namespace["process_view"] = process_view
    namespace["__doc__"] = (
        f"``{original.__module__}.{original.__qualname__}``, stepped over by token requests."
    )
    return type(original.__name__, (original,), namespace)


SessionMiddleware = _stepped_over_by_tokens(_Sessions)
CsrfViewMiddleware = _stepped_over_by_tokens(_Csrf)
AuthenticationMiddleware = _stepped_over_by_tokens(_Authentication)
OTPMiddleware = _stepped_over_by_tokens(_Otp)
MessageMiddleware = _stepped_over_by_tokens(_Messages)
SessionTimeoutMiddleware = _stepped_over_by_tokens(_accounts.SessionTimeoutMiddleware)
TwoFactorRequiredMiddleware = _stepped_over_by_tokens(_accounts.TwoFactorRequiredMiddleware)
PasswordChangeRequiredMiddleware = _stepped_over_by_tokens(
    _accounts.PasswordChangeRequiredMiddleware
)
