"""The ledger a request names, with the caller's policy."""

from __future__ import annotations

from rest_framework.request import Request

from ledgers.access.policy import LedgerPolicy, policy_for
from ledgers.definitions.models import Ledger
from ledgers.exceptions import LedgerNotFound


def ledger_for(request: Request, code: str) -> tuple[Ledger, LedgerPolicy]:
    """The ledger and the caller's policy; a ledger the caller has no right on is 404."""
    ledger = Ledger.objects.filter(code=code).first()
    if ledger is None:
        raise LedgerNotFound("台帳が見つかりません。")
    policy = policy_for(request.user, ledger)
    if not policy.capabilities:
        raise LedgerNotFound("台帳が見つかりません。")
    return ledger, policy
