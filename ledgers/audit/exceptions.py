"""Errors of the audit trail that operators read (Japanese messages, stable codes)."""

from __future__ import annotations

from ledgers.exceptions import LedgerError


class AuditError(Exception):
    code = "AUDIT_ERROR"


class AnchorLockUnavailable(AuditError):
    """Anchor files are to be locked (``AUDIT_ANCHOR_LOCK_DAYS``) but the storage cannot lock
    them: not S3, or a bucket without Object Lock. Nothing was anchored."""

    code = "AUDIT_ANCHOR_LOCK_UNAVAILABLE"

    def __init__(self, message: str, *, bucket: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.bucket = bucket


class AuditVerifyRunning(LedgerError):
    """A verification of the city is running already: the API answers at once instead of
    waiting for it (``audit_verify(wait=False)``)."""

    code = "ERROR_AUDIT_VERIFY_RUNNING"
    status = 409
    retry_after = 10

    def __init__(self) -> None:
        super().__init__(
            "この自治体の監査ログの検証は、ほかの検証が実行中です。"
            "終わってから、もう一度実行してください。"
        )
