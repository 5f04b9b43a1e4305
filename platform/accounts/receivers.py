"""Sign-in signals → sign-in events. Django's auth signals and axes' lockout signal.

Connected in ``AccountsConfig.ready``. They decide nothing: each hands over to
``sign_in_event_record``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from daicho.accounts.middleware import session_start
from daicho.accounts.models import User
from daicho.accounts.selectors import sign_in_address_lock
from daicho.accounts.services import (
    second_factor_name,
    sign_in_address_failure_record,
    sign_in_address_success,
    sign_in_attempt_end,
    sign_in_event_record,
)


def _refused_by_address_lockout(request: HttpRequest | None) -> bool:
    """True for an attempt refused because its client address was already locked out
    (``backends.SignInLockoutBackend``)."""
    return getattr(request, "daicho_address_locked_out", None) is not None


def _refused_by_lockout(request: HttpRequest | None) -> bool:
    """True for an attempt refused because its username+IP was already locked out.

    axes' backend flags the request before any password is checked; only the failure that
    sets a lockout gets a failure count, whichever receiver runs first.
    """
    return bool(getattr(request, "axes_locked_out", False)) and (
        getattr(request, "axes_failures_since_start", None) is None
    )


def on_user_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is None:
        return
    if hasattr(request, "session"):
        session_start(request)
    # Signed in while the address was locked: a username known there (the lock lets those
    # by), or the lock came between the password and the second factor. Read before this
    # sign-in makes the username known.
    locked = sign_in_address_lock(request, user.get_username()) is not None
    sign_in_address_success(request=request, username=user.get_username())
    sign_in_event_record(
        request=request,
        action="auth.login",
        user=user,
        username=user.get_username(),
        second_factor=second_factor_name(getattr(user, "otp_device", None)),
        **({"address_locked": True} if locked else {}),
    )


def on_user_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already masked the password in credentials; only the username is kept.
    username = str(credentials.get("username") or "")
    extra: dict[str, Any] = {}
    if _refused_by_address_lockout(request):
        extra = {"reason": "address_locked_out"}
    elif _refused_by_lockout(request):
        extra = {"reason": "locked_out"}
    sign_in_event_record(request=request, action="auth.login_failed", username=username, **extra)


def on_user_login_failed_count_address(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Count a failure towards its client address's limit (after axes' own receiver, which
    must see the failure unflagged to count it towards the username+IP's); the failure that
    locks the address is answered with the lockout page, as the one that locks a
    username+IP is, and leaves ``auth.address_lockout``."""
    if request is None or _refused_by_address_lockout(request) or _refused_by_lockout(request):
        return
    username = str(credentials.get("username") or "")
    seconds = sign_in_address_failure_record(request=request, username=username)
    if seconds is None:
        return
    request.axes_locked_out = True  # type: ignore[attr-defined]
    request.daicho_address_locked_out = seconds  # type: ignore[attr-defined]
    sign_in_event_record(
        request=request, action="auth.address_lockout", username=username,
        usernames=settings.SIGN_IN_ADDRESS_FAILURE_LIMIT,
    )  # fmt: skip


def on_user_login_failed_counted(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """The failure is counted (by axes and per address): the next attempt of the username
    from the address may be decided (``services.sign_in_attempt_begin``)."""
    sign_in_attempt_end(request)


def on_user_locked_out(
    sender: Any, request: HttpRequest, username: str | None, **kwargs: Any
) -> None:
    if getattr(request, "axes_failures_since_start", None) is None:
        return  # a refused attempt while locked: already an auth.login_failed
    sign_in_event_record(request=request, action="auth.lockout", username=username or "")


def on_user_logged_out(
    sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    if user is None:
        return
    reason = getattr(request, "daicho_sign_out_reason", None)
    extra = {"reason": reason} if reason else {}
    sign_in_event_record(
        request=request, action="auth.logout", user=user, username=user.get_username(), **extra
    )


def connect() -> None:
    """Connect the receivers; run before axes' app is ready.

    Importing ``axes.signals`` connects axes' own receivers, so it is imported only after
    ours: a failed attempt is then recorded before the lockout it causes. The lockout
    tests check that order. The per-address count is connected after axes': flagging the
    request as locked before axes' receiver ran would make it skip counting the failure.
    The next attempt of the username from the address is let go after both.
    """
    user_logged_in.connect(on_user_logged_in, dispatch_uid="daicho.accounts.logged_in")
    user_login_failed.connect(on_user_login_failed, dispatch_uid="daicho.accounts.login_failed")
    user_logged_out.connect(on_user_logged_out, dispatch_uid="daicho.accounts.logged_out")

    from axes.signals import user_locked_out

    user_locked_out.connect(on_user_locked_out, dispatch_uid="daicho.accounts.locked_out")
    user_login_failed.connect(
        on_user_login_failed_count_address, dispatch_uid="daicho.accounts.login_failed_address"
    )
    # Last: every count of the failure is made.
    user_login_failed.connect(
        on_user_login_failed_counted, dispatch_uid="daicho.accounts.login_failed_counted"
    )
