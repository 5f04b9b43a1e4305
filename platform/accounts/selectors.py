"""Reads of accounts and sign-in security: who holds a username, the city's rules, a user's
devices, current lockouts."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection
from django.db.models import Max, Sum, Value
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import get_public_schema_name

from daicho.accounts.models import CitySecuritySettings, User
from daicho.accounts.network import client_network
from daicho.caching import redis_client, redis_failed, redis_skipped

logger = logging.getLogger(__name__)


def on_public_schema() -> bool:
    """True on the operators' host (and wherever no city has been chosen)."""
    schema = connection.schema_name
    return not schema or schema == get_public_schema_name()


def username_holder(username: str, *, other_than: int | None = None) -> User | None:
    """The account of this schema (public: operators; a city: its staff) whose username is
    ``username`` but for letter case, other than the account ``other_than``; None if none.

    Compared as the unique constraint ``user_username_lower_unique`` compares (PostgreSQL's
    ``lower()``, which its index serves), so that what this lets through the constraint
    lets through too. ``username`` is compared as given: NFKC it first
    (``User.normalize_username``), as it will be stored."""
    found = User.objects.alias(folded=Lower("username")).filter(folded=Lower(Value(username)))
    if other_than is not None:
        found = found.exclude(pk=other_than)
    return found.order_by("pk").first()


def security_settings_get() -> CitySecuritySettings:
    """The current city's sign-in rules; the defaults (unsaved) while it has set none."""
    found = CitySecuritySettings.objects.filter(pk=CitySecuritySettings.SINGLETON_ID).first()
    return found or CitySecuritySettings()


def confirmed_devices(user: User) -> list[Device]:
    """The user's confirmed second factors (authenticator app, backup codes)."""
    return list(devices_for_user(user, confirmed=True))


def has_confirmed_device(user: Any) -> bool:
    """A confirmed authenticator app or backup codes (one query)."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True)
        .values("id")
        .union(StaticDevice.objects.filter(user=user, confirmed=True).values("id"))
        .exists()
    )


def second_factor_required(user: Any) -> bool:
    """True when ``user`` must prove a second factor in the current city: the city requires
    2FA, or the user has set up one of their own. Sessions signed in with the password
    alone are sent to ``/accounts/2fa/`` then, and API tokens issued without a code are
    refused (``ledgers.api.tokens.services.token_authenticate``). One query."""
    required = CitySecuritySettings.objects.filter(
        pk=CitySecuritySettings.SINGLETON_ID, require_2fa=True
    ).values("id")
    return required.union(
        TOTPDevice.objects.filter(user=user, confirmed=True).values("id"),
        StaticDevice.objects.filter(user=user, confirmed=True).values("id"),
    ).exists()


def totp_device_confirmed(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def backup_codes_remaining(user: User) -> int:
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return device.token_set.count() if device else 0


@dataclass(frozen=True)
class Lockout:
    username: str
    ip_address: str | None
    failures: int
    last_failure: datetime
    until: datetime


def lockouts_active() -> list[Lockout]:
    """Username+IP pairs locked out now in the current schema (axes' attempt counters)."""
    cool_off = get_cool_off()
    assert cool_off is not None  # AXES_COOLOFF_TIME is always set in settings
    since = timezone.now() - cool_off
    # axes keeps one counter per user agent and adds them up per username+IP.
    rows = (
        AccessAttempt.objects.filter(attempt_time__gte=since)
        .values("username", "ip_address")
        .annotate(failures=Sum("failures_since_start"), last_failure=Max("attempt_time"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
        .order_by("-last_failure")
    )
    return [
        Lockout(
            username=row["username"] or "",
            ip_address=row["ip_address"],
            failures=row["failures"],
            last_failure=row["last_failure"],
            until=row["last_failure"] + cool_off,
        )
        for row in rows
    ]


# --- Failed sign-ins per client address (password spraying) ----------------------------


def _sign_in_prefix() -> str:
    # Per city: offices of many cities may reach us from one address.
    schema = connection.schema_name or get_public_schema_name()
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:signin:{schema}"


#: The longest username a digest is taken of (``User.username``'s length).
USERNAME_MAX = 150


def sign_in_username_digest(username: str) -> str:
    """What Redis keeps of a username in the address counters: a keyed digest, never the
    username (keyed: not a table lookup away)."""
    return salted_hmac("daicho.sign-in-address", username[:USERNAME_MAX]).hexdigest()[:32]


def sign_in_address_keys(address: str) -> tuple[str, str]:
    """Redis keys of ``address`` in the current city: the set of usernames failed from it
    (digests), and its lock."""
    return f"{_sign_in_prefix()}:{address}:failed", f"{_sign_in_prefix()}:{address}:locked"


def sign_in_attempt_key(address: str, username: str) -> str:
    """The Redis key of the lock one sign-in attempt of ``username`` from ``address`` holds
    in the current city while its password is compared and a failure recorded
    (``services.sign_in_attempt_begin``)."""
    return f"{_sign_in_prefix()}:{address}:attempt:{sign_in_username_digest(username)}"


def sign_in_address_known_key(address: str) -> str:
    """The Redis key of the usernames (digests) that signed in from ``address`` in the
    current city, scored by their latest sign-in's time (a sorted set): the address's lock
    lets by those within ``SIGN_IN_ADDRESS_KNOWN_DAYS``."""
    return f"{_sign_in_prefix()}:{address}:known"


def sign_in_locked_addresses_key() -> str:
    """The current city's locked addresses (a sorted set, scored by the lock's end)."""
    return f"{_sign_in_prefix()}:locked"


@dataclass(frozen=True)
class AddressLock:
    """The lock on a sign-in's client address: the seconds it has left, and whether the
    username signing in is one that signed in from the address before (which the lock
    lets by)."""

    seconds_left: int
    username_known: bool


def sign_in_address_lock(request: HttpRequest | None, username: str | None) -> AddressLock | None:
    """The lock on the request's client address in this city, or None (one round trip).

    If Redis does not answer, or failed this process a moment ago
    (``caching.redis_skipped``), None (with a warning): the per-username lockout, in the
    database, still holds."""
    address = client_network(request)
    if address is None or redis_skipped():
        return None
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.ttl(sign_in_address_keys(address)[1])
        pipe.zscore(sign_in_address_known_key(address), sign_in_username_digest(username or ""))
        left, last_sign_in = pipe.execute()
    except Exception:
        redis_failed("sign-in address lock")
        return None
    if left <= 0:
        return None
    days = settings.SIGN_IN_ADDRESS_KNOWN_DAYS
    known = (
        bool(username)
        and days > 0
        and last_sign_in is not None
        and last_sign_in >= time.time() - days * 86_400
    )
    return AddressLock(seconds_left=left, username_known=known)


@dataclass(frozen=True)
class AddressLockout:
    address: str
    until: datetime


def sign_in_address_lockouts() -> list[AddressLockout]:
    """The client addresses locked now in the current city, the latest first."""
    try:
        rows = redis_client().zrevrangebyscore(
            sign_in_locked_addresses_key(), "+inf", time.time(), withscores=True
        )
    except Exception:
        logger.warning("sign-in address locks unavailable", exc_info=True)
        return []
    return [
        AddressLockout(
            address=member.decode() if isinstance(member, bytes) else member,
            until=datetime.fromtimestamp(score, tz=timezone.get_current_timezone()),
        )
        for member, score in rows
    ]
