"""Staff sign-in on a city's host: password, then a code when a second factor is set up.

Also the two-factor page (set up, verify this session, remove), the city administrator's
security page, and the lockout page axes answers with.
"""

from __future__ import annotations

import time
from base64 import b32encode
from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login

from daicho.accounts import selectors, services
from daicho.accounts.exceptions import PasswordChangedMeanwhile, SignInError
from daicho.accounts.forms import (
    OTPCodeForm,
    OwnPasswordChangeForm,
    SecuritySettingsForm,
    SignInForm,
    TwoFactorRemoveForm,
)
from daicho.accounts.middleware import security_settings_for
from daicho.accounts.models import User
from daicho.accounts.qr import qr_svg

# Between the password and the code: who passed the password, and until when.
PENDING_SESSION_KEY = "daicho_pending_sign_in"
PENDING_SECONDS = 300
PENDING_MAX_FAILURES = 5


def _pending_get(request: HttpRequest) -> dict[str, Any] | None:
    pending = request.session.get(PENDING_SESSION_KEY)
    if not pending:
        return None
    if time.time() - pending["started"] > PENDING_SECONDS:
        del request.session[PENDING_SESSION_KEY]
        return None
    return pending


def _safe_next(request: HttpRequest, url: str) -> str:
    allowed = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if url and allowed else settings.LOGIN_REDIRECT_URL


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class SignInView(LoginView):
    """Step 1: username and password. With a confirmed second factor, go on to step 2.

    Django's ``login()`` (and so the ``auth.login`` event) happens only once every step
    has passed.
    """

    template_name = "registration/login.html"
    form_class = SignInForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(failure_limit=settings.AXES_FAILURE_LIMIT, **kwargs)

    def form_valid(self, form: SignInForm) -> HttpResponse:
        user = form.get_user()
        if not selectors.confirmed_devices(user):
            return super().form_valid(form)
        self.request.session[PENDING_SESSION_KEY] = {
            "user_id": user.pk,
            # The password this step passed (as a session keeps it): the code step ends if
            # it has changed since.
            "auth_hash": user.get_session_auth_hash(),
            "backend": user.backend,  # type: ignore[attr-defined]  # set by authenticate()
            "next": self.get_redirect_url(),
            "started": int(time.time()),
            "failures": 0,
        }
        return redirect("login_verify")


@sensitive_post_parameters("otp_token")
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def sign_in_verify(request: HttpRequest) -> HttpResponse:
    """Step 2: a code from the authenticator app, or a backup code."""
    pending = _pending_get(request)
    user = None
    if pending is not None:
        user = User.objects.filter(pk=pending["user_id"], is_active=True).first()
    if pending is None or user is None:
        request.session.pop(PENDING_SESSION_KEY, None)
        messages.info(request, "時間が経過したため、最初からログインし直してください。")
        return redirect("login")
    if not constant_time_compare(pending.get("auth_hash", ""), user.get_session_auth_hash()):
        # The password changed (its owner, an administrator's reset) since the password step:
        # a code now would sign in a session valid against the new password.
        request.session.pop(PENDING_SESSION_KEY, None)
        messages.info(request, "パスワードが変更されたため、最初からログインし直してください。")
        return redirect("login")

    form = OTPCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.two_factor_verify(
                user=user, token=form.cleaned_data["otp_token"], request=request
            )
        except SignInError as error:
            pending["failures"] += 1
            if pending["failures"] >= PENDING_MAX_FAILURES:
                del request.session[PENDING_SESSION_KEY]
                messages.error(
                    request, "確認コードの誤りが続いたため、最初からログインし直してください。"
                )
                return redirect("login")
            request.session[PENDING_SESSION_KEY] = pending
            form.add_error("otp_token", str(error))
        else:
            del request.session[PENDING_SESSION_KEY]
            # django-otp keeps the device in the session when login() sees it on the user.
            user.otp_device = device  # type: ignore[attr-defined]
            login(request, user, backend=pending["backend"])
            return redirect(_safe_next(request, pending["next"]))
    return render(request, "registration/login_verify.html", {"form": form})


def _session_verify(request: HttpRequest, device: Any) -> None:
    """This signed-in session is now verified by ``device``: under a new key, as ``login()``
    gives one at sign-in, so that a copy of its cookie taken while it was a password-only
    session does not become a verified one with it."""
    otp_login(request, device)
    request.session.cycle_key()


def _secret_for_typing(key_hex: str) -> str:
    secret = b32encode(bytes.fromhex(key_hex)).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@sensitive_post_parameters("otp_token")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """二要素認証: set it up, verify this session with it, or see that it is on."""
    user = request.user
    assert isinstance(user, User)
    confirmed = selectors.totp_device_confirmed(user)
    form = OTPCodeForm(request.POST or None)

    if confirmed is None:
        device = services.totp_device_for_enrolment(actor=user, session=request.session)
        if request.method == "POST" and form.is_valid():
            try:
                device, codes = services.two_factor_enable(
                    actor=user, token=form.cleaned_data["otp_token"], request=request
                )
            except SignInError as error:
                form.add_error("otp_token", str(error))
            else:
                _session_verify(request, device)
                return render(request, "accounts/two_factor_enabled.html", {"codes": codes})
        uri = device.config_url
        return render(
            request,
            "accounts/two_factor_setup.html",
            {
                "form": form,
                "otpauth_uri": uri,
                "qr_svg": mark_safe(qr_svg(uri)),  # noqa: S308  (our own SVG, no user text)
                "secret": _secret_for_typing(device.key),
                "required": security_settings_for(request).require_2fa,
            },
        )

    verified = user.is_verified()  # type: ignore[attr-defined]
    if not verified and request.method == "POST" and form.is_valid():
        try:
            device = services.two_factor_verify(
                user=user, token=form.cleaned_data["otp_token"], request=request
            )
        except SignInError as error:
            form.add_error("otp_token", str(error))
        else:
            _session_verify(request, device)
            messages.success(request, "このログインを二要素認証で確認しました。")
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(
        request,
        "accounts/two_factor_status.html",
        {
            "verified": verified,
            "form": form,
            "remove_form": TwoFactorRemoveForm(),
            "backup_codes_remaining": selectors.backup_codes_remaining(user),
            "required": security_settings_for(request).require_2fa,
        },
    )


@sensitive_post_parameters("password")
@never_cache
@login_required
@require_POST
def two_factor_remove(request: HttpRequest) -> HttpResponse:
    """Remove the authenticator app and backup codes, after the password again."""
    user = request.user
    assert isinstance(user, User)
    form = TwoFactorRemoveForm(request.POST)
    if form.is_valid():
        try:
            services.two_factor_disable(
                actor=user, password=form.cleaned_data["password"], request=request
            )
        except SignInError as error:
            form.add_error("password", str(error))
        else:
            request.session.pop(DEVICE_ID_SESSION_KEY, None)
            user.otp_device = None  # type: ignore[attr-defined]
            messages.success(request, "二要素認証を解除しました。")
            return redirect("two_factor")
    return render(
        request,
        "accounts/two_factor_status.html",
        {
            "verified": user.is_verified(),  # type: ignore[attr-defined]
            "form": OTPCodeForm(),
            "remove_form": form,
            "backup_codes_remaining": selectors.backup_codes_remaining(user),
            "required": security_settings_for(request).require_2fa,
        },
        status=400,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def security_settings(request: HttpRequest) -> HttpResponse:
    """セキュリティ設定: the city's sign-in rules and current lockouts (自治体管理者 only)."""
    user = request.user
    assert isinstance(user, User)
    if not (user.is_city_admin or user.is_superuser):
        raise PermissionDenied("この画面は自治体管理者のみ利用できます。")
    current = selectors.security_settings_get()
    form = SecuritySettingsForm(instance=current)
    if request.method == "POST" and request.POST.get("action") == "unlock":
        username = request.POST.get("username", "")
        services.lockout_release(actor=user, username=username, request=request)
        messages.success(request, f"{username} のロックを解除しました。")
        return redirect("security_settings")
    if request.method == "POST" and request.POST.get("action") == "unlock_address":
        try:
            address = services.sign_in_address_release(
                actor=user, address=request.POST.get("address", ""), request=request
            )
        except SignInError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"接続元 {address} のロックを解除しました。")
        return redirect("security_settings")
    if request.method == "POST":
        form = SecuritySettingsForm(request.POST, instance=selectors.security_settings_get())
        if form.is_valid():
            services.security_settings_update(
                actor=user,
                require_2fa=form.cleaned_data["require_2fa"],
                session_timeout_minutes=form.cleaned_data["session_timeout_minutes"],
                request=request,
            )
            messages.success(request, "セキュリティ設定を保存しました。")
            return redirect("security_settings")
    return render(
        request,
        "accounts/security_settings.html",
        {
            "form": form,
            "lockouts": selectors.lockouts_active(),
            "address_lockouts": selectors.sign_in_address_lockouts(),
        },
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The page axes answers with while a username+IP, or a client address (too many
    usernames failed from it), is locked out (429, in Japanese); on ``/api/`` (the token
    endpoint) the API's error shape, with ``Retry-After``. An address's answer is the same
    whatever the username, known or not."""
    address_left = getattr(request, "daicho_address_locked_out", None)
    if address_left is not None:
        seconds: int | None = int(address_left)
    else:
        cool_off = get_cool_off(request)
        seconds = int(cool_off.total_seconds()) if cool_off else None
    # Rounded up: "come back in 0 minutes" helps nobody.
    minutes = -(-seconds // 60) if seconds else None
    if request.path_info.startswith("/api/"):
        who = "この接続元からの" if address_left is not None else ""
        response = JsonResponse(
            {
                "code": "ERROR_LOCKED_OUT",
                "message": f"{who}ログインの失敗が続いたため、しばらくの間ロックされています。"
                + (f"{minutes}分後にもう一度お試しください。" if minutes else ""),
                "detail": {"retry_after": seconds} if seconds else {},
            },
            status=settings.AXES_HTTP_RESPONSE_CODE,
        )
        if seconds:
            response["Retry-After"] = str(seconds)
        return response
    return render(
        request,
        "accounts/lockout.html",
        {
            "minutes": minutes,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "address": address_left is not None,
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


@never_cache
@login_required
@sensitive_post_parameters()
@csrf_protect
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """パスワードの変更: one's own, with the current one. Required before anything else when
    someone else chose it (``User.must_change_password``)."""
    user = request.user
    assert isinstance(user, User)
    form = OwnPasswordChangeForm(user, request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                actor=user, new_password=form.cleaned_data["new_password1"], request=request
            )
        except PasswordChangedMeanwhile as changed:
            # This session was signed in with the password replaced meanwhile: it ends.
            logout(request)
            messages.error(request, str(changed))
            return redirect("login")
        messages.success(request, "パスワードを変更しました。")
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "required": user.must_change_password},
    )
