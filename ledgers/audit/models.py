"""Audit events: one row per write and per read of personal data, in the city's schema.

Events are written unsealed (a writer never waits for a chain head); a sealing pass per
city then links them into ``AuditSeal`` rows, each holding the SHA-256 of the event and
the previous link. Both tables are append-only in the database (trigger installed by
``0002_database_rules``). ``ledgers/audit/chain.py`` defines what is hashed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

# The public-schema anchors are a model of the tenants app kept in tenants/anchors.py;
# importing it here registers it whenever the apps load.
from tenants.anchors import AuditAnchor

__all__ = ["NO_SUCH_LEDGER", "AuditAnchor", "AuditEvent", "AuditSeal"]

#: The ``ledger_code`` of an event about a ledger that does not exist (an ``audit.read``
#: asking about one, a ``record.refused`` of a reference naming one): no ledger's code
#: (codes start with a letter), so that only city administrators, who read every event,
#: see it.
NO_SUCH_LEDGER = "-"


class AuditEvent(models.Model):
    """Something a person (or a system) did, kept for ever.

    ``seq`` orders a city's events; the access/audit layer chains them by hash. Details
    carry ids, screens, search terms and counts: this table is the one protected place
    that records who looked up whom.
    """

    seq = models.BigAutoField(primary_key=True)
    at = models.DateTimeField("日時", db_default=models.functions.Now())
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作者", null=True, blank=True,
        on_delete=models.PROTECT, related_name="+", db_constraint=False,
        db_index=False,  # audit_actor_idx (actor, seq) serves the actor's events
    )  # fmt: skip
    action = models.CharField("操作", max_length=64)
    ledger_code = models.CharField("台帳", max_length=64, blank=True, default="")
    record_id = models.UUIDField("記録ID", null=True, blank=True)
    generation = models.PositiveIntegerField("世代", null=True, blank=True)
    details = models.JSONField("詳細", default=dict, blank=True)

    class Meta:
        verbose_name = "監査ログ"
        verbose_name_plural = "監査ログ"
        indexes = [
            models.Index(fields=["record_id", "seq"], name="audit_record_idx"),
            models.Index(fields=["actor", "seq"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class AuditSeal(models.Model):
    """One link of the city's hash chain: the event at chain position ``n`` (封印).

    The chain runs in sealing order, which is ``seq`` order except for an event whose
    transaction committed after a later one was sealed: it takes the next free position.
    ``hash`` = SHA-256(``prev_hash`` ‖ canonical form of the event); position 1's
    ``prev_hash`` is the schema's genesis value.
    """

    # No foreign key in the database: its check cost more than the rest of sealing together,
    # and verify finds a seal whose event is gone (``event_missing``).
    event = models.OneToOneField(
        AuditEvent, verbose_name="監査ログ", primary_key=True, db_column="seq",
        on_delete=models.PROTECT, related_name="seal", db_constraint=False,
    )  # fmt: skip
    n = models.BigIntegerField("連鎖位置", unique=True)
    prev_hash = models.BinaryField("直前のハッシュ", max_length=32)
    hash = models.BinaryField("ハッシュ", max_length=32)
    sealed_at = models.DateTimeField("封印日時", db_default=models.functions.Now())

    class Meta:
        verbose_name = "監査ログの封印"
        verbose_name_plural = "監査ログの封印"

    def __str__(self) -> str:
        return f"#{self.event_id}@{self.n}"
