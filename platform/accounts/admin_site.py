"""The operators' admin on the public host, with a second factor when required."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import logout as auth_logout
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from daicho.accounts.exceptions import (
    OperatorChangeRefused,
    PasswordChangedMeanwhile,
    SignInError,
)
from daicho.accounts.forms import OwnPasswordChangeForm
from daicho.accounts.models import User
from daicho.accounts.operators import (
    ADDRESS_LOCK,
    operator_address_release,
    operator_password_change,
)
from daicho.accounts.selectors import sign_in_address_lockouts

#: The admin's views an operator whose password someone else set may still open.
PASSWORD_CHANGE_EXEMPT_VIEWS = frozenset(
    {"password_change", "password_change_done", "logout", "jsi18n"}
)


def _malformed(request: HttpRequest) -> bool:
    """A parameter holding a NUL (PostgreSQL refuses it in text: a filter of a list, an
    autocomplete's term), or a list action's selection that is no key (every model of this
    admin has integer keys): Django's admin passed both on to the database, a server error."""
    for data in (request.GET, request.POST):
        for name, values in data.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return True
    return any(
        not (key.isascii() and key.isdigit()) for key in request.POST.getlist(ACTION_CHECKBOX_NAME)
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
        """Django's, with a malformed request answered 400 (``_malformed``), and an operator
        whose password someone else set (a new account's, a superuser's reset:
        ``User.must_change_password``) reaches only the password page
        (and signing out) until they have changed it: whoever chose it and signs in with it
        can do nothing but change it, which its owner notices (their password no longer
        works) and the admin's log shows."""

        @wraps(view)
        def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if _malformed(request):
                return HttpResponseBadRequest("リクエストの内容が正しくありません。")
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
        address_locks = path(
            "sign-in-address-locks/",
            self.admin_view(self.sign_in_address_locks),
            name="sign_in_address_locks",
        )
        return [
            address_locks,
            *(own if getattr(url, "name", None) == "view_on_site" else url for url in urls),
        ]

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        """Django's, and for a superuser the operators' locked addresses
        (``sign_in_address_locks``) listed with axes' pages (the index, axes' section, the
        sidebar)."""
        apps = super().get_app_list(request, app_label)
        if not request.user.is_superuser:
            return apps
        for app in apps:
            if app["app_label"] == "axes":
                app["models"].append({
                    "model": None, "name": ADDRESS_LOCK, "object_name": "SignInAddressLock",
                    "perms": {"add": False, "change": False, "delete": True, "view": True},
                    "admin_url": reverse("admin:sign_in_address_locks", current_app=self.name),
                    "add_url": None, "view_only": True,
                })  # fmt: skip
        return apps

    @method_decorator(require_http_methods(["GET", "POST"]))
    def sign_in_address_locks(self, request: HttpRequest) -> HttpResponse:
        """「ログインの接続元のロック」: the client addresses locked now for the operators'
        sign-ins (too many usernames failed from one: ``sign_in_address_failure_record``
        on the public schema, in Redis), each with the lock's end, and a POST (``address``)
        that lifts one (``operator_address_release``, in the admin's log). Superusers only,
        403 to any other operator whatever their permissions, as axes' pages; CSRF-checked
        as every admin view. Before, these locks were seen and lifted nowhere: a city's
        administrators have theirs on /accounts/security/, axes' pages show its own records."""
        if not request.user.is_superuser:
            raise PermissionDenied
        if request.method == "POST":
            operator = request.user
            assert isinstance(operator, User)
            try:
                address = operator_address_release(
                    actor=operator, address=request.POST.get("address", "")
                )
            except OperatorChangeRefused as refused:
                raise PermissionDenied(str(refused)) from refused
            except SignInError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, f"接続元 {address} のロックを解除しました。")
            return redirect("admin:sign_in_address_locks")
        context = {
            **self.each_context(request),
            "title": ADDRESS_LOCK,
            "lockouts": sign_in_address_lockouts(),
        }
        return TemplateResponse(request, "admin/accounts/sign_in_address_locks.html", context)

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
