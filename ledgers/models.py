"""Models of the ledger engine; each concept keeps its own in its sub-package."""

from ledgers.audit.models import AuditEvent
from ledgers.definitions.models import Ledger, LedgerVersion, Sensitivity
from ledgers.records.models import Record, RecordVersion

__all__ = ["AuditEvent", "Ledger", "LedgerVersion", "Record", "RecordVersion", "Sensitivity"]
