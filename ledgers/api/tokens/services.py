"""Issuing, checking and revoking API tokens."""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from daicho.accounts.selectors import second_factor_required
from daicho.caching import LocalCache, current_access_counter, generation_bump
from daicho.tenancy.guard import require_tenant
from ledgers.api.tokens.exceptions import (
    TokenAccountChanged,
    TokenPasswordChangeRequired,
    TokenSecondFactorRequired,
)
from ledgers.api.tokens.models import ApiToken
from ledgers.audit.services import audit_record
from ledgers.exceptions import LedgerError
from ledgers.fields.normalize import text_problem

SCOPES = {
    "records:read": "記録の閲覧・検索",
    "records:write": "記録の登録・変更・削除",
    "ledgers:design": "台帳の設計・権限の変更",
    "staff:admin": "課・職員の管理",
    "audit:read": "監査ログの閲覧・検証",
}
ALL = "*"
DEFAULT_LIFETIME = timedelta(days=90)
TOKEN_PREFIX = "dch_"  # noqa: S105 (a marker, not a secret)
# (schema, SHA-256 of the whole token) → the verified ApiToken with its user.
_verified = LocalCache("api-tokens")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    record: ApiToken


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_request_check(*, scopes: list[str], lifetime: timedelta, name: str = "") -> None:
    """Refuse scopes that are not ours (or none), a lifetime outside a day to a year, and a
    name (what the token list shows it by) holding what ``text_problem`` refuses: an
    invisible or bidirectional character would make a token look like another one there.

    Checked before anything about the owner is looked up: the operator's
    ``issue_api_token`` must not tell, by which error it gives, whether a username exists."""
    unknown = sorted(set(scopes) - set(SCOPES) - {ALL})
    if not scopes or unknown:
        raise LedgerError(
            f"スコープが正しくありません: {'、'.join(unknown) or '（空）'}",
            detail={"scopes": unknown, "allowed": sorted([*SCOPES, ALL])},
        )
    if lifetime <= timedelta(0) or lifetime > timedelta(days=366):
        raise LedgerError("有効期間は1年以内にしてください。")
    problem = text_problem(name, allow_newlines=False)
    if problem is not None:
        message = f"トークンの名前（name）に{problem}。"
        raise LedgerError(message, detail={"errors": {"name": [f"{problem}。"]}})


def token_issue(
    *,
    actor: Any,
    user: Any,
    scopes: list[str],
    name: str = "",
    lifetime: timedelta = DEFAULT_LIFETIME,
    via: str = "",
    second_factor: str | None = None,
) -> IssuedToken:
    """Issue a token for ``user`` (by the user or a city administrator; ``actor`` None and
    ``via`` naming the command for a server operator's act); shown once. None for an
    account whose password someone else chose, until its owner has changed it
    (``TokenPasswordChangeRequired``).

    ``second_factor`` names the device kind (``totp``, ``backup_code``) that verified the
    owner for this token; without one, an owner who must give a second factor gets no
    token (it would be refused at once, ``token_authenticate``). ``user`` is the account
    as the caller read it (the token endpoint: as its password was checked); changed since
    (its password, or deactivated), it gets none (``TokenAccountChanged``)."""
    require_tenant()
    token_request_check(scopes=scopes, lifetime=lifetime, name=name)
    if user.must_change_password:
        # The sign-in screen's rule, for the operator's command too: it issued the first
        # administrator a token at once, with the password the operator had typed unchanged.
        raise TokenPasswordChangeRequired
    if not second_factor and second_factor_required(user):
        raise LedgerError(
            "この職員には二要素認証が必要です。本人が認証アプリのコード（otp）を付けて発行してください。"
        )
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        _require_account_as_read(user)
        record = ApiToken.objects.create(
            user=user, name=name[:100], prefix=prefix, key_hash=_hash(secret),
            scopes=sorted(set(scopes)), expires_at=timezone.now() + lifetime,
            issued_with_second_factor=bool(second_factor), issued_via=via[:64],
        )  # fmt: skip
        audit_record(
            actor=actor, action="auth.token_issued",
            details={
                "token": prefix, "user": user.pk, "scopes": record.scopes,
                "second_factor": second_factor or None, **({"via": via} if via else {}),
            },
        )  # fmt: skip
    return IssuedToken(token=f"{TOKEN_PREFIX}{prefix}_{secret}", record=record)


def _require_account_as_read(user: Any) -> None:
    """Lock the owner's account row (until the token is in) and refuse the token
    (``TokenAccountChanged``) unless the account is still active with the password ``user``
    was read with, the one the token endpoint checked.

    A reset (or deactivation) revokes the tokens live when it commits: a token issued on a
    password checked before a reset and committed after it outlived the reset, for 90 days,
    in the hands of whoever the reset was meant to shut out. Under the lock the two are in
    order: a reset that committed first is seen here, and one that comes after waits for
    the token and revokes it with the others."""
    current = (
        get_user_model()
        .objects.select_for_update(no_key=True)
        .filter(pk=user.pk)
        .values_list("password", "is_active")
        .first()
    )
    if current is None or not current[1] or current[0] != user.password:
        raise TokenAccountChanged()


def token_authenticate(raw: str, *, generation: int | None = None) -> ApiToken | None:
    """The live token for ``raw`` in the current city, or None (any failure looks the same).

    A live token issued without a second factor (``issued_with_second_factor``) whose owner
    must now give one (``second_factor_required``: the city requires 2FA, or the owner has
    set up an authenticator app since) raises ``TokenSecondFactorRequired``: only its
    holder, who knows the secret, learns why.

    With ``generation`` (the city's access generation, read before this call), a verified
    token is kept in process memory until any token, account or membership of the city,
    its sign-in settings or anyone's 2FA set-up changes (daicho.caching): a revocation, a
    deactivation or 2FA becoming required takes effect on the next request.
    ``last_used_at`` is written at most once a minute.
    """
    if not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        return None
    key = (connection.schema_name, _hash(raw))
    token = _verified.get(key, generation)
    if token is None:
        prefix, _, secret = raw[len(TOKEN_PREFIX) :].partition("_")
        token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
        if token is None or not hmac.compare_digest(token.key_hash, _hash(secret)):
            return None
        if token.revoked_at is not None or not token.user.is_active:
            return None
        if token.user.must_change_password:
            return None  # issued (by the operator's command, before it refused) too early
        if token.expires_at <= timezone.now():
            return None
        if not token.issued_with_second_factor and second_factor_required(token.user):
            raise TokenSecondFactorRequired
        _verified.put(key, generation, token)
    now = timezone.now()
    if token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    # Each request gets its own instances: nothing a request does to them reaches the cache.
    own = copy.copy(token)
    own.user = copy.copy(token.user)
    return own


def token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    """Revoke ``token`` from now on (by its owner, a city administrator, or a server
    operator's command with ``actor`` None). A token already revoked keeps its time and
    its one ``auth.token_revoked`` event: revoking twice, or at once from two places,
    changes nothing more. The next request bearing it, in any process, is 401 (the
    city's access generation is bumped)."""
    require_tenant()
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if revoked:
            generation_bump(current_access_counter())
            audit_record(
                actor=actor, action="auth.token_revoked",
                details={"token": token.prefix, "user": token.user_id},
            )  # fmt: skip
    token.refresh_from_db(fields=["revoked_at"])
    return token


def tokens_of(user: Any) -> QuerySet[ApiToken]:
    """``user``'s tokens, the newest first (revoked and expired ones too: what a token was
    and when it was last used stays visible to its owner and the city's administrators)."""
    require_tenant()
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_state(token: ApiToken, now: Any = None) -> str:
    """``active``, ``expired`` or ``revoked``."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= (now or timezone.now()):
        return "expired"
    return "active"


def token_has_scope(token: ApiToken | None, scope: str) -> bool:
    """Session-authenticated staff (token None) act with their grants only, no scope limit."""
    if token is None:
        return True
    return ALL in token.scopes or scope in token.scopes
