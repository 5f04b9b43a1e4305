"""Writes of accounts and sign-in security: usernames, sign-in events, two-factor devices,
the city's rules.

Every event goes to the audit trail of the city's schema (``ledgers.audit``) with the
username attempted and the client's address, never a password or a code. On the public
host (operators) there is no audit trail of a city: events go to the log with ids only.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth import SESSION_KEY, authenticate, update_session_auth_hash
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from daicho.accounts.exceptions import (
    AddressInvalid,
    PasswordChangedMeanwhile,
    PasswordIncorrect,
    TwoFactorCodeInvalid,
    TwoFactorNotStarted,
    TwoFactorThrottled,
    UsernameTaken,
)
from daicho.accounts.models import CitySecuritySettings, User
from daicho.accounts.network import client_ip, client_network, lockout_address
from daicho.accounts.selectors import (
    USERNAME_MAX,
    on_public_schema,
    sign_in_address_keys,
    sign_in_address_known_key,
    sign_in_attempt_key,
    sign_in_locked_addresses_key,
    sign_in_username_digest,
    username_holder,
)
from daicho.caching import (
    current_access_counter,
    generation_bump,
    redis_client,
    redis_failed,
    redis_skipped,
)
from daicho.tenancy.guard import require_tenant
from ledgers.audit.services import audit_record

logger = logging.getLogger(__name__)

BACKUP_CODE_COUNT = 10
_SEPARATORS = re.compile(r"[\s\-]+")

#: The advisory lock class of a schema's usernames ("USRN"), the schema's oid below it.
_USERNAME_LOCK_CLASS = 0x5553524E
#: The unique indexes on usernames: Django's on the username as stored, and the one on its
#: ``lower()`` (``User.Meta.constraints``): an account differing from another only by case.
USERNAME_CONSTRAINTS = frozenset({"accounts_user_username_key", "user_username_lower_unique"})


def username_claim(username: str, *, account: int | None = None) -> None:
    """Hold this schema's usernames until the transaction ends and refuse ``username``
    (``UsernameTaken``) if an account other than ``account`` holds it but for letter case.

    Every path that creates or renames an account claims its username in the transaction
    that writes it: two creates of Tanaka and tanaka at once queue here, and the second
    reads the first's, committed, instead of both passing a check made before either wrote.
    A form claims it while it validates, in the transaction that then saves (the admin's),
    so that what it checked still holds when it saves. ``username`` as it will be stored
    (NFKC, ``User.normalize_username``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock((%s::bigint << 32)"
            " | (SELECT oid::bigint FROM pg_namespace WHERE nspname = current_schema()))",
            [_USERNAME_LOCK_CLASS],
        )
    holder = username_holder(username, other_than=account)
    if holder is not None:
        raise UsernameTaken(holder.username)


def username_conflict(error: IntegrityError) -> bool:
    """True if ``error`` is a unique index on usernames refusing a write."""
    cause = error.__cause__
    diag = getattr(cause, "diag", None)
    return (
        getattr(cause, "sqlstate", None) == "23505"
        and getattr(diag, "constraint_name", None) in USERNAME_CONSTRAINTS
    )


@contextmanager
def username_claimed(username: str, *, account: int | None = None) -> Iterator[None]:
    """Claim ``username`` for ``account`` (None: an account the block creates) and run the
    block, which writes it, in a transaction (a savepoint inside the caller's): a taken
    username is ``UsernameTaken`` and the block's writes are undone.

    That includes a unique index's refusal, which the claim leaves for writers that take
    no claim (the release before during an upgrade, a row written by hand): it is answered
    as a taken username, never as a server error."""
    try:
        with transaction.atomic():
            username_claim(username, account=account)
            yield
    except IntegrityError as error:
        if not username_conflict(error):
            raise
        holder = username_holder(username, other_than=account)
        raise UsernameTaken(holder.username if holder else username) from None


def account_rename(*, account: User, username: str, command: str) -> User:
    """Give ``account`` (of the current schema: an operator in ``public``, a city's staff
    member in its schema) the username ``username`` (NFKC, as every path stores it), run
    by a server operator's ``command`` (``manage.py rename_account``): the way out of two
    accounts that differ only by case, which the migration adding the constraint refuses
    to go past. A taken username is ``UsernameTaken``, one Django's validator refuses a
    ``ValidationError``; nothing changes then.

    Recorded in the rename's transaction: in a city, ``staff.update`` with no actor (an
    operator is no one of the city; the command's run is ``operator.command`` already),
    naming the username before and after; in ``public``, an entry of the admin's log, as
    the other commands' changes of operators are."""
    new = User.normalize_username(username)
    try:
        UnicodeUsernameValidator()(new)
        if len(new) > USERNAME_MAX:
            raise ValidationError("ユーザー名を150文字以内で入力してください。")
    except ValidationError as invalid:
        raise ValidationError({"username": invalid.messages}) from None
    with username_claimed(new, account=account.pk):
        stored = User.objects.select_for_update().get(pk=account.pk)
        before = stored.username
        if before == new:
            return stored
        stored.username = new
        stored.save(update_fields=["username"])
        if on_public_schema():
            from daicho.accounts.operators import operator_rename_record

            operator_rename_record(operator=stored, before=before, command=command)
        else:
            audit_record(
                actor=None, action="staff.update",
                details={"user": stored.pk, "changed": ["username"], "via": command,
                         "username": {"before": before, "after": new}},
            )  # fmt: skip
    return stored


def sessions_end(user: User) -> int:
    """End every signed-in session of ``user`` in the current city (their rows deleted,
    inside the caller's transaction); the number ended.

    Django skips an inactive account's session but keeps it: reactivated, the account's
    sessions were signed in again, a cookie taken before the deactivation (perhaps its
    reason) with them. A session names its user only inside its encoded data: every live
    session of the city is read (deactivations are rare, and a city's live sessions few)."""
    require_tenant()
    return account_sessions_end(user)


def account_sessions_end(user: User) -> int:
    """``sessions_end`` in the schema the connection is on: a city's, or the public
    schema's for an operator (``operators.operator_update``)."""
    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get(SESSION_KEY)) == str(user.pk)
    ]
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


def sign_in_event_record(
    *,
    request: HttpRequest | None,
    action: str,
    user: User | None = None,
    username: str = "",
    **details: Any,
) -> None:
    """Leave one sign-in event (``auth.*``): an audit event in a city, a log line on public.

    ``details`` may add a reason or flag (``reason="locked_out"``); callers never pass a
    password, a code or a key.
    """
    if on_public_schema():
        # Operators: ids only, never a username or an address in the log.
        logger.info("%s user_id=%s", action, getattr(user, "pk", None))
        return
    audit_record(
        actor=user,
        action=action,
        details={"username": (username or "")[:USERNAME_MAX], "ip": client_ip(request), **details},
    )


# --- Two-factor authentication ---------------------------------------------------------


def _normalise_code(token: str) -> str:
    return _SEPARATORS.sub("", token or "").lower()


def second_factor_name(device: Device | None) -> str | None:
    """How a sign-in was verified, for its audit event."""
    if isinstance(device, TOTPDevice):
        return "totp"
    if isinstance(device, StaticDevice):
        return "backup_code"
    return None


#: The session key naming the device this session is setting up.
ENROLMENT_SESSION_KEY = "daicho_2fa_enrolment_device"


def _enrolment_device(actor: User, session: Any) -> TOTPDevice | None:
    device_id = session.get(ENROLMENT_SESSION_KEY)
    if device_id is None:
        return None
    return TOTPDevice.objects.filter(pk=device_id, user=actor, confirmed=False).first()


def totp_device_for_enrolment(*, actor: User, session: Any) -> TOTPDevice:
    """The authenticator-app device the actor is setting up in this session, created on
    first call.

    It stays unconfirmed (ignored at sign-in) until ``two_factor_enable`` checks a code
    from it; a reload of the page in the same session shows the same key, so a scanned code
    keeps working. Another session gets a key of its own: a key shown to whoever signed in
    with the password before the owner enrolled (an operator who set it, a colleague who
    saw it) must never be the one the owner then confirms. Confirming removes every other
    device of the user.
    """
    require_tenant()
    device = _enrolment_device(actor, session)
    if device is None:
        device = TOTPDevice.objects.create(user=actor, name="認証アプリ", confirmed=False)
        session[ENROLMENT_SESSION_KEY] = device.pk
    return device


def two_factor_enable(
    *, actor: User, token: str, request: HttpRequest
) -> tuple[TOTPDevice, list[str]]:
    """Confirm the actor's authenticator app with a code from it; returns it and new backup codes.

    One app and one set of backup codes per staff member: older ones are removed. The
    backup codes are shown once, each works once.
    """
    require_tenant()
    device = _enrolment_device(actor, request.session)
    if device is None:
        raise TwoFactorNotStarted
    allowed, _ = device.verify_is_allowed()
    # verify_token saves the device's failure count itself: a wrong code must not roll it back.
    if not allowed or not device.verify_token(_normalise_code(token)):
        sign_in_event_record(
            request=request, action="auth.2fa_failed", user=actor, username=actor.get_username()
        )
        raise TwoFactorCodeInvalid if allowed else TwoFactorThrottled
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=actor).exclude(pk=device.pk).delete()
        request.session.pop(ENROLMENT_SESSION_KEY, None)
        codes = _backup_codes_replace(actor)
        # The actor's tokens issued with the password alone end here (token_authenticate):
        # every process forgets the ones it verified.
        generation_bump(current_access_counter())
        sign_in_event_record(
            request=request, action="auth.2fa_enabled", user=actor, username=actor.get_username()
        )
    return device, codes


def _backup_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="バックアップコード", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def two_factor_verify(*, user: User, token: str, request: HttpRequest) -> Device:
    """Check a code from the user's authenticator app, or one of their backup codes.

    Returns the device that accepted it (a backup code is used up). Wrong codes are
    audited as ``auth.2fa_failed``; each device slows down after failures (1, 2, 4 … s).
    """
    token = _normalise_code(token)
    # Apps show six digits; backup codes are eight letters and digits.
    model = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    throttled = False
    for device in model.objects.filter(user=user, confirmed=True):
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            throttled = True
            continue
        verified = verify_token(user, device.persistent_id, token)
        if verified is not None:
            return verified
    sign_in_event_record(
        request=request, action="auth.2fa_failed", user=user, username=user.get_username()
    )
    raise TwoFactorThrottled if throttled else TwoFactorCodeInvalid


def two_factor_disable(*, actor: User, password: str, request: HttpRequest) -> None:
    """Remove the actor's authenticator app and backup codes, after their password again.

    The password goes through ``authenticate`` so that wrong ones count towards the
    lockout and are audited like any failed sign-in.
    """
    require_tenant()
    if authenticate(request, username=actor.get_username(), password=password) != actor:
        raise PasswordIncorrect
    with transaction.atomic():
        TOTPDevice.objects.filter(user=actor).delete()
        StaticDevice.objects.filter(user=actor).delete()
        sign_in_event_record(
            request=request, action="auth.2fa_disabled", user=actor, username=actor.get_username()
        )


# --- Failed sign-ins per client address (password spraying) ----------------------------

# KEYS: the address's failed usernames, its lock, the city's locked addresses. ARGV: the
# username's digest, the window and lock in seconds, the limit, the address, now (epoch).
# A locked address counts nothing (retrying does not extend the lock); the window opens at
# the first failure; the limit-th distinct username sets the lock. Answers the number of
# distinct usernames failed (0 when already locked).
_ADDRESS_FAILURE = """
if redis.call('EXISTS', KEYS[2]) == 1 then
    return 0
end
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
end
local count = redis.call('SCARD', KEYS[1])
if count >= tonumber(ARGV[3]) then
    local now = tonumber(ARGV[5])
    redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[2])
    redis.call('DEL', KEYS[1])
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[4])
    redis.call('EXPIRE', KEYS[3], ARGV[2])
end
return count
"""
_address_failure_script: Any = None


def sign_in_address_failure_record(*, request: HttpRequest, username: str) -> int | None:
    """Count a failed sign-in of ``username`` from the request's client address (per city,
    in Redis); when it is the limit-th distinct username within the cool-off, lock the
    address for the cool-off and answer its length in seconds (None otherwise).

    Password spraying tries one password against many usernames, each a few times: the
    per-username+IP lockout never trips. Distinct usernames are counted, and one that
    then signs in from the address is forgiven (``sign_in_address_success``): an office
    behind one address whose staff mistype and then sign in counts nothing. If Redis does
    not answer, nothing is counted (with a warning).
    """
    global _address_failure_script
    limit = settings.SIGN_IN_ADDRESS_FAILURE_LIMIT
    address = client_network(request)
    if address is None or limit <= 0:
        return None
    cool_off = get_cool_off(request)
    assert cool_off is not None  # AXES_COOLOFF_TIME is always set in settings
    seconds = int(cool_off.total_seconds())
    failed, locked = sign_in_address_keys(address)
    if redis_skipped():
        return None
    try:
        client = redis_client()
        if _address_failure_script is None:
            _address_failure_script = client.register_script(_ADDRESS_FAILURE)
        count = _address_failure_script(
            keys=[failed, locked, sign_in_locked_addresses_key()],
            args=[sign_in_username_digest(username), seconds, limit, address, int(time.time())],
            client=client,
        )
    except Exception:
        redis_failed("sign-in address counter")
        return None
    return seconds if int(count) >= limit else None


#: The longest a sign-in attempt holds its lock (``sign_in_attempt_begin``): the end of an
#: attempt whose worker died holding it. An attempt takes a password hash and a few writes.
SIGN_IN_ATTEMPT_HOLD_SECONDS = 30
#: How long an attempt waits for the one before it of the same username and address.
SIGN_IN_ATTEMPT_WAIT_SECONDS = 10
_ATTEMPT_HELD = "_daicho_sign_in_attempt"


class _SessionLock:
    """An attempt's turn held as a PostgreSQL advisory lock of the connection's session:
    ``sign_in_attempt_begin``'s queue when Redis does not answer. The lock is per database
    (every city's schema): its id is a digest of the Redis key, which names the city. A
    worker that dies holding it loses its connection, and the lock with it."""

    def __init__(self, name: str) -> None:
        self.name = name
        digest = hashlib.sha256(f"sign-in-attempt\x00{name}".encode()).digest()
        self.id = int.from_bytes(digest[:8], "big", signed=True)

    def acquire(self) -> bool:
        deadline = time.monotonic() + SIGN_IN_ATTEMPT_WAIT_SECONDS
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.id])
                if cursor.fetchone()[0]:
                    return True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)

    def release(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [self.id])


def sign_in_attempt_begin(*, request: HttpRequest, username: str | None) -> None:
    """Wait until no other attempt of ``username`` from the request's client address is
    being decided in this city, then hold that until ``sign_in_attempt_end`` (a Redis lock,
    per the axes key: username as typed and ``lockout_address``).

    axes asks whether a username+IP is locked out before the password is compared and
    counts the failure after it: attempts sent at once all passed the question while none
    had been counted yet, as many password guesses as the servers had threads where the
    limit is ``AXES_FAILURE_LIMIT``, and again each time the lockout ended. Queued, each
    attempt is asked after the one before was counted. An attempt that waits longer than
    ``SIGN_IN_ATTEMPT_WAIT_SECONDS`` goes on unqueued: by then those before it have been
    counted (a refused attempt compares no password and is quick).

    If Redis does not answer, the attempt queues on the database instead (``_SessionLock``,
    with a warning): it went on unqueued, and while Redis was down guesses sent at once
    passed the lockout's question again, the right password beside the one that locked.
    """
    address = lockout_address(request)
    if address is None:
        return
    key = sign_in_attempt_key(address, username or "")
    held = getattr(request, _ATTEMPT_HELD, None)
    if held is not None:
        if held.name == key:
            return  # the request's own second question about the same attempt
        sign_in_attempt_end(request)
    lock: Any = None
    if not redis_skipped():
        try:
            lock = redis_client().lock(
                key, timeout=SIGN_IN_ATTEMPT_HOLD_SECONDS, sleep=0.05,
                blocking_timeout=SIGN_IN_ATTEMPT_WAIT_SECONDS, thread_local=False,
            )  # fmt: skip
            acquired = lock.acquire()
        except Exception:
            redis_failed("sign-in attempt lock (queued on the database)")
            lock = None
    if lock is None:
        lock = _SessionLock(key)
        acquired = lock.acquire()
    if acquired:
        setattr(request, _ATTEMPT_HELD, lock)


def sign_in_attempt_end(request: HttpRequest | None) -> None:
    """Let the next attempt of the same username and address go (``sign_in_attempt_begin``):
    once a failure has been counted, and at the end of the request whatever came of it."""
    lock = getattr(request, _ATTEMPT_HELD, None)
    if lock is None:
        return
    setattr(request, _ATTEMPT_HELD, None)
    try:
        lock.release()
    except Exception:  # held past its time and let go already, or Redis gone: nothing held
        logger.warning("sign-in attempt lock not released", exc_info=True)
        if isinstance(lock, _SessionLock) and not connection.in_atomic_block:
            connection.close()  # a session's advisory locks end with it


def sign_in_address_success(*, request: HttpRequest, username: str) -> None:
    """``username`` signed in from the request's client address: its failures from there
    no longer count towards the address's limit, and for ``SIGN_IN_ADDRESS_KNOWN_DAYS``
    the address's lock lets it by (``selectors.sign_in_address_lock``; one round trip)."""
    address = client_network(request)
    if address is None:
        return
    digest = sign_in_username_digest(username)
    days = settings.SIGN_IN_ADDRESS_KNOWN_DAYS
    if redis_skipped():
        return
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.srem(sign_in_address_keys(address)[0], digest)
        if days > 0:
            # Scored by the sign-in's time: a username counts as known for ``days`` after
            # its latest sign-in from the address, however busy the address stays.
            now, term = time.time(), days * 86_400
            known = sign_in_address_known_key(address)
            pipe.zadd(known, {digest: now})
            pipe.zremrangebyscore(known, "-inf", now - term)
            pipe.expire(known, term)
        pipe.execute()
    except Exception:
        redis_failed("sign-in address counter")


def sign_in_address_lock_lift(*, address: str, record: Callable[[str], object]) -> str:
    """Lift the lock on a client address (an IP address, or an IPv6 /64) in the current
    schema before its cool-off ends, and forget the usernames failed from it so far: a
    city's (``sign_in_address_release``) or, on public, the operators'
    (``operators.operator_address_release``). ``record(address)`` first records who lifted
    it (the city's trail, the operators' admin log) in the lift's transaction: no lift
    goes unrecorded, and Redis failing leaves no record of a lift that did not happen.
    Answers the address as the lock names it; ``AddressInvalid`` (nothing recorded) for
    text that is no address."""
    try:
        network = ipaddress.ip_network(address.strip(), strict=False)
    except ValueError:
        raise AddressInvalid from None
    label = str(network.network_address) if network.num_addresses == 1 else str(network)
    failed, locked = sign_in_address_keys(label)
    with transaction.atomic():
        record(label)
        pipe = redis_client().pipeline()
        pipe.delete(failed, locked)
        pipe.zrem(sign_in_locked_addresses_key(), label)
        pipe.execute()
    return label


def sign_in_address_release(
    *, actor: User, address: str, request: HttpRequest | None = None
) -> str:
    """Lift the lock on a client address in this city before its cool-off ends
    (``sign_in_address_lock_lift``); audited as ``auth.unlock`` with ``address``."""
    require_tenant()

    def audited(label: str) -> None:
        audit_record(
            actor=actor, action="auth.unlock", details={"address": label, "ip": client_ip(request)}
        )

    return sign_in_address_lock_lift(address=address, record=audited)


# --- The city's rules and lockouts -----------------------------------------------------


def security_settings_update(
    *,
    actor: User,
    require_2fa: bool,
    session_timeout_minutes: int,
    request: HttpRequest | None = None,
) -> CitySecuritySettings:
    """Change the city's sign-in rules (自治体管理者 only; the view checks)."""
    require_tenant()
    with transaction.atomic():
        row, _ = CitySecuritySettings.objects.update_or_create(
            pk=CitySecuritySettings.SINGLETON_ID,
            defaults={
                "require_2fa": require_2fa,
                "session_timeout_minutes": session_timeout_minutes,
            },
        )
        audit_record(
            actor=actor,
            action="auth.settings_changed",
            details={
                "require_2fa": require_2fa,
                "session_timeout_minutes": session_timeout_minutes,
                "ip": client_ip(request),
            },
        )
    return row


def lockout_release(*, actor: User, username: str, request: HttpRequest | None = None) -> int:
    """Lift the lockout of a username in this city before its cool-off ends."""
    require_tenant()
    with transaction.atomic():
        count = AxesProxyHandler.reset_attempts(username=username)
        audit_record(
            actor=actor,
            action="auth.unlock",
            details={"username": username[:USERNAME_MAX], "ip": client_ip(request)},
        )
    return count


def own_password_set(actor: User, new_password: str) -> None:
    """Set ``actor``'s own new password, inside the caller's transaction, if the stored one
    is still the one ``actor`` was read with and the account is active; otherwise
    ``PasswordChangedMeanwhile`` and nothing changes (a reset committed meanwhile stands).
    Clears the flag that someone else chose the old one. For city staff
    (``password_change``) and operators (``operators.operator_password_change``)."""
    current = (
        User.objects.select_for_update(no_key=True)
        .filter(pk=actor.pk)
        .values_list("password", "is_active")
        .first()
    )
    if current is None or not current[1] or current[0] != actor.password:
        raise PasswordChangedMeanwhile
    actor.set_password(new_password)
    actor.must_change_password = False
    actor.save(update_fields=["password", "must_change_password"])


def password_change(*, actor: User, new_password: str, request: HttpRequest) -> None:
    """The actor's own new password (already validated by the form): the flag that someone
    else chose the old one is cleared, the session stays signed in, and the change is an
    audit event (``auth.password_changed``), with where it came from.

    ``actor`` is the account as the request read it, whose password the form checked: if
    the stored one differs now (an administrator's reset committed meanwhile) or the
    account was deactivated, nothing changes (``PasswordChangedMeanwhile``). Saving over
    it undid the reset, the answer to a taken-over account: whoever it was meant to shut
    out kept the account, signed in, with a password of their own choosing."""
    require_tenant()
    with transaction.atomic():
        own_password_set(actor, new_password)
        sign_in_event_record(
            request=request, action="auth.password_changed", user=actor,
            username=actor.get_username(),
        )  # fmt: skip
    update_session_auth_hash(request, actor)
