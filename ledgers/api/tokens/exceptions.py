"""API token errors, each with a stable code for the API edge."""

from __future__ import annotations

from ledgers.exceptions import LedgerError


class TokenSecondFactorRequired(LedgerError):
    """A token issued with its owner's password alone, now that the owner must give a
    second factor (the city requires 2FA, or the owner has set up an authenticator app)."""

    code = "ERROR_TOKEN_SECOND_FACTOR_REQUIRED"
    status = 401

    def __init__(self) -> None:
        super().__init__(
            "二要素認証が必要になったため、パスワードだけで発行されたこのトークンは使えません。"
            "認証アプリのコード（otp）を付けて、トークンを発行し直してください。"
        )


class TokenPasswordChangeRequired(LedgerError):
    """No token for an account whose password someone else chose (the first administrator's,
    typed by the operator at provisioning; one a city administrator set) until its owner
    has changed it: the sign-in screen's rule, kept by every way a token is issued."""

    code = "ERROR_PASSWORD_CHANGE_REQUIRED"
    status = 403

    def __init__(self) -> None:
        super().__init__(
            "この職員のパスワードは他の人が設定したもの（初期パスワード）のままです。"
            "本人がパスワードを変更するまで、トークンは発行できません。"
        )


class TokenAccountChanged(LedgerError):
    """The owner's account changed while its token was being issued: its password was
    reset or changed since it was checked, or the account was deactivated."""

    code = "ERROR_TOKEN_ACCOUNT_CHANGED"
    status = 401

    def __init__(self) -> None:
        super().__init__(
            "発行の途中でこのアカウントのパスワードが変更されたか、アカウントが無効になったため、"
            "トークンを発行しませんでした。今のパスワードで発行し直してください。"
        )
