"""The operators' admin on the public host, with a second factor when required."""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


class OperatorAdminSite(AdminSite):
    """Django's admin site, or django-otp's ``OTPAdminSite`` when ``OPERATOR_REQUIRE_2FA``.

    The setting is read on each request rather than at start-up, so tests can turn it on
    and off. ``AccountsConfig.ready`` makes the default ``admin.site`` one of these, so
    every app's ``admin.py`` keeps registering on ``admin.site``. Operators add their
    authenticator app under 「TOTP devices」; the first one signs in with a static token
    (``manage.py addstatictoken <username>``, docs/sign-in.md).
    """

    @property  # type: ignore[override]
    def login_form(self) -> type[AdminAuthenticationForm]:
        if settings.OPERATOR_REQUIRE_2FA:
            return OTPAdminAuthenticationForm
        return AdminAuthenticationForm

    @property  # type: ignore[override]
    def login_template(self) -> str | None:
        if settings.OPERATOR_REQUIRE_2FA:
            return OTPAdminSite.login_template
        return None

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        if not settings.OPERATOR_REQUIRE_2FA:
            return True
        is_verified = getattr(request.user, "is_verified", None)
        return bool(is_verified and is_verified())
