"""The ledger a request names, with the caller's policy."""

from __future__ import annotations

import copy
import dataclasses

from django.db import connection
from django.utils import timezone
from rest_framework.request import Request

from daicho.caching import LocalCache
from ledgers.access.policy import LedgerPolicy, policy_for
from ledgers.definitions.models import Ledger
from ledgers.exceptions import LedgerNotFound

# (schema, user, ledger code, today) → (Ledger, LedgerPolicy), tagged with the city's
# access generation: any change of a ledger, grant, membership, department, account or
# token of the city drops them (ledgers.apps), and a new day recomputes memberships.
_policies = LocalCache("api-policies")


def ledger_for(request: Request, code: str) -> tuple[Ledger, LedgerPolicy]:
    """The ledger and the caller's policy; a ledger the caller has no right on is 404."""
    generation = getattr(request, "access_generation", None)
    user = request.user
    key = (connection.schema_name, getattr(user, "pk", None), code, timezone.localdate())
    cached = _policies.get(key, generation) if key[1] is not None else None
    if cached is None:
        ledger = Ledger.objects.filter(code=code).first()
        if ledger is None:
            raise LedgerNotFound("台帳が見つかりません。")
        # On the key's day: a request straddling midnight cached the next day's policy
        # under the day before's key (for what was left of that day).
        policy = policy_for(user, ledger, on=key[3])
        if key[1] is not None:
            _policies.put(key, generation, (ledger, policy))
    else:
        ledger, policy = cached
    # Each request gets its own Ledger instance and a policy naming its own user: nothing
    # a request does to them reaches the cache.
    ledger = copy.copy(ledger)
    policy = dataclasses.replace(policy, actor=user, ledger=ledger)
    if not policy.capabilities:
        raise LedgerNotFound("台帳が見つかりません。")
    return ledger, policy
