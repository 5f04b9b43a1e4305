"""Sign-in errors, each with the Japanese message staff see."""

from __future__ import annotations


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
