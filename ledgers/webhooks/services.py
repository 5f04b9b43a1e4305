"""Webhooks: managing subscriptions, enqueueing record events, and delivering them.

Flow: a record service calls ``webhook_events_enqueue`` inside its transaction → one
delivery row per (listening subscription, record) → after the commit, one Celery task for
the city (``ledgers.webhooks.tasks.deliver_due_webhooks``), which hands the city's due
deliveries to the queue a few at a time (``ledgers.webhooks.dispatch``: each city's share
of the workers) → ``webhook_deliver`` builds the payload through the owner's policy (the
values as the owner may see them, at send time), signs it, POSTs it to an address checked
against the SSRF guard, records the answer and says when to try again.
``docs/webhooks.md`` is the receivers' contract.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import logging
import os
import re
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg.sql
import requests
import urllib3
import urllib3.connection
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from requests.adapters import HTTPAdapter

from daicho.tenancy.guard import require_tenant
from ledgers.access.policy import policy_for
from ledgers.audit.services import audit_record
from ledgers.definitions.models import Ledger
from ledgers.exceptions import RecordNotFound
from ledgers.fields.normalize import text_problem
from ledgers.records.output import record_output
from ledgers.webhooks.exceptions import WebhookInvalid, WebhookNotFound, WebhookUrlRefused
from ledgers.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from ledgers.webhooks.signing import sign
from tenants.models import Municipality

logger = logging.getLogger(__name__)

# Defaults of the settings read below (each may be set in the settings module).
RETRY_DELAYS = (60, 300, 1800, 7200, 21600)  # seconds after try 1…5; 6 tries in all
DISABLE_AFTER = 10  # consecutive dead deliveries that switch a subscription off
TIMEOUT = 5.0  # seconds to connect, and to wait for the answer
MAX_PER_LEDGER = 20
RESPONSE_BODY_LIMIT = 2048  # bytes of an answer read (and dropped) before closing
MAX_ADDRESSES = 3  # addresses of one host tried in turn when a connection cannot be made
# A delivery handed to the queue, or a try claimed, that never reports back (its worker
# died, Redis lost the message) is due again after this many seconds.
DISPATCH_LEASE = 300.0
USER_AGENT = "Daicho-Webhooks/1.0"
# Ports a URL may name unless WEBHOOK_ALLOWED_PORTS says otherwise: the web's.
PORTS = (443, 80)
# Settings modules where private addresses and http:// are allowed unless
# WEBHOOK_ALLOW_PRIVATE_NETWORKS / WEBHOOK_ALLOW_HTTP say otherwise: a developer's machine
# and the tests deliver to http://127.0.0.1:<any port>.
RELAXED_SETTINGS = frozenset({"daicho.settings.local", "daicho.settings.test"})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Not globally reachable (IANA's special-purpose registries, and deprecated ranges that a
# provider's network may still route), written out: ``is_global`` depends on the Python
# version, and 3.11 before 3.11.10 calls all of these global. Refused whatever they carry.
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(network)
    for network in (
        "192.0.0.0/24",  # IETF protocol assignments (192.0.0.192: Oracle Cloud's metadata)
        "192.88.99.0/24",  # the former 6to4 relay anycast
        "::/96",  # IPv4-compatible (::127.0.0.1), deprecated; :: and ::1 among them
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): translated to internal IPv4
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID …)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing (SRv6) SIDs
        "fc00::/7",  # unique-local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local, deprecated
    )
)


def retry_delays() -> tuple[int, ...]:
    return tuple(int(s) for s in getattr(settings, "WEBHOOK_RETRY_DELAYS", RETRY_DELAYS))


def dispatch_lease() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "WEBHOOK_DISPATCH_LEASE", DISPATCH_LEASE)))


def _relaxed(name: str) -> bool:
    configured = getattr(settings, name, None)
    if configured is not None:
        return bool(configured)
    # As base settings decide OPERATOR_REQUIRE_2FA (settings.SETTINGS_MODULE is None under
    # override_settings).
    return os.environ.get("DJANGO_SETTINGS_MODULE", "") in RELAXED_SETTINGS


def private_networks_allowed() -> bool:
    return _relaxed("WEBHOOK_ALLOW_PRIVATE_NETWORKS")


def http_allowed() -> bool:
    return _relaxed("WEBHOOK_ALLOW_HTTP")


def allowed_ports() -> frozenset[int] | None:
    """The ports a URL may name (None: any, as the tests' receivers on 127.0.0.1 need)."""
    configured = getattr(settings, "WEBHOOK_ALLOWED_PORTS", PORTS)
    return None if configured is None else frozenset(int(port) for port in configured)


# --- the SSRF guard ---------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """A URL checked for delivery: its host name, and the addresses that were checked."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]

    def pinned_url(self, address: str) -> str:
        """The URL with a checked address in place of the name (no second DNS lookup)."""
        ip = ipaddress.ip_address(address)
        literal = f"[{ip}]" if ip.version == 6 else str(ip)
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = {"http": 80, "https": 443}[self.scheme]
        return name if self.port == default else f"{name}:{self.port}"


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable, and so is any IPv4 address it carries (mapped, 6to4, NAT64)."""
    if not ip.is_global or ip.is_multicast or any(ip in net for net in _NOT_PUBLIC):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _is_public(embedded)
    return True


# A host name's label (letters, digits, hyphen; underscore as some DNS names have it).
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
# A last label a client reads as (part of) an IPv4 address: 127.1, 0x7f.1, 2130706433.
_NUMERIC = re.compile(r"0x[0-9a-f]*|[0-9]+")


@dataclass(frozen=True)
class _Target:
    """A URL that passed every check short of DNS: ``address`` for an IP literal."""

    scheme: str
    host: str
    port: int
    path: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None


def _target(url: str, *, allow_private: bool | None) -> _Target:
    """The checks that read the URL alone (never the DNS), so a refusal tells nothing of
    the city's or the data centre's network beyond what was typed."""
    if text_problem(url, allow_newlines=False) is not None:
        # urlsplit drops tabs and line breaks: the host checked and connected to would not
        # be the one the subscription list shows (a URL stored before ``_check_url``
        # refused them).
        raise WebhookUrlRefused("URL に制御文字や目に見えない文字が含まれています。", reason="host")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookUrlRefused("URL の形式が正しくありません。", reason="host") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or (scheme == "http" and not http_allowed()):
        raise WebhookUrlRefused(
            "送信先は https:// で始まる URL にしてください（http:// は暗号化されず、"
            "個人情報がそのまま流れるため使えません）。"
            if scheme == "http"
            else "送信先は https:// で始まる URL にしてください。",
            reason="scheme",
        )
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlRefused(
            "URL に利用者名やパスワードを含めないでください（署名で認証します）。",
            reason="credentials",
        )
    host = parts.hostname
    if not host:
        raise WebhookUrlRefused("URL にホスト名がありません。", reason="host")
    try:
        address = ipaddress.ip_address(host.split("%")[0])  # an IPv6 zone is not kept
    except ValueError:
        address = None
    if address is not None:
        host, loopback_name = host.split("%")[0], False
    else:
        try:
            # A Japanese domain name (れんけい.example.jp) in its ASCII form (xn--…): the
            # form DNS, TLS and the Host header take.
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise WebhookUrlRefused("URL のホスト名が正しくありません。", reason="host") from None
        labels = host.removesuffix(".").split(".")
        if (
            len(host) > 253
            or not all(_LABEL.fullmatch(label) for label in labels)
            or _NUMERIC.fullmatch(labels[-1])
        ):
            raise WebhookUrlRefused("URL のホスト名が正しくありません。", reason="host")
        # localhost is loopback by definition (RFC 6761): refused by its name, no lookup.
        loopback_name = labels[-1] == "localhost"
    if port is None:
        port = 443 if scheme == "https" else 80
    ports = allowed_ports()
    if ports is not None and port not in ports:
        raise WebhookUrlRefused(
            f"送信先のポート番号（{port}）は使えません。使えるのは "
            f"{'・'.join(str(p) for p in sorted(ports))} です"
            "（URL にポート番号を書かなければ https は 443）。",
            reason="port",
        )
    allowed = private_networks_allowed() if allow_private is None else allow_private
    if not allowed and (loopback_name or (address is not None and not _is_public(address))):
        raise WebhookUrlRefused(
            "送信先が内部向けのアドレス（ループバック・プライベート・リンクローカルなど）のため、"
            "使えません。インターネットから到達できる送信先を指定してください。",
            reason="private_address",
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Target(scheme=scheme, host=host, port=port, path=path, address=address)


def webhook_url_check(url: str, *, allow_private: bool | None = None) -> None:
    """Check ``url`` for a subscription; ``WebhookUrlRefused`` if it may not be used.

    Only https (http where ``WEBHOOK_ALLOW_HTTP``), on a port of ``WEBHOOK_ALLOWED_PORTS``
    (443 and 80 by default), no credentials in the URL, a well-formed host name, and
    (unless ``WEBHOOK_ALLOW_PRIVATE_NETWORKS``) neither an IP address that is not public
    nor ``localhost``. A host name is not resolved here: its refusal, or the time its
    lookup took, told one who may register a URL whether an internal name exists. It is
    resolved, and its addresses checked, at every try (``webhook_url_resolve``).
    """
    _target(url, allow_private=allow_private)


def webhook_url_resolve(url: str, *, allow_private: bool | None = None) -> Destination:
    """Check ``url`` for delivery and resolve it; ``WebhookUrlRefused`` if it may not be used.

    ``webhook_url_check``'s rules, and (unless private networks are allowed) every address
    the host resolves to must be public: loopback, private, link-local (169.254.169.254,
    the cloud metadata service), shared, reserved and multicast addresses are refused. A
    name that does not resolve and one that resolves to such an address are refused alike
    (``no_public_address``): the delivery log, which the subscription's designers read,
    must not tell them apart. The delivery then connects to the address checked here, so
    a DNS answer that changes in between cannot redirect it.
    """
    target = _target(url, allow_private=allow_private)
    if target.address is not None:
        addresses = [target.address]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
            addresses = list(
                dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
            )
        except (OSError, UnicodeError, ValueError):
            addresses = []
    allowed = private_networks_allowed() if allow_private is None else allow_private
    if not addresses or (not allowed and not all(_is_public(ip) for ip in addresses)):
        raise WebhookUrlRefused(
            "送信先のホスト名から、送信できるアドレスが得られませんでした"
            "（名前を解決できないか、内部向けのアドレスです）。",
            reason="no_public_address",
        )
    return Destination(
        scheme=target.scheme, host=target.host, port=target.port, path=target.path,
        addresses=tuple(str(a) for a in addresses),
    )  # fmt: skip


class _Watch:
    """The sockets one delivery opened, to be shut when its time is up: the timeouts bound
    each read, not the whole answer, and a receiver that sends a byte now and then kept a
    worker (shared by every city) for as long as it liked."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.expired = False

    def expire(self) -> None:
        self.expired = True
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def register(self, sock: socket.socket) -> None:
        """Watch ``sock``; shut it at once if the time is up already: connecting to several
        addresses in turn (a connect timeout each) outlasts the deadline, and a socket
        connected after it was never shut, so a dripping answer held the worker."""
        self.sockets.append(sock)
        if self.expired:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _watched_pools(watch: _Watch) -> dict[str, type]:
    """urllib3's connection pools, whose connections report their sockets to ``watch``."""

    class Connection(urllib3.connection.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            watch.register(self.sock)

    class SecureConnection(urllib3.connection.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            watch.register(self.sock)

    class Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(urllib3.HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    return {"http": Pool, "https": SecurePool}


class _PinnedAdapter(HTTPAdapter):
    """Connects to the checked address; TLS still presents and verifies the host name. The
    sockets it opens are reported to ``watch``."""

    def __init__(self, server_hostname: str, watch: _Watch | None = None) -> None:
        self._server_hostname = server_hostname
        self._watch = watch or _Watch()
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _watched_pools(self._watch)

    def build_connection_pool_key_attributes(
        self, request: Any, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if host_params.get("scheme") == "https":
            pool_kwargs["server_hostname"] = self._server_hostname
        return host_params, pool_kwargs


def _never_connected(exc: requests.RequestException) -> bool:
    """The connection was not made (so nothing was sent): another address may be tried."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _post(destination: Destination, body: bytes, headers: Mapping[str, str]) -> int:
    """POST to the checked addresses in turn (as a client would), without following redirects.

    Proxies from the environment are ignored: the address checked is the one connected to.
    ``WEBHOOK_CA_BUNDLE`` names the certificates to trust (an LGWAN or city CA), the
    system's by default.
    """
    timeout = float(getattr(settings, "WEBHOOK_TIMEOUT", TIMEOUT))
    # The whole answer, status line to the last byte kept, within this many seconds.
    deadline = float(getattr(settings, "WEBHOOK_DEADLINE", 2 * timeout))
    verify: bool | str = getattr(settings, "WEBHOOK_CA_BUNDLE", None) or True
    watch = _Watch()
    timer = threading.Timer(deadline, watch.expire)
    timer.daemon = True
    timer.start()
    expired = DeliveryTimeout(f"{deadline:g} 秒以内に応答が終わりませんでした。")
    try:
        answer = _post_watched(destination, body, headers, timeout, verify, watch)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
        if watch.expired:
            raise expired from None
        raise
    finally:
        timer.cancel()
    if watch.expired:  # a shut socket reads as the end of the answer: it was cut, not ended
        raise expired
    return answer


class DeliveryTimeout(OSError):
    """The receiver did not finish answering within ``WEBHOOK_DEADLINE``."""


def _reason_of(exc: BaseException) -> str:
    """A reason in words of ours, the system's or TLS's; "" for any other error."""
    if isinstance(exc, DeliveryTimeout):
        return str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return str(exc.verify_message or "")
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or "")
    if isinstance(exc, OSError) and exc.errno and exc.strerror:
        return exc.strerror
    return ""


def _error_text(exc: BaseException) -> str:
    """What went wrong, for the delivery log: the type of each error in the chain, and a
    reason in words of ours, the system's or TLS's (``Connection refused``, ``certificate
    has expired``). Never an exception's own text: http.client's ``BadStatusLine`` quotes
    the first line the peer sent, so the log carried back a Redis error, an SSH or SMTP
    banner (the webhook as a probe that reads answers), or a payload echoed."""
    names: list[str] = []
    reason = ""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(names) < 8:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if type(current).__name__ not in names:
            names.append(type(current).__name__)
        if not reason:  # the outermost reason is the one said
            reason = _reason_of(current)
        nested = [a for a in current.args if isinstance(a, BaseException)]
        inner = getattr(current, "reason", None)
        if isinstance(inner, BaseException):
            nested.append(inner)
        nested += [e for e in (current.__cause__, current.__context__) if e is not None]
        pending.extend(nested)
    return " ← ".join(names) + (f": {reason}" if reason else "")


def _post_watched(
    destination: Destination,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    verify: bool | str,
    watch: _Watch,
) -> int:
    with requests.Session() as session:
        session.trust_env = False
        adapter = _PinnedAdapter(destination.host, watch)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        addresses = destination.addresses[:MAX_ADDRESSES]
        for index, address in enumerate(addresses):
            try:
                response = session.post(
                    destination.pinned_url(address),
                    data=body,
                    headers={**headers, "Host": destination.host_header},
                    timeout=(timeout, timeout),
                    allow_redirects=False,
                    stream=True,
                    verify=verify,
                )
                break
            except requests.RequestException as exc:
                last = index == len(addresses) - 1
                if last or watch.expired or not _never_connected(exc):
                    raise
        # The answer's start is read (a receiver must finish answering within the
        # deadline) and dropped: the status is the answer. Its body is not kept: a receiver
        # that echoes what it was sent, in an error as much as in a success, would show
        # record values to whoever reads the delivery log (ledger designers, who may not
        # view records).
        try:
            response.raw.read(RESPONSE_BODY_LIMIT, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError):
            pass  # a broken body does not change the status
        finally:
            response.close()
    return response.status_code


# --- subscriptions ----------------------------------------------------------------------


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _url_for_audit(url: str) -> str:
    """Scheme, host and path: the audit trail says where data went, not the query string."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _clean_events(events: Any, errors: dict[str, list[str]]) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        errors["events"] = ["イベントを1つ以上指定してください。"]
        return []
    unknown = [str(e) for e in events if e not in WebhookEvent.values]
    if unknown:
        errors["events"] = [f"知らないイベントです: {', '.join(unknown)}"]
        return []
    return sorted(set(events))


def _check_owner(owner: Any, actor: Any, ledger: Ledger, errors: dict[str, list[str]]) -> None:
    """The owner is the actor: a subscription is a read channel that sends the owner's view
    of every record to its URL, so one who named another owner (or moved another's
    subscription to a URL of their own) read what that owner may see, a designer who may
    not view records included, and the trail named the owner as the reader."""
    if owner is None or getattr(owner, "pk", None) != getattr(actor, "pk", None):
        errors["owner"] = [
            "名義人は登録・変更する本人に限ります（送信内容は名義人の権限で作られるため、"
            "他の職員を名義人にすると、その職員に見える記録を受け取れてしまいます）。"
        ]
    elif not owner.is_active or not policy_for(owner, ledger).can("view"):
        errors["owner"] = [
            "名義人（登録する本人）に、この台帳の閲覧権限が必要です"
            "（送信内容は名義人の権限で作られます）。"
        ]


def _check_url(url: Any, errors: dict[str, list[str]]) -> None:
    """A URL as the list shows it is the URL deliveries go to: no control, bidirectional or
    invisible character (``text_problem``). Python's URL parser drops tabs and line
    breaks, so ``https://fukushi.example.jp<LF>.evil.example/`` was checked and delivered
    as ``fukushi.example.jp.evil.example`` while ledger administrators read, on its first
    line, a host they trust."""
    if not isinstance(url, str) or not url.strip():
        errors["url"] = ["送信先 URL を指定してください。"]
    elif len(url) > 2000:
        errors["url"] = ["URL は2000文字以内にしてください。"]
    elif (problem := text_problem(url.strip(), allow_newlines=False)) is not None:
        errors["url"] = [f"{problem}。"]


def _check_description(description: Any, errors: dict[str, list[str]], *, stored: str = "") -> None:
    """The description tells subscriptions apart in the list: nothing ``text_problem``
    refuses (an invisible or bidirectional character would make one look like another).
    The one ``stored`` passes, written before the rule."""
    text = str(description or "").strip()
    problem = None if text == stored else text_problem(text)
    if problem is not None:
        errors["description"] = [f"{problem}。"]


def _describe(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "webhook": str(subscription.pk),
        "url": _url_for_audit(subscription.url),
        "events": list(subscription.events),
        "owner": subscription.owner.username,
        "active": subscription.active,
    }


def webhook_subscription_create(
    *,
    actor: Any,
    ledger: Ledger,
    url: str,
    events: Sequence[str],
    owner: Any = None,
    description: str = "",
) -> WebhookSubscription:
    """Subscribe ``url`` to ``events`` of ``ledger`` (requires ``design``); audited.

    ``owner`` is the actor (``_check_owner``), who must hold ``view`` on the ledger:
    payloads show what the owner may see. The new subscription's ``secret`` is readable on
    the returned object only; the API shows it once.
    """
    require_tenant()
    policy_for(actor, ledger).require("design")
    owner = actor if owner is None else owner
    errors: dict[str, list[str]] = {}
    _check_url(url, errors)
    cleaned_events = _clean_events(events, errors)
    _check_owner(owner, actor, ledger, errors)
    _check_description(description, errors)
    if errors:
        raise WebhookInvalid(errors)
    url = url.strip()
    webhook_url_check(url)
    limit = int(getattr(settings, "WEBHOOK_MAX_PER_LEDGER", MAX_PER_LEDGER))
    with transaction.atomic():
        # The count and the insert under the ledger's lock, held until the commit: two
        # creations at limit - 1 each counted limit - 1 and both inserted (21 of 20). FOR NO
        # KEY UPDATE: it queues with the definition's and the grants' changes (FOR UPDATE)
        # and other creations, not with the inserts of records, which reference the ledger.
        locked = Ledger.objects.select_for_update(no_key=True).get(pk=ledger.pk)
        # The rights again, on the grants as they are now: checked only before the lock, a
        # designer whose ``design`` (or whose ``view``, which the payloads carry) another
        # designer was taking away (``grants_replace`` holds this lock) passed, waited, and
        # subscribed after the grant was gone.
        policy_for(actor, locked).require("design")
        _check_owner(owner, actor, locked, errors)
        if errors:
            raise WebhookInvalid(errors)
        if WebhookSubscription.objects.filter(ledger=ledger).count() >= limit:
            raise WebhookInvalid({"url": [f"1つの台帳に登録できる Webhook は{limit}件までです。"]})
        subscription = WebhookSubscription.objects.create(
            ledger=ledger, url=url, events=cleaned_events, owner=owner,
            description=(description or "").strip()[:200], secret=_new_secret(), created_by=actor,
        )  # fmt: skip
        audit_record(
            actor=actor, action="webhook.create", ledger_code=ledger.code,
            details=_describe(subscription),
        )  # fmt: skip
    logger.info("webhook created: webhook=%s ledger=%s", subscription.pk, ledger.code)
    return subscription


UPDATABLE = frozenset({"url", "events", "owner", "description", "active", "rotate_secret"})


def webhook_subscription_update(
    *, actor: Any, subscription: WebhookSubscription, changes: Mapping[str, Any]
) -> WebhookSubscription:
    """Change url, events, owner, description or ``active`` (requires ``design``); audited.

    Where payloads go and whose view they carry (``url``, ``owner``) only the owner may
    change, and ``owner`` only to themself: another designer takes a subscription over by
    naming themself with the new URL.

    A new URL gets a new secret, and so does ``rotate_secret: true`` (the owner's alone);
    the caller shows it once: ``issued_secret`` of the answer, set only when this change
    made it (a secret that differs from the one the caller read before the lock may be
    another change's, the owner's rotation committed meanwhile). Kept across a change of URL, the secret stayed with whoever
    ran the old receiver, who could sign deliveries the new one accepted, and a designer
    who took a subscription over never learnt the secret its deliveries were signed with.

    ``active: true`` re-enables a subscription switched off after failures: the counter is
    reset and the deliveries still open are sent again (``webhook.enable``);
    ``active: false`` pauses it (``webhook.disable``). Other changes are ``webhook.update``.
    """
    require_tenant()
    ledger = subscription.ledger
    policy_for(actor, ledger).require("design")
    enabled = disabled = False
    with transaction.atomic():
        # The ledger's lock first (as a creation takes it), and the right to design again
        # under it: checked only before, a designer whose grants another designer was
        # taking away (``grants_replace`` holds this lock) passed, waited, and re-pointed or
        # re-enabled a subscription after the grant was gone.
        ledger = Ledger.objects.select_for_update(no_key=True).get(pk=ledger.pk)
        policy_for(actor, ledger).require("design")
        locked = (
            WebhookSubscription.objects.select_for_update()
            .select_related("owner")
            .filter(pk=subscription.pk)
            .first()
        )
        if locked is None:  # deleted meanwhile
            raise WebhookNotFound()
        # The rules read the subscription as it is under the lock, not as the request found
        # it: a change of the URL alone, checked while the actor owned the subscription,
        # landed after another designer had taken it over and sent that one's view to the
        # actor's receiver.
        events = _update_errors(actor, ledger, locked, changes)
        before = _describe(locked)
        changed: list[str] = []
        if "url" in changes and changes["url"].strip() != locked.url:
            locked.url = changes["url"].strip()
            changed.append("url")
        if "url" in changed or changes.get("rotate_secret") is True:
            locked.secret = locked.issued_secret = _new_secret()
            changed.append("secret")  # that it changed, never the secret
        if events is not None and events != list(locked.events):
            locked.events = events
            changed.append("events")
        if "owner" in changes and changes["owner"].pk != locked.owner_id:
            locked.owner = changes["owner"]
            changed.append("owner")
        if "description" in changes:
            description = str(changes["description"] or "").strip()[:200]
            if description != locked.description:
                locked.description = description
                changed.append("description")
        if changes.get("active") is True and not locked.active:
            locked.active, locked.failure_count, locked.disabled_at = True, 0, None
            enabled = True
        elif changes.get("active") is False and locked.active:
            locked.active, locked.disabled_at = False, timezone.now()
            disabled = True
        locked.save()
        if changed:
            audit_record(
                actor=actor, action="webhook.update", ledger_code=ledger.code,
                details={"webhook": str(locked.pk), "fields": changed, "before": before,
                         "after": _describe(locked)},
            )  # fmt: skip
        if enabled or disabled:
            audit_record(
                actor=actor, action="webhook.enable" if enabled else "webhook.disable",
                ledger_code=ledger.code,
                details={"webhook": str(locked.pk), "reason": "manual"},
            )  # fmt: skip
        if enabled:
            # Its open deliveries are due (or will be): the city's dispatch sends them in turn
            # with the city's others, not all at once.
            transaction.on_commit(
                functools.partial(_schedule_after_commit, connection.schema_name), robust=True
            )
    return locked


def _update_errors(
    actor: Any, ledger: Ledger, locked: WebhookSubscription, changes: Mapping[str, Any]
) -> list[str] | None:
    """Check ``changes`` against the locked subscription (``WebhookInvalid`` with every
    problem at once); the cleaned events, if they change."""
    unknown = sorted(set(changes) - UPDATABLE)
    errors: dict[str, list[str]] = {key: ["変更できない項目です。"] for key in unknown}
    if "url" in changes:
        _check_url(changes["url"], errors)
    events = _clean_events(changes["events"], errors) if "events" in changes else None
    if "rotate_secret" in changes and not isinstance(changes["rotate_secret"], bool):
        errors["rotate_secret"] = ["true か false で指定してください。"]
    if "owner" in changes or "url" in changes or changes.get("rotate_secret") is True:
        # The secret signs what the owner's receiver trusts: another designer who rotated
        # it would read the new one, and could sign deliveries to that receiver.
        _check_owner(changes.get("owner", locked.owner), actor, ledger, errors)
    if (
        "owner" in changes
        and "url" not in changes
        and getattr(changes["owner"], "pk", None) != locked.owner_id
    ):
        # A new owner's view sent on to the URL the previous owner chose: the previous
        # owner (or whoever runs that receiver) would read what the new one may see.
        errors["url"] = [
            "名義人を変えるときは、送信先 URL も指定してください"
            "（前の名義人が決めた送信先に、新しい名義人の権限の内容を送らないため）。"
        ]
    if "active" in changes and not isinstance(changes["active"], bool):
        errors["active"] = ["true か false で指定してください。"]
    if "description" in changes:
        _check_description(changes["description"], errors, stored=locked.description)
    if errors:
        raise WebhookInvalid(errors)
    if "url" in changes:
        webhook_url_check(changes["url"].strip())
    return events


def webhook_subscription_delete(*, actor: Any, subscription: WebhookSubscription) -> None:
    """Delete the subscription and its delivery log (requires ``design``); audited.

    As a change: the right is checked again under the ledger's lock, on the grants as they
    are once a change of them holding that lock (``grants_replace``) has committed, and
    the subscription is read under its own lock (one deleted meanwhile is
    ``WebhookNotFound``, 404; the event describes it as it was then)."""
    require_tenant()
    ledger = subscription.ledger
    policy_for(actor, ledger).require("design")
    with transaction.atomic():
        ledger = Ledger.objects.select_for_update(no_key=True).get(pk=ledger.pk)
        policy_for(actor, ledger).require("design")
        locked = WebhookSubscription.objects.select_for_update().filter(pk=subscription.pk).first()
        if locked is None:  # deleted meanwhile
            raise WebhookNotFound()
        audit_record(
            actor=actor, action="webhook.delete", ledger_code=ledger.code,
            details=_describe(locked),
        )  # fmt: skip
        locked.delete()


# --- enqueueing events ------------------------------------------------------------------

_ENQUEUE_SQL = """
INSERT INTO ledgers_webhookdelivery (id, subscription_id, event, record_id, generation,
    payload, attempts, status, response_status, error, next_attempt_at,
    created_at, delivered_at)
SELECT gen_random_uuid(), s.id, %(event)s, r.id, r.generation,
    jsonb_build_object('event', %(event)s::text, 'ledger', %(code)s::text,
        'record_id', r.id, 'generation', r.generation),
    0, 'pending', NULL, '', %(now)s, %(now)s, NULL
FROM unnest(%(subscriptions)s::uuid[]) AS s(id)
CROSS JOIN unnest(%(ids)s::uuid[], %(generations)s::integer[]) AS r(id, generation)
"""


# The same insert as a common-table expression for the record services' single-statement
# writes: ``{source}`` names the CTE holding the written rows (id, generation). Parameters:
# ``wh_events`` (text[]), ``ledger``, ``code``, ``now``.
WEBHOOK_DELIVERIES_CTE = """
    INSERT INTO ledgers_webhookdelivery (id, subscription_id, event, record_id, generation,
        payload, attempts, status, response_status, error, next_attempt_at,
        created_at, delivered_at)
    SELECT gen_random_uuid(), s.id, e.event, r.id, r.generation,
        jsonb_build_object('event', e.event, 'ledger', %(code)s::text, 'record_id', r.id,
            'generation', r.generation),
        0, 'pending', NULL, '', %(now)s, %(now)s, NULL
    FROM ledgers_webhooksubscription s
    CROSS JOIN unnest(%(wh_events)s::text[]) AS e(event)
    CROSS JOIN {source} AS r
    WHERE s.ledger_id = %(ledger)s AND s.active AND e.event = ANY(s.events)
    RETURNING id
"""


def webhook_deliveries_schedule(delivery_ids: Sequence[Any]) -> None:
    """Have the deliveries that a record write inserted sent, once its transaction commits."""
    if delivery_ids:
        transaction.on_commit(
            functools.partial(_schedule_after_commit, connection.schema_name), robust=True
        )


# ``WebhookEvent.values`` builds its list (and each label) anew on every access: once here.
_EVENTS = frozenset(WebhookEvent.values)

_LISTENERS_SQL = (
    "SELECT id FROM ledgers_webhooksubscription"
    " WHERE ledger_id = {} AND active AND events @> ARRAY[{}]::varchar(32)[]"
)
_LISTENERS_QUERY = _LISTENERS_SQL.format("%s", "%s")  # the same, with parameters


def webhook_listeners_sql(*, ledger: Ledger, event: str) -> bytes:
    """The statement (values inlined, for a message of several) that selects the ids of
    the subscriptions listening to ``event`` on ``ledger``: a bulk write sends it with its
    last COPY and hands the ids to ``webhook_events_enqueue`` (no round trip of its own)."""
    statement = psycopg.sql.SQL(_LISTENERS_SQL + ";").format(
        psycopg.sql.Literal(ledger.pk), psycopg.sql.Literal(event)
    )
    return statement.as_bytes(connection.connection)


def webhook_events_enqueue(
    *,
    ledger: Ledger,
    event: str,
    records: Sequence[tuple[uuid.UUID, int]],
    listeners: Sequence[Any] | None = None,
) -> int:
    """Queue ``event`` for ``records`` (``(record id, generation)`` pairs) to the ledger's listeners.

    Called by the record services inside their transaction. One indexed query when no
    active subscription of the ledger listens to ``event`` (none when the caller read
    the ``listeners`` already, with ``webhook_listeners_sql``, in the same transaction);
    otherwise one more statement writes every delivery row. Sending is scheduled with
    ``transaction.on_commit`` (one task for the city, however many rows: they leave a few
    at a time, ``ledgers.webhooks.dispatch``), so a rolled-back write sends nothing.
    Returns how many deliveries were queued.
    """
    require_tenant()
    if event not in _EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if not records:
        return 0
    with connection.cursor() as cursor:
        if listeners is None:
            # A fixed statement rather than the ORM's: a bulk request paid ~2 ms building it.
            cursor.execute(_LISTENERS_QUERY, [ledger.pk, event])
            listeners = [row[0] for row in cursor.fetchall()]
        if not listeners:
            return 0
        cursor.execute(
            _ENQUEUE_SQL,
            {
                "event": event, "code": ledger.code, "now": timezone.now(),
                "subscriptions": list(listeners), "ids": [r[0] for r in records],
                "generations": [int(r[1]) for r in records],
            },
        )  # fmt: skip
        queued = cursor.rowcount
    transaction.on_commit(
        functools.partial(_schedule_after_commit, connection.schema_name), robust=True
    )
    return queued


def _schedule_after_commit(schema: str) -> None:
    """Have the city's due deliveries dispatched (one task for the city, at most one waiting)."""
    from ledgers.webhooks.tasks import deliveries_kick

    deliveries_kick(schema)


# --- delivering -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one call of ``webhook_deliver`` did.

    ``status`` is the delivery's status after the call, or ``skipped`` when there was
    nothing to do (sent already, paused, a stale task, in another worker's hands);
    ``next_attempt_at`` says when to call again (None: never).
    """

    delivery_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class _Attempt:
    visible: bool = False
    status_code: int | None = None
    error: str = ""
    withheld: bool = False  # not sent: the owner may not see the record now

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_payload(*, delivery: WebhookDelivery, delivered_at: datetime) -> dict[str, Any]:
    """The body of one delivery, built now through the owner's policy.

    A record the owner may not see (the API would answer 404) is ``{"id", "visible":
    false}``, which ``_attempt`` does not send at all. Fields above the owner's clearance
    are masked by ``record_output`` as in every output.
    """
    subscription = delivery.subscription
    policy = policy_for(subscription.owner, subscription.ledger)
    record: dict[str, Any] = {"id": str(delivery.record_id), "visible": False}
    if policy.can("view"):
        try:
            # As the API reads it by id: through a department that gives view (a record
            # the owner reaches only through one that may search went out visible, with
            # its state and times).
            found = policy.viewing().get_record(delivery.record_id)
        except RecordNotFound:
            pass
        else:
            record = {**record_output(found, policy), "visible": True}
    return {
        "event": delivery.event,
        "ledger": subscription.ledger.code,
        "record": record,
        "generation": delivery.generation,
        "delivered_at": delivered_at.isoformat(),
        "delivery_id": str(delivery.pk),
    }


def _attempt(delivery: WebhookDelivery) -> _Attempt:
    subscription = delivery.subscription
    payload = webhook_payload(delivery=delivery, delivered_at=timezone.now())
    visible = payload["record"]["visible"]
    if not visible:
        # Not even the envelope: a record the owner may not see (one closed to the owner's
        # department, the owner's rights gone since the event) is one the API answers 404
        # for. Sent as ``{"id", "visible": false}``, its id, event and generation told the
        # receiving system that the person's record exists and when it changes.
        return _Attempt(withheld=True, error="名義人が閲覧できない記録のため、送信しませんでした。")
    try:
        destination = webhook_url_resolve(subscription.url)
    except WebhookUrlRefused as exc:
        return _Attempt(error=f"送信先を拒否しました（{exc.reason}）: {exc.message}")
    sent_generation = payload["record"].get("generation", delivery.generation)
    body = json.dumps(
        payload, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder
    ).encode("utf-8")
    # Values leave the system on the owner's grants: a read of personal data, written
    # (committed) before the body leaves. Written after the POST, in the outcome's
    # transaction, a worker that died between the two had sent values unaudited. A
    # try whose body may not have gone is audited all the same: it may have.
    with transaction.atomic():
        audit_record(
            actor=subscription.owner, action="webhook.deliver",
            ledger_code=subscription.ledger.code, record_id=delivery.record_id,
            generation=sent_generation,
            details={"webhook": str(subscription.pk), "delivery": str(delivery.pk),
                     "attempt": delivery.attempts},
        )  # fmt: skip
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Daicho-Event": delivery.event,
        "X-Daicho-Delivery": str(delivery.pk),
        "X-Daicho-Timestamp": str(timestamp),
        "X-Daicho-Signature": sign(subscription.secret, timestamp, body),
    }
    try:
        status_code = _post(destination, body, headers)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        return _Attempt(visible=visible, error=_error_text(exc)[:1000])
    except Exception as exc:
        # The body may have left (it was audited before): the try failed, so the retries
        # and the dead-delivery rule still apply. Only the type is kept: its text could
        # quote the answer.
        logger.warning("webhook delivery error: delivery=%s %s", delivery.pk, type(exc).__name__)
        return _Attempt(visible=visible, error=f"{type(exc).__name__}（送信中の想定外の誤り）")
    error = "" if 200 <= status_code < 300 else f"HTTP {status_code}"
    return _Attempt(visible=visible, status_code=status_code, error=error)


def _count_dead(subscription: WebhookSubscription) -> None:
    """One more dead delivery in a row; switch the subscription off at the limit."""
    locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    locked.failure_count += 1
    fields = ["failure_count"]
    limit = int(getattr(settings, "WEBHOOK_DISABLE_AFTER", DISABLE_AFTER))
    if locked.active and locked.failure_count >= limit:
        locked.active, locked.disabled_at = False, timezone.now()
        fields += ["active", "disabled_at"]
        audit_record(
            actor=None, action="webhook.disable", ledger_code=subscription.ledger.code,
            details={"webhook": str(locked.pk), "reason": "failures",
                     "dead_deliveries": locked.failure_count},
        )  # fmt: skip
        logger.warning(
            "webhook disabled: webhook=%s dead_deliveries=%s", locked.pk, locked.failure_count
        )
    locked.save(update_fields=fields)


def city_suspended() -> bool:
    """Whether the operator suspended the city the connection is on. A suspension stops
    data leaving the city, not only its hosts: a task already queued (a delivery dispatched
    before, a message of the release before) would otherwise send record values after it."""
    return Municipality.objects.filter(
        schema_name=connection.schema_name, status=Municipality.Status.SUSPENDED
    ).exists()


def webhook_deliver(
    *,
    delivery_id: str,
    attempt: int | None = None,
    now: datetime | None = None,
    dispatched: bool = False,
) -> DeliveryOutcome:
    """Try one delivery if it is due; record the answer and when to try again.

    ``attempt`` (from the task) is the try this call is meant to make: a duplicate or
    stale task finds the count moved on and does nothing. ``dispatched``: the city's
    dispatch found the delivery due and leased it (``ledgers.webhooks.dispatch``), so its
    lease is no reason to wait. ``now`` is the clock for what is due and for the backoff
    (tests). Claiming the try is a short transaction; the HTTP request runs outside any
    transaction of this function.
    """
    require_tenant()
    now = now or timezone.now()
    with transaction.atomic():
        try:
            delivery = (
                WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("subscription__ledger", "subscription__owner")
                .filter(pk=delivery_id)
                .first()
            )
        except (ValueError, ValidationError):
            delivery = None
        if delivery is None:
            return DeliveryOutcome(str(delivery_id), "skipped", 0, None)
        subscription = delivery.subscription
        stale = attempt is not None and delivery.attempts != attempt - 1
        if delivery.status not in WebhookDelivery.OPEN or stale:
            return DeliveryOutcome(str(delivery.pk), "skipped", delivery.attempts, None)
        if not subscription.active or city_suspended():
            # Left open and unclaimed: the dispatch, which passes paused subscriptions and
            # suspended cities by, sends it once the subscription is enabled or the city
            # resumed; with the dispatch's lease given back, at once then.
            if dispatched:
                WebhookDelivery.objects.filter(pk=delivery.pk).update(dispatched_until=None)
            return DeliveryOutcome(str(delivery.pk), "skipped", delivery.attempts, None)
        due = delivery.next_attempt_at is None or delivery.next_attempt_at <= now
        in_hand = delivery.dispatched_until is not None and delivery.dispatched_until > now
        if not dispatched and (not due or in_hand):
            return DeliveryOutcome(
                str(delivery.pk), delivery.status, delivery.attempts,
                max(delivery.next_attempt_at or now, delivery.dispatched_until or now),
            )  # fmt: skip
        delivery.attempts += 1
        # A claimed try that never reports back (its worker died mid-send) is due again
        # after the lease: the next try, since this one may have been sent.
        delivery.dispatched_until = now + dispatch_lease()
        delivery.save(update_fields=["attempts", "dispatched_until"])

    result = _attempt(delivery)

    delays = retry_delays()
    with transaction.atomic():
        if result.withheld:
            # Final, whatever the owner's rights become: the event is of the past, and a
            # later try would send it as news. Nothing failed, so no count moves.
            status, next_at = WebhookDelivery.Status.WITHHELD, None
        elif result.ok:
            status, next_at = WebhookDelivery.Status.SUCCEEDED, None
            WebhookSubscription.objects.filter(pk=subscription.pk, failure_count__gt=0).update(
                failure_count=0
            )
        elif delivery.attempts >= len(delays) + 1:
            status, next_at = WebhookDelivery.Status.DEAD, None
            _count_dead(subscription)
        else:
            status = WebhookDelivery.Status.FAILED
            next_at = now + timedelta(seconds=delays[delivery.attempts - 1])
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status,
            next_attempt_at=next_at,
            dispatched_until=None,
            response_status=result.status_code,
            error=result.error,
            delivered_at=timezone.now() if result.ok else None,
            payload={**delivery.payload, "visible": result.visible},
        )
    logger.info(
        "webhook delivery: delivery=%s webhook=%s event=%s record=%s attempt=%s status=%s http=%s",
        delivery.pk, subscription.pk, delivery.event, delivery.record_id, delivery.attempts,
        status, result.status_code,
    )  # fmt: skip
    return DeliveryOutcome(str(delivery.pk), status, delivery.attempts, next_at)
