"""The operators' admin on the public host, with a second factor when required."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path
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

    def get_urls(self) -> list[URLPattern | URLResolver]:
        urls = super().get_urls()
        own = path(
            "r/<int:content_type_id>/<path:object_id>/",
            self.admin_view(self.view_on_site),
            name="view_on_site",
        )
        return [own if getattr(url, "name", None) == "view_on_site" else url for url in urls]

    def view_on_site(
        self, request: HttpRequest, content_type_id: int, object_id: str
    ) -> HttpResponse:
        """Django's 「サイトで表示」 shortcut, for a model of this admin that has a page on a
        site (``get_absolute_url``); 404 for any other, before anything is looked up.

        Django's looked the object up in the public schema for any content type: a
        city's model (a ledger, a record, an audit event) has no table there, and the
        answer was a server error. No model of this admin has a page today."""
        content_type = ContentType.objects.filter(pk=content_type_id).first()
        model: Any = content_type.model_class() if content_type is not None else None
        if model is None or not self.is_registered(model) or not hasattr(model, "get_absolute_url"):
            raise Http404
        return shortcut(request, content_type_id, object_id)
