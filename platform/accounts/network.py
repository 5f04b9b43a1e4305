"""The client's address, as far as the proxies in front of Django can be trusted."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str | None:
    """REMOTE_ADDR, or the address the outermost trusted proxy received the request from.

    Each of ``TRUSTED_PROXY_COUNT`` proxies appends the address it was called from to
    X-Forwarded-For, so the client is that many entries from the right; anything further
    left was written by the client and proves nothing. Lockouts (axes'
    ``AXES_CLIENT_IP_CALLABLE``) and audit events both use this.
    """
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < count:
        return remote
    candidate = forwarded[-count]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return remote
    return candidate


def client_network(request: HttpRequest | None) -> str | None:
    """What a per-address limit counts: ``client_ip``, an IPv6 address by its /64 (one
    client is given a whole /64 and can take a new address per request), an IPv4-mapped
    one as IPv4. None without an address."""
    found = client_ip(request)
    if not found:
        return None
    try:
        address = ipaddress.ip_address(found)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def lockout_address(request: HttpRequest | None) -> str | None:
    """The address of the per username+address lockout (axes' ``AXES_CLIENT_IP_CALLABLE``)
    and of the queue of a username's attempts: ``client_network`` written as an address,
    an IPv6 client by the first address of its /64. Counted by the exact address, a client
    holding a /64 took a fresh one every ``AXES_FAILURE_LIMIT`` guesses at one username's
    password and was never locked out (the per-address limit counts usernames, not
    guesses)."""
    found = client_network(request)
    if found is None or "/" not in found:
        return found
    return str(ipaddress.ip_network(found).network_address)
