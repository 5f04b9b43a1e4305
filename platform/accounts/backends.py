"""The lockout check that runs before any password is compared."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class SignInLockoutBackend(AxesStandaloneBackend):
    """axes' ``AxesStandaloneBackend``: refuses a locked-out username+IP.

    It differs in one case only: ``authenticate()`` called without a request (Django's test
    ``Client.login``, a shell) has no client address to lock and is passed on to the next
    backend, where axes would raise. Every web sign-in passes its request (Django's
    ``LoginView``, the admin's login, DRF's basic authentication).
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
        return super().authenticate(request, username, password, **kwargs)
