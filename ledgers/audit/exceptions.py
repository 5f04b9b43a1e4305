"""Errors of the audit trail that operators read (Japanese messages, stable codes)."""

from __future__ import annotations


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
