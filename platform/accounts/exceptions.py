"""Errors of accounts and sign-in, each with the Japanese message staff and operators see."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class SignInError(Exception):
    """Base of the errors the sign-in and two-factor services raise."""

    message = "認証に失敗しました。"

    def __str__(self) -> str:
        return self.message


class TwoFactorCodeInvalid(SignInError):
    message = (
        "確認コードが正しくありません。認証アプリに表示されている最新のコードを入力してください。"
    )


class TwoFactorThrottled(SignInError):
    message = "確認コードの誤りが続いたため、しばらく受け付けません。少し待ってから、新しいコードを入力してください。"


class TwoFactorNotStarted(SignInError):
    message = "二要素認証の設定が始まっていません。設定画面を開き直してください。"


class PasswordIncorrect(SignInError):
    message = "パスワードが正しくありません。"


class AddressInvalid(SignInError):
    message = "IPアドレスが正しくありません。"


class PasswordChangedMeanwhile(SignInError):
    """The password was changed (an administrator's reset) or the account deactivated while
    the holder's own change was being checked: the holder's change is not made."""

    message = (
        "パスワードの変更中に、管理者によるリセットなどでパスワードが変更されたため、"
        "変更しませんでした。もう一度ログインしてください。"
    )


class OperatorChangeRefused(Exception):
    """A change of an operator's account (public schema) its actor may not make, or one that
    would leave the platform without an active superuser: ``errors`` maps each field (None:
    the account as a whole) to the Japanese reasons. Nothing was changed."""

    def __init__(self, errors: dict[str | None, list[str]]) -> None:
        self.errors = errors
        super().__init__(" ".join(message for messages in errors.values() for message in messages))


class UsernameTaken(ValidationError):
    """A username another account of the schema already holds, or holds but for letter case
    (Tanaka beside tanaka reads as the same person in the audit trail and on every screen
    that names who did what): ``holder`` is the username as that account holds it. A
    ``ValidationError`` of the field ``username``, so that Django's forms and
    ``createsuperuser`` show it as they show their own; nothing was written."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        super().__init__(
            {"username": [ValidationError(username_taken_message(holder), code="username_taken")]}
        )


def username_taken_message(holder: str) -> str:
    """What staff and operators read when a username, or one differing only by case, is
    held by another account (``holder``, as that account holds it)."""
    return f"ユーザー名「{holder}」は既に使われています。"
