"""Session expiry and mandatory two-factor authentication, after Django's auth middleware."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from daicho.accounts.models import CitySecuritySettings
from daicho.accounts.selectors import has_confirmed_device, on_public_schema, security_settings_get
from daicho.accounts.services import sign_in_attempt_end

SESSION_SIGNED_IN_AT = "daicho_signed_in_at"
SESSION_LAST_SEEN = "daicho_last_seen"
# Writing the session on every request costs a database write; once a minute is enough
# for a timeout counted in minutes.
LAST_SEEN_RESOLUTION_SECONDS = 60

SIGNED_OUT_MESSAGES = {
    "idle_timeout": "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。",
    "session_expired": "ログインしてから長時間が経過したため、ログアウトしました。もう一度ログインしてください。",
}


def security_settings_for(request: HttpRequest) -> CitySecuritySettings:
    """The city's rules, read once per request."""
    cached = getattr(request, "_daicho_security_settings", None)
    if cached is None:
        cached = security_settings_get()
        request._daicho_security_settings = cached  # type: ignore[attr-defined]
    return cached


def session_start(request: HttpRequest) -> None:
    """Stamp a new sign-in's session: when it began and when it was last used."""
    now = int(time.time())
    request.session[SESSION_SIGNED_IN_AT] = now
    request.session[SESSION_LAST_SEEN] = now


def _timeout_seconds(request: HttpRequest) -> int:
    if on_public_schema():
        return settings.OPERATOR_SESSION_TIMEOUT_MINUTES * 60
    return security_settings_for(request).session_timeout_minutes * 60


class SignInAttemptMiddleware:
    """Ends the sign-in attempt a request holds (``services.sign_in_attempt_begin``) when its
    answer is ready, whatever came of it: a sign-in that succeeded, an error. A failure is
    let go earlier, once counted."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        finally:
            sign_in_attempt_end(request)


class SessionTimeoutMiddleware:
    """Sign out a session idle for longer than the city's timeout, or older than the cap.

    The idle timeout is the city's ``session_timeout_minutes`` (operators:
    ``OPERATOR_SESSION_TIMEOUT_MINUTES``); the cap is ``SESSION_COOKIE_AGE`` counted from
    the sign-in. Django's own expiry slides with every session write, so it cannot be the
    cap. The request then goes on as an anonymous one: a page that needs a user sends it
    to the sign-in page, where a message says why.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        now = int(time.time())
        session = request.session
        signed_in_at = session.get(SESSION_SIGNED_IN_AT)
        last_seen = session.get(SESSION_LAST_SEEN)
        reason = None
        if signed_in_at is not None and now - signed_in_at > settings.SESSION_COOKIE_AGE:
            reason = "session_expired"
        elif (
            last_seen is not None
            # Timeouts are whole minutes: a session used within the last one has not expired,
            # and the city's settings need not be read.
            and now - last_seen > LAST_SEEN_RESOLUTION_SECONDS
            and now - last_seen > _timeout_seconds(request)
        ):
            reason = "idle_timeout"
        if reason is not None:
            request.daicho_sign_out_reason = reason  # type: ignore[attr-defined]
            logout(request)
            messages.info(request, SIGNED_OUT_MESSAGES[reason])
            return
        if signed_in_at is None:
            session[SESSION_SIGNED_IN_AT] = now
        if last_seen is None or now - last_seen >= LAST_SEEN_RESOLUTION_SECONDS:
            session[SESSION_LAST_SEEN] = now


# The views a signed-in user without a second factor may still reach when the city
# requires one: signing in and out, setting up the second factor. The password page too,
# but only for staff without a device of their own (``TwoFactorRequiredMiddleware``).
TWO_FACTOR_EXEMPT_VIEWS = frozenset({"login", "login_verify", "logout", "two_factor"})
# The views a signed-in user whose password someone else chose may still reach.
PASSWORD_CHANGE_EXEMPT_VIEWS = frozenset({"login", "login_verify", "logout", "password_change"})


class _SignedInGate:
    """A step a signed-in member of a city's staff must take before any other page: the
    views in ``exempt_views`` stay open, the others answer what ``gate`` says (``None``:
    pass). Sessions only (token requests step over it, ``ui_middleware``); not on the
    operators' host."""

    exempt_views: frozenset[str] = frozenset()

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        session = getattr(request, "session", None)
        if session is None or SESSION_KEY not in session or on_public_schema():
            return None
        match = request.resolver_match
        if match is not None and match.view_name in self.exempt_views:
            return None
        if not request.user.is_authenticated:
            return None
        return self.gate(request)

    def gate(self, request: HttpRequest) -> HttpResponse | None:
        raise NotImplementedError


class TwoFactorRequiredMiddleware(_SignedInGate):
    """Send staff not verified by a device to ``/accounts/2fa/`` when the city requires 2FA,
    or when they have a confirmed device (set up in another session since this one signed
    in with the password: whoever holds this one must give a code too, or a stolen
    password's session would outlive the app its owner set up, and could remove it).

    Every other view answers a redirect (302) to ``/accounts/2fa/`` until they have set up
    an authenticator app (or verified this session with it). The operators' host is left
    to the admin site (``OPERATOR_REQUIRE_2FA``).
    """

    exempt_views = TWO_FACTOR_EXEMPT_VIEWS

    def gate(self, request: HttpRequest) -> HttpResponse | None:
        is_verified = getattr(request.user, "is_verified", None)
        if is_verified is not None and is_verified():
            return None
        # The device query only for unverified sessions in a city that does not require 2FA
        # (and on the password page).
        required = security_settings_for(request).require_2fa
        if not required and not has_confirmed_device(request.user):
            return None
        match = request.resolver_match
        # Staff without a device change a password someone else chose before they set one
        # up (``PasswordChangeRequiredMiddleware`` sends them there first). Staff with one
        # verify this session first: a session signed in with the password before the
        # device was set up elsewhere changed the password, ending its owner's sessions and
        # shutting them out. ``must_change_password`` keeps the page open even then, or the
        # two gates would send each other's pages away.
        if (
            match is not None
            and match.view_name == "password_change"
            and (
                getattr(request.user, "must_change_password", False)
                or (required and not has_confirmed_device(request.user))
            )
        ):
            return None
        return redirect("two_factor")


class PasswordChangeRequiredMiddleware(_SignedInGate):
    """Staff whose password someone else chose (``User.must_change_password``: the first
    administrator, whose password the operator typed at provisioning; an account a city
    administrator created or reset) reach only the password page until they change it: a
    page answers a redirect to ``/accounts/password/``, an API call 403
    ``ERROR_PASSWORD_CHANGE_REQUIRED``. Whoever knew the chosen password can then use it
    only by changing it, which the owner notices (their password no longer works) and the
    audit trail shows (``auth.password_changed``, with the address)."""

    exempt_views = PASSWORD_CHANGE_EXEMPT_VIEWS

    def gate(self, request: HttpRequest) -> HttpResponse | None:
        if not getattr(request.user, "must_change_password", False):
            return None
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {
                    "code": "ERROR_PASSWORD_CHANGE_REQUIRED",
                    "message": "初期パスワードを変更してください（画面の「パスワードの変更」）。",
                    "detail": {},
                },
                status=403,
            )
        return redirect("password_change")
