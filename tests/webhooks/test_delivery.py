"""Enqueueing and delivering webhooks to a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import ssl
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership, Role
from ledgers.access.models import Grant
from ledgers.access.services import grant_describe, grants_replace
from ledgers.audit.models import AuditEvent
from ledgers.records.services import record_create
from ledgers.webhooks.models import WebhookDelivery, WebhookSubscription
from ledgers.webhooks.services import (
    webhook_deliver,
    webhook_events_enqueue,
    webhook_subscription_update,
)
from ledgers.webhooks.signing import verify_delivery, verify_signature
from ledgers.webhooks.tasks import deliver_webhook
from tenants.models import Municipality
from tenants.services import municipality_resume, municipality_suspend
from tests.api.conftest import ADDRESS
from tests.webhooks.conftest import Answer, Receiver

OTHER_ADDRESS = "東京都三鷹市野崎一丁目1番1号"


def _deliver(delivery: WebhookDelivery, attempt: int = 1) -> str:
    with schema_context("mitaka"):
        return deliver_webhook.apply(args=[str(delivery.pk), attempt]).get()


def _refresh(obj: Any) -> Any:
    with schema_context("mitaka"):
        obj.refresh_from_db()
    return obj


def test_a_delivery_is_signed_and_the_receiver_verifies_it(
    subscribe: Any, enqueue: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    subscription = subscribe("clerk")
    [delivery] = enqueue("record.updated", generation=1)
    assert _deliver(delivery) == "succeeded"

    [got] = receiver.received
    assert got.path == "/hooks/daicho"
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert got.headers["X-Daicho-Event"] == "record.updated"
    assert got.headers["X-Daicho-Delivery"] == str(delivery.pk)
    assert verify_signature(
        subscription.secret, got.headers["X-Daicho-Timestamp"], got.body,
        got.headers["X-Daicho-Signature"],
    )  # fmt: skip
    assert not verify_signature(
        "whsec_wrong", got.headers["X-Daicho-Timestamp"], got.body,
        got.headers["X-Daicho-Signature"],
    )  # fmt: skip
    assert verify_delivery(subscription.secret, got.headers, got.body) == str(delivery.pk)
    payload = json.loads(got.body)
    assert set(payload) == {
        "event",
        "ledger",
        "record",
        "generation",
        "delivered_at",
        "delivery_id",
    }
    assert payload["event"] == "record.updated"
    assert payload["ledger"] == "dv"
    assert payload["generation"] == 1
    assert payload["delivery_id"] == str(delivery.pk)
    assert payload["record"]["id"] == str(city["record"].pk)
    assert payload["record"]["visible"] is True
    # The clerk (市民課, 要配慮 clearance) sees everything: the values are the API's.
    assert payload["record"]["values"]["address"]["text"] == ADDRESS

    delivery = _refresh(delivery)
    assert delivery.status == "succeeded"
    assert delivery.attempts == 1
    assert delivery.response_status == 200
    assert delivery.delivered_at is not None
    # The log keeps ids, never values.
    assert ADDRESS not in json.dumps(delivery.payload, ensure_ascii=False)
    with schema_context("mitaka"):
        audit = AuditEvent.objects.get(action="webhook.deliver")
    assert audit.actor_id == city["people"]["clerk"].pk
    assert audit.record_id == city["record"].pk


def _sato(city: dict[str, Any], disclosure: dict[str, bool]) -> Any:
    """佐藤 一郎 of the DV ledger at ``OTHER_ADDRESS``, with these 照会可否 flags."""
    with schema_context("mitaka"):
        return record_create(
            actor=city["people"]["clerk"], ledger=city["ledger"],
            values={
                "name": {"kanji": "佐藤 一郎", "kana": "サトウ イチロウ"},
                "address": {"postal_code": "181-0014", "text": OTHER_ADDRESS},
                "disclosure": disclosure,
            },
        )  # fmt: skip


def _address_masked(body: bytes) -> None:
    """The payload names 佐藤 and shows the address masked, in no form its text."""
    assert "佐藤 一郎".encode() in body  # the payload is UTF-8, so a raw search is meaningful
    for secret_value in (OTHER_ADDRESS, "181-0014", "野崎"):
        assert secret_value.encode() not in body
        assert json.dumps(secret_value).encode() not in body  # nor \u-escaped
    assert b'"address":{"masked":true}' in body


def test_masked_values_never_leave_in_a_payload(
    subscribe: Any, enqueue: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    record = _sato(city, {"shimin": True, "shiminzei": True})
    subscribe("zei")  # 市民税課: sees this record, clearance 個人情報 (not 要配慮)
    [delivery] = enqueue("record.created", record=record)
    assert _deliver(delivery) == "succeeded"

    _address_masked(receiver.received[0].body)


def _zei_joins_shimin(city: dict[str, Any]) -> None:
    """The subscription's owner (市民税課's zei) becomes an editor in 市民課 too."""
    with schema_context("mitaka"):
        Membership.objects.create(
            user=city["people"]["zei"], department=city["departments"]["shimin"],
            role=Role.EDITOR, valid_from=date(2026, 4, 1),
        )  # fmt: skip


def test_an_owner_in_two_departments_sends_a_record_as_its_own_departments_show_it(
    subscribe: Any, enqueue: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    """The owner joins 市民課 (addresses) too, while the record is 可 for 市民税課 alone:
    the payload masks the address, as 市民税課 reads it (the best of both departments,
    applied to every record, sent it plain: LedgerPolicy.for_record)."""
    subscribe("zei")
    _zei_joins_shimin(city)
    record = _sato(city, {"shimin": False, "shiminzei": True})
    [delivery] = enqueue("record.created", record=record)
    assert _deliver(delivery) == "succeeded"
    _address_masked(receiver.received[0].body)


def test_a_record_the_owner_reaches_only_through_a_search_only_department_is_invisible(
    subscribe: Any, enqueue: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    """The owner (市民税課, view) joins 市民課, which may search the DV ledger but not view
    it; the record is 可 for 市民課 alone. The API reads it by id as no record (404): the
    payload went out visible, with its state and times, when the person's record changed."""
    subscribe("zei")
    _zei_joins_shimin(city)
    with schema_context("mitaka"):
        grants = [grant_describe(g) for g in Grant.objects.filter(ledger=city["ledger"])]
        for grant in grants:
            if grant["department"] == "shimin" and not grant["role"]:
                grant["capabilities"] = ["search"]
        grants_replace(actor=city["people"]["designer"], ledger=city["ledger"], grants=grants)
    [delivery] = enqueue("record.updated")  # the DV record: 可 for 市民課 only
    # Not sent at all, as any record out of the owner's sight (test_rights_at_delivery.py).
    assert _deliver(delivery) == "withheld"
    assert receiver.received == []


def test_a_record_the_owner_may_not_see_is_not_sent(
    subscribe: Any, enqueue: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    """Until 2026-11-30 it went as ``{"id", "visible": false}``: that the record exists,
    and when it changes, to a department it is closed to."""
    subscribe("zei")  # the DV record is 不可 for 市民税課
    [delivery] = enqueue("record.updated")
    assert _deliver(delivery) == "withheld"
    assert receiver.received == []
    with schema_context("mitaka"):
        # Nothing was disclosed, so there is no disclosure to audit.
        assert not AuditEvent.objects.filter(action="webhook.deliver").exists()


def test_a_500_is_retried_with_backoff_and_the_second_try_succeeds(
    subscribe: Any, enqueue: Any, receiver: Receiver
) -> None:
    subscription = subscribe("clerk")
    [delivery] = enqueue()
    receiver.answer(Answer(status=500, body=b"database down"), 200)
    t0 = timezone.now()

    with schema_context("mitaka"):
        first = webhook_deliver(delivery_id=str(delivery.pk), now=t0)
    assert (first.status, first.attempts) == ("failed", 1)
    assert first.next_attempt_at == t0 + timedelta(minutes=1)
    delivery = _refresh(delivery)
    assert (delivery.status, delivery.response_status) == ("failed", 500)
    assert delivery.error == "HTTP 500"

    with schema_context("mitaka"):
        early = webhook_deliver(delivery_id=str(delivery.pk), now=t0 + timedelta(seconds=30))
        # A stale task (it stands for try 1, which is done) does nothing either.
        stale = webhook_deliver(
            delivery_id=str(delivery.pk), attempt=1, now=t0 + timedelta(minutes=2)
        )
    assert (early.status, early.attempts) == ("failed", 1)
    assert stale.status == "skipped"
    assert len(receiver.received) == 1

    with schema_context("mitaka"):
        second = webhook_deliver(delivery_id=str(delivery.pk), now=t0 + timedelta(seconds=61))
        again = webhook_deliver(delivery_id=str(delivery.pk), now=t0 + timedelta(hours=1))
    assert (second.status, second.attempts, second.next_attempt_at) == ("succeeded", 2, None)
    assert again.status == "skipped"
    assert len(receiver.received) == 2
    delivery = _refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 2, 200)
    assert delivery.error == ""
    # Each try is signed afresh, with its own timestamp, and both verify.
    for got in receiver.received:
        assert verify_signature(
            subscription.secret, got.headers["X-Daicho-Timestamp"], got.body,
            got.headers["X-Daicho-Signature"],
        )  # fmt: skip


def test_every_try_failing_makes_the_delivery_dead(
    subscribe: Any, enqueue: Any, receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_DELAYS = [1, 1]
    subscription = subscribe("clerk")
    [delivery] = enqueue()
    receiver.answer(503, 503, 503, 200)
    t0 = timezone.now()
    statuses = []
    for step in range(4):
        with schema_context("mitaka"):
            outcome = webhook_deliver(
                delivery_id=str(delivery.pk), now=t0 + timedelta(seconds=2 * step)
            )
        statuses.append(outcome.status)
    assert statuses == ["failed", "failed", "dead", "skipped"]
    assert len(receiver.received) == 3
    assert _refresh(delivery).attempts == 3
    assert _refresh(subscription).failure_count == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer(status=302, headers=(("Location", "/elsewhere"),)), "HTTP 302"),
        (Answer(status=200, delay=1.0), "ReadTimeout"),
    ],
    ids=["redirects are not followed", "slow receivers time out"],
)
def test_a_redirect_or_a_timeout_is_a_failed_try(
    subscribe: Any, enqueue: Any, receiver: Receiver, settings: Any, answer: Answer, error: str
) -> None:
    settings.WEBHOOK_TIMEOUT = 0.3
    subscribe("clerk")
    [delivery] = enqueue()
    receiver.answer(answer)
    with schema_context("mitaka"):
        outcome = webhook_deliver(delivery_id=str(delivery.pk))
    assert outcome.status == "failed"
    assert error in _refresh(delivery).error
    assert [r.path for r in receiver.received] == ["/hooks/daicho"]


def test_consecutive_dead_deliveries_disable_the_subscription_until_re_enabled(
    subscribe: Any, enqueue: Any, receiver: Receiver, settings: Any, api: Any
) -> None:
    settings.WEBHOOK_RETRY_DELAYS = []  # one try each
    settings.WEBHOOK_DISABLE_AFTER = 3
    subscription = subscribe("clerk")
    receiver.answer(500, 500, 200, 500, 500, 500)
    outcomes = []
    for _ in range(6):
        [delivery] = enqueue()
        with schema_context("mitaka"):
            outcomes.append(webhook_deliver(delivery_id=str(delivery.pk)).status)
        outcomes.append(_refresh(subscription).failure_count)
    # A success in between resets the count: it is of consecutive dead deliveries.
    assert outcomes == ["dead", 1, "dead", 2, "succeeded", 0, "dead", 1, "dead", 2, "dead", 3]
    subscription = _refresh(subscription)
    assert subscription.active is False
    assert subscription.disabled_at is not None
    with schema_context("mitaka"):
        disabled = AuditEvent.objects.get(action="webhook.disable")
    assert disabled.actor_id is None
    assert disabled.details["reason"] == "failures"
    assert enqueue() == []  # a disabled subscription gets nothing

    response = api("designer").patch(
        f"/api/v1/ledgers/dv/webhooks/{subscription.pk}/", {"active": True}
    )
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert response.json()["failure_count"] == 0
    assert response.json()["disabled_at"] is None
    with schema_context("mitaka"):
        assert AuditEvent.objects.filter(action="webhook.enable").count() == 1
    assert len(enqueue()) == 1


def test_the_ssrf_guard_also_runs_at_delivery_time(
    subscribe: Any, enqueue: Any, receiver: Receiver, settings: Any
) -> None:
    subscribe("clerk")  # accepted while private networks are allowed (tests, local)
    [delivery] = enqueue()
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    with schema_context("mitaka"):
        outcome = webhook_deliver(delivery_id=str(delivery.pk))
    assert outcome.status == "failed"
    assert "private_address" in _refresh(delivery).error
    assert receiver.received == []


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [("WEBHOOK_ALLOWED_PORTS", (443, 80), "port"), ("WEBHOOK_ALLOW_HTTP", False, "scheme")],
)
def test_the_scheme_and_port_rules_also_run_at_delivery_time(
    subscribe: Any,
    enqueue: Any,
    receiver: Receiver,
    settings: Any,
    setting: str,
    value: Any,
    reason: str,
) -> None:
    """A subscription made before the operator narrowed the rules (http://, another port)
    sends nothing after."""
    subscribe("clerk")  # http://127.0.0.1:<port>: allowed in the tests and locally
    [delivery] = enqueue()
    setattr(settings, setting, value)
    with schema_context("mitaka"):
        outcome = webhook_deliver(delivery_id=str(delivery.pk))
    assert outcome.status == "failed"
    assert f"（{reason}）" in _refresh(delivery).error
    assert receiver.received == []


def test_enqueue_costs_one_query_when_nobody_listens(
    subscribe: Any, city: dict[str, Any], django_assert_num_queries: Any
) -> None:
    subscribe("clerk", events=["record.deleted"])
    inactive = subscribe("clerk", events=["record.updated"])
    with schema_context("mitaka"):
        WebhookSubscription.objects.filter(pk=inactive.pk).update(active=False)
        with django_assert_num_queries(0):
            assert (
                webhook_events_enqueue(ledger=city["ledger"], event="record.updated", records=[])
                == 0
            )
        with django_assert_num_queries(1):
            queued = webhook_events_enqueue(
                ledger=city["ledger"], event="record.updated", records=[(city["record"].pk, 2)]
            )
        assert queued == 0
        with pytest.raises(ValueError, match="unknown webhook event"):
            webhook_events_enqueue(ledger=city["ledger"], event="record.viewed", records=[])


def test_one_delivery_per_listening_subscription_and_record(
    subscribe: Any, city: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    first, second = subscribe("clerk"), subscribe("zei")
    ids = [city["record"].pk, city["record"].pk]
    with schema_context("mitaka"), django_capture_on_commit_callbacks() as callbacks:
        queued = webhook_events_enqueue(
            ledger=city["ledger"],
            event="record.created",
            records=list(zip(ids, [1, 2], strict=True)),
        )
        rows = list(WebhookDelivery.objects.values_list("subscription_id", "generation", "payload"))
    assert queued == 4
    assert len(callbacks) == 1  # one callback schedules them all after the commit
    assert sorted((s, g) for s, g, _ in rows) == sorted(
        (s.pk, g) for s in (first, second) for g in (1, 2)
    )
    for _s, generation, payload in rows:
        assert payload == {"event": "record.created", "ledger": "dv", "record_id": str(ids[0]),
                           "generation": generation}  # fmt: skip


def test_nothing_is_enqueued_for_a_rolled_back_transaction(
    subscribe: Any, city: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    subscribe("clerk")

    class Boom(Exception):
        pass

    def write_then_fail() -> None:
        with transaction.atomic():
            queued = webhook_events_enqueue(
                ledger=city["ledger"], event="record.updated", records=[(city["record"].pk, 2)]
            )
            assert queued == 1
            raise Boom

    with schema_context("mitaka"):
        with django_capture_on_commit_callbacks() as callbacks, pytest.raises(Boom):
            write_then_fail()
        assert callbacks == []
        assert not WebhookDelivery.objects.exists()

        with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
            webhook_events_enqueue(
                ledger=city["ledger"], event="record.updated", records=[(city["record"].pk, 2)]
            )
        assert len(callbacks) == 1
        assert WebhookDelivery.objects.count() == 1


def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (its own CA), as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize(
    ("name", "status"),
    [("localhost", "succeeded"), ("127.0.0.1", "failed")],
    ids=["the certificate of the URL's name", "a certificate of another name"],
)
def test_https_checks_the_certificate_against_the_host_name_not_the_pinned_address(
    subscribe: Any, enqueue: Any, settings: Any, tmp_path: Path, name: str, status: str
) -> None:
    cert_path, key_path = _certificate(tmp_path, "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    settings.WEBHOOK_CA_BUNDLE = str(cert_path)
    with Receiver(tls=context, name=name) as tls_receiver:
        subscribe("clerk", url=tls_receiver.url)
        [delivery] = enqueue()
        with schema_context("mitaka"):
            outcome = webhook_deliver(delivery_id=str(delivery.pk))
    assert outcome.status == status
    assert len(tls_receiver.received) == (1 if status == "succeeded" else 0)
    if status == "failed":
        assert "SSLError" in _refresh(delivery).error


def test_a_suspended_city_sends_nothing_until_it_is_resumed(
    subscribe: Any, enqueue: Any, receiver: Receiver
) -> None:
    """A suspension stops data leaving the city, not only its hosts: a delivery's task
    already queued (a retry's hop, a burst still in the broker) sent the DV record's
    values to the receiver after the operator had suspended the city. It stays open, and
    goes once the city is resumed (the sweeper, which skips suspended cities, finds it)."""
    subscribe("clerk")
    [delivery] = enqueue()
    mitaka = Municipality.objects.get(schema_name="mitaka")
    municipality_suspend(actor=None, municipality=mitaka, reason="漏えいの疑い")

    assert _deliver(delivery) == "skipped"
    assert receiver.received == []
    delivery = _refresh(delivery)
    assert (delivery.status, delivery.attempts) == ("pending", 0)

    municipality_resume(actor=None, municipality=mitaka)
    assert _deliver(delivery) == "succeeded"
    assert len(receiver.received) == 1


def test_a_name_resolving_at_delivery_to_local_use_nat64_is_refused(
    subscribe: Any, enqueue: Any, receiver: Receiver, settings: Any, monkeypatch: Any
) -> None:
    """DNS rebinding onto 64:ff9b:1::/48 (RFC 8215), which a provider's NAT64 translates to
    its internal IPv4 addresses (here 169.254.169.254): ipaddress on Python 3.11 calls it
    global, so the worker connected. (A subscription's name is no longer resolved when it
    is registered: the delivery's lookup is the first.)"""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    settings.WEBHOOK_TIMEOUT = 0.3
    answers = iter(["64:ff9b:1::a9fe:a9fe"])

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "hook.example.jp":
            return real(host, port, *args, **kwargs)
        address = next(answers)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    subscribe("clerk", url="https://hook.example.jp/in")
    [delivery] = enqueue()
    with schema_context("mitaka"):
        outcome = webhook_deliver(delivery_id=str(delivery.pk))
    assert outcome.status == "failed"
    assert "no_public_address" in _refresh(delivery).error


class _WorkerKilled(BaseException):
    """The worker dies (killed, out of memory, a deploy) after the body left."""


def test_values_sent_are_audited_before_they_leave_so_a_worker_killed_after_is_no_gap(
    subscribe: Any, enqueue: Any, receiver: Receiver, city: dict[str, Any], monkeypatch: Any
) -> None:
    """The ``webhook.deliver`` event was written in the transaction that records the
    outcome, after the POST: a worker that died between the two had sent the DV record's
    values to the receiver with no event. It is now written before the body leaves."""
    subscribe("clerk")
    [delivery] = enqueue("record.updated", generation=1)

    def killed() -> Any:
        raise _WorkerKilled

    monkeypatch.setattr("ledgers.webhooks.services.retry_delays", killed)
    with schema_context("mitaka"), pytest.raises(_WorkerKilled):
        webhook_deliver(delivery_id=str(delivery.pk))
    assert ADDRESS.encode() in receiver.received[0].body
    with schema_context("mitaka"):
        event = AuditEvent.objects.get(action="webhook.deliver")
    assert (event.actor_id, event.record_id, event.generation) == (
        city["people"]["clerk"].pk, city["record"].pk, 1,
    )  # fmt: skip
    assert event.ledger_code == "dv"
    assert event.details == {
        "webhook": str(delivery.subscription_id), "delivery": str(delivery.pk), "attempt": 1,
    }  # fmt: skip


@pytest.mark.parametrize("change", ["paused", "narrowed"])
def test_a_retry_is_decided_and_built_when_it_is_due(
    subscribe: Any, enqueue: Any, receiver: Receiver, city: dict[str, Any], change: str
) -> None:
    """Checked by a race review (it held already): a retry is decided and its payload built
    when it is due, not when the event was queued or first tried. A subscription paused
    since sends nothing more; an owner whose grant was narrowed since sends the narrower
    view (name masked once 市民課's clearance is 内部)."""
    subscription = subscribe("clerk")
    [delivery] = enqueue()
    receiver.answer(500, 200)
    t0 = timezone.now()
    with schema_context("mitaka"):
        assert webhook_deliver(delivery_id=str(delivery.pk), now=t0).status == "failed"
    assert "山田 花子".encode() in receiver.received[0].body
    with schema_context("mitaka"):
        if change == "paused":
            webhook_subscription_update(
                actor=city["people"]["clerk"], subscription=subscription, changes={"active": False}
            )
        else:
            grants = [grant_describe(g) for g in Grant.objects.filter(ledger=city["ledger"])]
            for grant in grants:
                if grant["department"] == "shimin":
                    grant["clearance"] = "internal"
            grants_replace(actor=city["people"]["designer"], ledger=city["ledger"], grants=grants)
        retry = webhook_deliver(delivery_id=str(delivery.pk), now=t0 + timedelta(minutes=2))
    if change == "paused":
        assert retry.status == "skipped"
        assert len(receiver.received) == 1
    else:
        assert retry.status == "succeeded"
        body = receiver.received[1].body
        assert "山田".encode() not in body
        assert b'"name":{"masked":true}' in body


def test_a_url_stored_with_a_line_break_before_the_rule_sends_nothing(
    subscribe: Any, enqueue: Any, receiver: Receiver
) -> None:
    """A URL stored before control characters were refused (the list showed it on two
    lines, a trusted host on the first; the parser dropped the break and delivered to the
    joined name): as the scheme and port rules, the rule holds at every try."""
    subscription = subscribe("clerk")
    host, port = receiver.url.split("//")[1].split("/")[0].split(":")
    with schema_context("mitaka"):
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            url=f"http://{host}\n:{port}/hooks/daicho"
        )
    [delivery] = enqueue()
    with schema_context("mitaka"):
        outcome = webhook_deliver(delivery_id=str(delivery.pk))
    assert outcome.status == "failed"
    assert "（host）" in _refresh(delivery).error
    assert receiver.received == []
