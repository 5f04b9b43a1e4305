"""The operators' admin on the public host, with a second factor when required."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import logout as auth_logout
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from daicho.accounts.exceptions import PasswordChangedMeanwhile
from daicho.accounts.forms import OwnPasswordChangeForm
from daicho.accounts.models import User
from daicho.accounts.operators import operator_password_change

#: The admin's views an operator whose password someone else set may still open.
PASSWORD_CHANGE_EXEMPT_VIEWS = frozenset(
    {"password_change", "password_change_done", "logout", "jsi18n"}
)


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

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        """Django's, and an operator whose password someone else set (a new account's, a
        superuser's reset: ``User.must_change_password``) reaches only the password page
        (and signing out) until they have changed it: whoever chose it and signs in with it
        can do nothing but change it, which its owner notices (their password no longer
        works) and the admin's log shows."""

        @wraps(view)
        def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            match = request.resolver_match
            if getattr(request.user, "must_change_password", False) and (
                match is None or match.url_name not in PASSWORD_CHANGE_EXEMPT_VIEWS
            ):
                messages.warning(
                    request,
                    "このパスワードは他の人が設定したものです。変更するまで他の画面は使えません。",
                )
                return redirect("admin:password_change")
            return view(request, *args, **kwargs)

        return super().admin_view(gated, cacheable)

    @method_decorator(sensitive_post_parameters())
    @method_decorator(csrf_protect)
    @method_decorator(never_cache)
    # Django's answers the page only; this one answers a redirect once changed too.
    def password_change(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The operator's own password, with the current one (checked as a sign-in is, so a
        wrong one counts towards the lockout), never one someone else chose for them; saved
        by ``operator_password_change`` (Django's view saved what its form checked, with
        the current password read through no lockout)."""
        request.current_app = self.name
        operator = request.user
        assert isinstance(operator, User)
        form = OwnPasswordChangeForm(operator, request.POST or None, request=request)
        if request.method == "POST" and form.is_valid():
            try:
                operator_password_change(
                    actor=operator, new_password=form.cleaned_data["new_password1"],
                    request=request,
                )  # fmt: skip
            except PasswordChangedMeanwhile as changed:
                auth_logout(request)
                messages.error(request, str(changed))
                return redirect("admin:login")
            return redirect("admin:password_change_done")
        context = {
            **self.each_context(request),
            "form": form,
            "title": "パスワードの変更",
            **(extra_context or {}),
        }
        return TemplateResponse(
            request,
            self.password_change_template or "registration/password_change_form.html",
            context,
        )

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
