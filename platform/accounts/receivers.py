"""Sign-in signals → sign-in events. Django's auth signals and axes' lockout signal.

Connected in ``AccountsConfig.ready``. They decide nothing: each hands over to
``sign_in_event_record``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from daicho.accounts.middleware import session_start
from daicho.accounts.models import User
from daicho.accounts.services import second_factor_name, sign_in_event_record


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
    sign_in_event_record(
        request=request,
        action="auth.login",
        user=user,
        username=user.get_username(),
        second_factor=second_factor_name(getattr(user, "otp_device", None)),
    )


def on_user_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already masked the password in credentials; only the username is kept.
    username = str(credentials.get("username") or "")
    extra = {"reason": "locked_out"} if _refused_by_lockout(request) else {}
    sign_in_event_record(request=request, action="auth.login_failed", username=username, **extra)


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
    tests check that order.
    """
    user_logged_in.connect(on_user_logged_in, dispatch_uid="daicho.accounts.logged_in")
    user_login_failed.connect(on_user_login_failed, dispatch_uid="daicho.accounts.login_failed")
    user_logged_out.connect(on_user_logged_out, dispatch_uid="daicho.accounts.logged_out")

    from axes.signals import user_locked_out

    user_locked_out.connect(on_user_locked_out, dispatch_uid="daicho.accounts.locked_out")
