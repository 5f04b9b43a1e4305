"""A receiver cannot make a delivery loop, hold a worker, go unaudited or put values in the
log: its answer is not kept (a NUL or an echo in it changes nothing), a Japanese host name is sent in its ASCII form, a receiver that
answers a byte at a time is cut off at WEBHOOK_DEADLINE, any other error is a failed try,
and the audit event names the generation whose values left."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from ledgers.records.services import record_update
from ledgers.webhooks.dispatch import webhook_deliveries_dispatch
from ledgers.webhooks.models import WebhookDelivery
from ledgers.webhooks.services import webhook_deliver
from tests.webhooks.conftest import Answer, Receiver

ASCII_NAME = "れんけい.example.jp".encode("idna").decode()  # xn--n8jza7n2a.example.jp


def test_an_answer_with_a_nul_ends_the_delivery(
    subscribe: Any, enqueue: Any, receiver: Receiver
) -> None:
    """The answer's body is not kept: a NUL in it (PostgreSQL refuses one in text, and a
    delivery whose answer could not be stored was once sent again and again) cannot stop
    the try from being recorded."""
    subscribe("clerk")
    [delivery] = enqueue("record.updated", generation=1)
    receiver.answer(Answer(status=200, body=b"ok\x00\x01done"))
    with schema_context("mitaka"):
        outcome = webhook_deliver(delivery_id=str(delivery.pk))
        stored = WebhookDelivery.objects.get(pk=delivery.pk)
        audited = AuditEvent.objects.filter(action="webhook.deliver").count()
        dispatched = webhook_deliveries_dispatch(now=timezone.now() + timedelta(hours=1))
    assert outcome.status == "succeeded"
    assert stored.response_status == 200
    assert audited == len(receiver.received) == 1
    assert dispatched == []  # never sent again


@pytest.mark.parametrize("status", [200, 302, 400, 422, 500])
def test_a_receiver_echoing_the_payload_leaves_no_value_in_the_log(
    subscribe: Any, enqueue: Any, receiver: Receiver, api: Any, status: int
) -> None:
    """The log is read by design holders, who may not view records: an answer is not
    kept, a success's or an error's (frameworks echo a request in their validation errors)."""
    subscription = subscribe("clerk")
    [delivery] = enqueue("record.updated", generation=1)
    receiver.answer(Answer(status=status, echo=True))
    with schema_context("mitaka"):
        webhook_deliver(delivery_id=str(delivery.pk))
        # The whole row as the table holds it (migration 0027 dropped the column 0015 left).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT to_jsonb(d)::text FROM ledgers_webhookdelivery d WHERE id = %s",
                [delivery.pk],
            )
            (row,) = cursor.fetchone()
    assert "山田" in receiver.received[0].body.decode()  # it was sent, and echoed
    assert json.loads(row)["response_status"] == status
    assert "response_body" not in json.loads(row)
    assert "山田" not in row
    log = api("clerk").get(f"/api/v1/ledgers/dv/webhooks/{subscription.pk}/deliveries/")
    assert log.status_code == 200
    assert log.json()["results"][0]["response_status"] == status
    assert "山田" not in log.content.decode()


def test_a_japanese_host_name_is_sent_in_its_ascii_form(
    subscribe: Any, enqueue: Any, receiver: Receiver, monkeypatch: Any
) -> None:
    real = socket.getaddrinfo
    asked: list[str] = []

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        return real("127.0.0.1" if host == ASCII_NAME else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = receiver.server.server_address[1]
    subscribe("clerk", url=f"http://れんけい.example.jp:{port}/hook")
    [delivery] = enqueue("record.updated", generation=1)
    with schema_context("mitaka"):
        outcome = webhook_deliver(delivery_id=str(delivery.pk))
    assert outcome.status == "succeeded"
    assert ASCII_NAME in asked
    assert receiver.received[0].headers["Host"] == f"{ASCII_NAME}:{port}"


def _dripping_server() -> int:
    """A receiver that sends its status line, then one header byte every 0.3 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run() -> None:
        conn, _ = listener.accept()
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(20):
                time.sleep(0.3)
                conn.sendall(b"a")
            conn.sendall(b"\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()
            listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def test_a_receiver_answering_a_byte_at_a_time_is_cut_off(
    subscribe: Any, enqueue: Any, settings: Any
) -> None:
    settings.WEBHOOK_TIMEOUT = 1.0  # each read; the whole answer: WEBHOOK_DEADLINE, 2 s
    subscribe("clerk", url=f"http://127.0.0.1:{_dripping_server()}/hook")
    [delivery] = enqueue("record.updated", generation=1)
    started = time.monotonic()
    with schema_context("mitaka"):
        outcome = webhook_deliver(delivery_id=str(delivery.pk))
        stored = WebhookDelivery.objects.get(pk=delivery.pk)
    assert time.monotonic() - started < 4.0  # ~6 s of dripping otherwise
    assert outcome.status == "failed"
    assert stored.error.startswith("DeliveryTimeout")


def test_the_audit_event_names_the_generation_sent(
    subscribe: Any, enqueue: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    subscribe("clerk")
    [delivery] = enqueue("record.updated", generation=1)
    with schema_context("mitaka"):
        record_update(
            actor=city["people"]["clerk"], record=city["record"], values={"amount": 2000},
            expected_generation=1, reason="更新",
        )  # fmt: skip
        assert webhook_deliver(delivery_id=str(delivery.pk)).status == "succeeded"
        event = AuditEvent.objects.get(action="webhook.deliver")
    sent = json.loads(receiver.received[0].body)
    assert sent["record"]["generation"] == event.generation == 2


def _raw_server(first_line: bytes | None) -> int:
    """A peer that is not an HTTP server: it answers one request with ``first_line`` (the
    request's body when None: an echo), then closes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run() -> None:
        conn, _ = listener.accept()
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += conn.recv(65536)
            conn.sendall((body if first_line is None else first_line) + b"\r\n")
        except OSError:
            pass
        finally:
            conn.close()
            listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


@pytest.mark.parametrize(
    ("first_line", "quoted"),
    [
        (b"-ERR unknown command 'POST', with args beginning with: 'requirepass-x'", "requirepass"),
        (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", "OpenSSH"),
        (None, '"values"'),  # record values; Japanese ones arrive as mojibake
    ],
    ids=["a redis error", "an ssh banner", "the payload echoed"],
)
def test_an_answer_that_is_not_http_leaves_none_of_it_in_the_log(
    subscribe: Any, enqueue: Any, api: Any, first_line: bytes | None, quoted: str
) -> None:
    """The error kept named the peer's first line (http.client's BadStatusLine): the log
    carried back a service's banner or error (Redis, SSH, SMTP …: the webhook as a probe
    that reads answers), or record values echoed, to design holders who may not view
    records."""
    subscription = subscribe("clerk", url=f"http://127.0.0.1:{_raw_server(first_line)}/hook")
    [delivery] = enqueue("record.updated", generation=1)
    with schema_context("mitaka"):
        outcome = webhook_deliver(delivery_id=str(delivery.pk))
        stored = WebhookDelivery.objects.get(pk=delivery.pk)
    assert outcome.status == "failed"
    assert "BadStatusLine" in stored.error  # what went wrong is still said
    assert quoted not in stored.error
    log = api("clerk").get(f"/api/v1/ledgers/dv/webhooks/{subscription.pk}/deliveries/")
    assert quoted not in log.content.decode()


def test_an_address_connected_after_the_deadline_is_cut_off_too(
    subscribe: Any, enqueue: Any, settings: Any, monkeypatch: Any
) -> None:
    """A name with addresses that never answer a SYN before one that drips: the deadline
    passed while connecting, the socket connected afterwards was not watched, and the
    dripping answer held the worker (every city's) a read timeout per byte."""
    settings.WEBHOOK_TIMEOUT = 0.5  # each connect and read; the whole try: 0.8 s
    settings.WEBHOOK_DEADLINE = 0.8
    port = _dripping_server()
    silent = []
    for address in ("127.0.0.2", "127.0.0.3"):  # accept queue full: SYNs are dropped
        listener = socket.socket()
        listener.bind((address, port))
        listener.listen(0)
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((address, port))
            silent.append(filler)
        silent.append(listener)
    time.sleep(0.2)
    real = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "slow.example.jp":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in ("127.0.0.2", "127.0.0.3", "127.0.0.1")
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    subscribe("clerk", url=f"http://slow.example.jp:{port}/hook")
    [delivery] = enqueue("record.updated", generation=1)
    started = time.monotonic()
    try:
        with schema_context("mitaka"):
            outcome = webhook_deliver(delivery_id=str(delivery.pk))
            stored = WebhookDelivery.objects.get(pk=delivery.pk)
    finally:
        for sock in silent:
            sock.close()
    assert time.monotonic() - started < 3.0  # ~7 s of dripping otherwise
    assert outcome.status == "failed"
    assert stored.error.startswith("DeliveryTimeout")
