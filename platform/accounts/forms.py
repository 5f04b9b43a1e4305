"""Sign-in, two-factor and security-settings forms, with Japanese messages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from daicho.accounts.models import CitySecuritySettings


class SignInForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "ユーザー名またはパスワードが正しくありません。",
        "inactive": "このアカウントは利用できません。システム管理者にお問い合わせください。",
    }


class OwnPasswordChangeForm(PasswordChangeForm):
    """Django's form, refusing the current password and one someone else chose: "changing"
    such a password to itself (or away and back) would clear ``must_change_password`` while
    whoever chose it can still sign in with it, unnoticed.

    The current password goes through ``authenticate()`` with the request, as on the sign-in
    page: a wrong one counts towards the lockout and is audited (``auth.login_failed``), so
    a signed-in browser left open is no way to guess it without limit.
    """

    def __init__(self, user: Any, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    @sensitive_variables("old_password")
    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        found = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if found is None or found.pk != self.user.pk:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        new = self.cleaned_data.get("new_password1")
        # Only once the current password was given: otherwise this would tell a guess of it.
        if (
            new
            and not self.errors
            and (self.user.check_password(new) or self.user.is_password_chosen_by_other(new))
        ):
            self.add_error(
                "new_password1",
                ValidationError(
                    "現在のパスワードと異なるパスワードを入力してください。",
                    code="password_unchanged",
                ),
            )
        return cleaned


class OTPCodeForm(forms.Form):
    otp_token = forms.CharField(
        label="確認コード",
        max_length=32,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
        error_messages={"required": "確認コードを入力してください。"},
    )


class TwoFactorRemoveForm(forms.Form):
    password = forms.CharField(
        label="パスワード",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "パスワードを入力してください。"},
    )


MIN_TIMEOUT_MINUTES = 5


class SecuritySettingsForm(forms.ModelForm):
    class Meta:
        model = CitySecuritySettings
        fields = ["require_2fa", "session_timeout_minutes"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # The idle timeout cannot outlast the cap on every session (SESSION_COOKIE_AGE).
        upper = max(MIN_TIMEOUT_MINUTES, settings.SESSION_COOKIE_AGE // 60)
        field = self.fields["session_timeout_minutes"]
        field.validators += [MinValueValidator(MIN_TIMEOUT_MINUTES), MaxValueValidator(upper)]
        field.widget.attrs.update(min=MIN_TIMEOUT_MINUTES, max=upper)
        field.help_text = f"{MIN_TIMEOUT_MINUTES}〜{upper}分の範囲で指定します。"
