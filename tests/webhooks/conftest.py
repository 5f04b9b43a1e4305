"""Webhook fixtures: a real HTTP receiver on 127.0.0.1, and subscriptions on the DV ledger."""

from __future__ import annotations

import ssl
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership, Role
from ledgers.access.models import Grant
from ledgers.access.services import grant_describe, grants_replace
from ledgers.webhooks.models import WebhookDelivery, WebhookSubscription
from ledgers.webhooks.services import webhook_events_enqueue, webhook_subscription_create
from tests.api.conftest import api, city  # noqa: F401  (the DV ledger and its staff)


@dataclass(frozen=True)
class Received:
    path: str
    headers: Message
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    echo: bool = False  # answer with the body received


class Receiver:
    """An HTTP server in a thread that records every POST and answers as told (200 when not).

    Receivers given one ``journal`` write their ``label`` to it as each POST arrives: the
    order in which several receivers were reached."""

    def __init__(
        self,
        tls: ssl.SSLContext | None = None,
        name: str = "127.0.0.1",
        journal: list[str] | None = None,
        label: str = "",
    ) -> None:
        self.scheme, self.name = ("https" if tls else "http"), name
        self.journal, self.label = journal, label
        self.received: list[Received] = []
        self.answers: deque[Answer] = deque()
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = receiver.answers.popleft() if receiver.answers else Answer()
                with receiver.arrived:
                    receiver.received.append(Received(self.path, self.headers, body))
                    if receiver.journal is not None:
                        receiver.journal.append(receiver.label)
                    receiver.arrived.notify_all()
                try:
                    time.sleep(answer.delay)
                    self.send_response(answer.status)
                    for name, value in answer.headers:
                        self.send_header(name, value)
                    sent = body if answer.echo else answer.body
                    self.send_header("Content-Length", str(len(sent)))
                    self.end_headers()
                    self.wfile.write(sent)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.name}:{self.server.server_address[1]}/hooks/daicho"

    def answer(self, *answers: Answer | int) -> None:
        self.answers.extend(a if isinstance(a, Answer) else Answer(status=a) for a in answers)

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _no_webhook_slots() -> None:
    """The cities' delivery slots, rotations and kicks live in Redis, which no test's
    rollback takes back: every test starts with none held."""
    from django.conf import settings

    from daicho.caching import redis_client

    client = redis_client()
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    keys = list(client.scan_iter(match=f"{prefix}:webhooks:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def designs_own_view(city: dict[str, Any], who: str) -> Any:  # noqa: F811
    """Make ``who`` a ledger administrator of their department, whose grant on the DV
    ledger gains ``design`` (what they see is unchanged): a subscription is created by its
    owner, who sends their own view."""
    user = city["people"][who]
    with schema_context("mitaka"):
        membership = Membership.objects.get(user=user)
        if membership.role != Role.LEDGER_ADMIN:
            membership.role = Role.LEDGER_ADMIN
            membership.save(update_fields=["role"])
        ledger = city["ledger"]
        grants = [grant_describe(g) for g in Grant.objects.filter(ledger=ledger)]
        for grant in grants:
            if grant["department"] == membership.department.code and not grant["role"]:
                grant["capabilities"] = sorted({*grant["capabilities"], "design"})
        grants_replace(actor=city["people"]["designer"], ledger=ledger, grants=grants)
    return user


@pytest.fixture
def subscribe(city: dict[str, Any], receiver: Receiver) -> Any:  # noqa: F811
    """``subscribe("zei")`` → a subscription of the DV ledger owned (and created) by that
    person."""

    def make(
        owner: str = "clerk", events: list[str] | None = None, url: str | None = None
    ) -> WebhookSubscription:
        user = designs_own_view(city, owner)
        with schema_context("mitaka"):
            return webhook_subscription_create(
                actor=user, ledger=city["ledger"],
                url=url or receiver.url, events=events or ["record.created", "record.updated"],
            )  # fmt: skip

    return make


@pytest.fixture
def enqueue(city: dict[str, Any], django_capture_on_commit_callbacks: Any) -> Any:  # noqa: F811
    """``enqueue()`` → the deliveries queued for the DV record (callbacks captured, not run)."""

    def make(
        event: str = "record.updated", record: Any = None, generation: int = 1
    ) -> list[WebhookDelivery]:
        record = record or city["record"]
        with schema_context("mitaka"), django_capture_on_commit_callbacks():
            before = set(WebhookDelivery.objects.values_list("id", flat=True))
            webhook_events_enqueue(
                ledger=city["ledger"], event=event, records=[(record.pk, generation)]
            )
            return list(WebhookDelivery.objects.exclude(id__in=before).order_by("created_at"))

    return make


def notice_ledger(url: str, *, note: str = "記録") -> tuple[Any, Any, Any]:
    """In the current city's schema: a 総務課 ledger administrator, ``designer``, with a
    ledger of one text field (``notice``), one record and a subscription of ``url`` to its
    updates; (ledger, record, subscription). For the tests that run a real worker in a city
    of their own."""
    from datetime import date

    from django.contrib.auth import get_user_model

    from daicho.accounts.models import Department
    from ledgers.definitions.services import ledger_create
    from ledgers.records.services import record_create

    designer = get_user_model().objects.create_user(username="designer", password="x" * 12)
    department = Department.objects.create(code="soumu", name="総務課")
    Membership.objects.create(
        user=designer, department=department, role=Role.LEDGER_ADMIN, valid_from=date(2020, 4, 1)
    )
    ledger = ledger_create(
        actor=designer, code="notice", name="通知台帳",
        fields=[{"key": "note", "label": "備考", "type": "text"}],
    )  # fmt: skip
    grants_replace(
        actor=designer, ledger=ledger,
        grants=[{"department": "soumu", "capabilities": ["view", "create", "design"],
                 "clearance": "special_care"}],
    )  # fmt: skip
    record = record_create(actor=designer, ledger=ledger, values={"note": note})
    subscription = webhook_subscription_create(
        actor=designer, ledger=ledger, url=url, events=["record.updated"]
    )
    return ledger, record, subscription
