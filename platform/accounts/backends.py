"""The lockout check that runs before any password is compared."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from django.http import HttpRequest

from daicho.accounts.selectors import sign_in_address_lock
from daicho.accounts.services import sign_in_attempt_begin


class SignInLockoutBackend(AxesStandaloneBackend):
    """axes' ``AxesStandaloneBackend``: refuses a locked-out username+IP, and before it a
    locked client address (too many usernames failed from it, password spraying:
    ``services.sign_in_address_failure_record``).

    A locked address is refused as axes refuses a locked username+IP: flagged on the
    request (``axes_locked_out``, and ``daicho_address_locked_out`` with the seconds left),
    so that ``AxesMiddleware`` answers ``views.lockout_response`` (429) whatever the
    username, existing or not, unless the username signed in from the address within
    ``SIGN_IN_ADDRESS_KNOWN_DAYS``: one colleague spraying usernames from an office's shared
    address then locks out strangers, not the office. Such a username goes on to axes'
    own per-username+IP check and the password (its ``auth.login`` says
    ``address_locked``).

    ``authenticate()`` called without a request (Django's test ``Client.login``, a shell)
    has no client address to lock and is passed on to the next backend, where axes would
    raise. Every web sign-in passes its request (Django's ``LoginView``, the admin's login,
    DRF's basic authentication).

    Attempts of one username from one address wait for each other
    (``services.sign_in_attempt_begin``): asked at once, each passed axes' check before any
    of them was counted.
    """

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        # Attempts of one username from one address are decided one after the other, each
        # asked after the failure before it was counted (released by the last receiver of
        # ``user_login_failed`` and at the end of the request).
        sign_in_attempt_begin(request=request, username=username)
        lock = sign_in_address_lock(request, username)
        if lock is not None and not lock.username_known:
            request.axes_locked_out = True  # type: ignore[attr-defined]
            request.daicho_address_locked_out = lock.seconds_left  # type: ignore[attr-defined]
            raise AxesBackendPermissionDenied("the client address is locked out")
        return super().authenticate(request, username, password, **kwargs)
