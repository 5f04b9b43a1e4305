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
