"""A Content-Security-Policy for the web UI's pages.

Django 5.2 sets X-Frame-Options, nosniff and the referrer policy, not a CSP. The city's
pages (sign-in, two-factor, password, security settings, home) load nothing from
elsewhere and run no script: the policy says so, so that an injection that got past the
templates' escaping could neither run script nor send a form elsewhere. The API answers
JSON (no policy needed), its docs page (``/api/docs/``) starts Swagger UI with an inline
script, and the operators' admin is Django's own: both are left to their defaults.

Every answer under ``/api/`` is marked ``Cache-Control: no-store`` (``ApiNoStoreMiddleware``):
records, lists, versions and search results carry personal data, and a 200 with an ``ETag``
and no cache directive is heuristically cacheable, so a browser signed in on a shared
counter PC kept a DV victim's address in its disk cache, and a caching proxy could too.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django.views.debug import SafeExceptionReporterFilter

_EXEMPT_PREFIXES = ("/api/", "/admin/", "/static/")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if (
            policy
            and not request.path_info.startswith(_EXEMPT_PREFIXES)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            response.headers.setdefault("Content-Security-Policy", policy)
        return response


class ApiNoStoreMiddleware:
    """``Cache-Control: no-store`` (Django's ``never_cache``) on every API answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith("/api/"):
            add_never_cache_headers(response)
        return response


class SettingsFilter(SafeExceptionReporterFilter):
    """Django's error page (DEBUG: ``make run``) and error reports list the settings,
    hiding those whose names say secret. A URL with a password (``DATABASE_URL``,
    ``REDIS_URL``, the cache's ``LOCATION``, Celery's broker and result backend; the
    embedded servers' passwords are in theirs) says no such thing: these are hidden too."""

    hidden_settings = re.compile(
        SafeExceptionReporterFilter.hidden_settings.pattern + "|URL|LOCATION|RESULT_BACKEND",
        flags=re.IGNORECASE,
    )
