"""Errors of the ``Idempotency-Key`` header."""

from __future__ import annotations

from ledgers.exceptions import LedgerError


class IdempotencyKeyInvalid(LedgerError):
    code = "ERROR_IDEMPOTENCY_KEY_INVALID"

    def __init__(self) -> None:
        super().__init__(
            "Idempotency-Key は英数字と記号（空白を除く ASCII）で 1〜255 文字にしてください。"
        )


class IdempotencyKeyReused(LedgerError):
    """The key was used, within its lifetime, for another request (another path or body)."""

    code = "ERROR_IDEMPOTENCY_KEY_REUSED"
    status = 422

    def __init__(self) -> None:
        super().__init__(
            "この Idempotency-Key は別の内容の要求に使われています。"
            "新しい要求には新しいキーを使ってください。"
        )


class IdempotencyKeyInProgress(LedgerError):
    """A request with the key is still running: come back when it has answered."""

    code = "ERROR_IDEMPOTENCY_KEY_IN_PROGRESS"
    status = 409
    retry_after = 1

    def __init__(self) -> None:
        super().__init__(
            "同じ Idempotency-Key の要求を処理中です。少し待ってから同じ内容で送り直してください。"
        )
