"""The API token the current request acts with, named in every audit event it writes.

A token acts as its owner: an event written through it named the staff member only, so an
auditor could not tell an act of a server operator's token (``manage.py issue_api_token``,
``issued_via``) from the staff member's own, nor which of a staff member's tokens (a
住基 link, an RPA robot) did what. The API's authentication
(``ledgers.api.common.BearerTokenAuthentication``) sets the token here for the request;
every writer of audit events reads it (``audit_details``, ``audit_record``,
``audit_record_many``, the bulk create's batch for its trigger, the statements that
write their event themselves): ``details["api_token"] = {"id": <prefix>}``, with
``"issued_via": <command>`` when the token was issued by a server operator, not by its
owner. The prefix is the token's public id (listed to its owner and the city's
administrators); the secret is never here. A request signed in on the screens (a session)
sets nothing: its events are as they were.

The value lives in a ``ContextVar``, scoped to one request by
``ledgers.api.middleware.ApiTokenAuditScopeMiddleware`` (a thread of gunicorn's serves many
requests in turn: one request's token must never reach the next one's events).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson

#: The key of ``details`` that names the token.
TOKEN_KEY = "api_token"  # noqa: S105 (a key of the details, not a secret)

_acting: ContextVar[dict[str, str] | None] = ContextVar("daicho_audit_api_token", default=None)


@contextmanager
def audit_token_scope() -> Iterator[None]:
    """One request: no token at its start, and whatever it set gone at its end."""
    scope = _acting.set(None)
    try:
        yield
    finally:
        _acting.reset(scope)


def audit_token_set(token: Any) -> None:
    """The request acts with ``token`` (an ``ApiToken``) from now on."""
    named = {"id": token.prefix}
    if token.issued_via:
        named["issued_via"] = token.issued_via
    _acting.set(named)


def audit_token() -> dict[str, str] | None:
    """``details["api_token"]`` of the current request's events (None: no token)."""
    return _acting.get()


def audit_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """``details`` as an event of the current request keeps them: with the token it acts
    with, if any."""
    token = _acting.get()
    return {**(details or {}), TOKEN_KEY: dict(token)} if token else dict(details or {})


def audit_details_json(details: Mapping[str, Any] | None = None) -> str:
    """``audit_details(details)`` as the JSON text the statements that write their own
    event send (compact, UTF-8; orjson, or Python's encoder for what orjson refuses, an
    integer past 64 bits that a search term may be)."""
    value = audit_details(details)
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
