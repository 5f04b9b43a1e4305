"""Each city's share of the delivery workers, through Redis and a real Celery worker.

Every city's deliveries go through one queue to the same workers. Found by the
multi-tenancy review: sent as one message per delivery at write time, one city's burst
(a bulk import) to a receiver that answers slowly put every other city's deliveries
behind its whole backlog. Deliveries now wait in the database and each city has at most
``WEBHOOK_CITY_CONCURRENCY`` of them in the queue or being sent (its slots, in Redis,
leased: a worker that dies or a Redis that forgets cannot keep a slot or lose a
delivery).

The worker thread has its own database connection, so it sees only committed data: two
cities of this module's own, whose rows are committed (other tests roll back). Time is
never asserted: the order in which the receivers were reached is (their journal).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from amqp.exceptions import ChannelError
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from daicho.caching import redis_client
from ledgers.webhooks.dispatch import kick_key, rotation_key, slots_key, webhook_deliveries_dispatch
from ledgers.webhooks.models import WebhookDelivery, WebhookSubscription
from ledgers.webhooks.services import webhook_events_enqueue
from ledgers.webhooks.tasks import (
    deliver_due_webhooks_all_cities,
    deliver_webhook,
    schedule_webhook_deliveries,
    send_dispatched,
)
from tenants.models import Municipality
from tenants.services import municipality_resume, municipality_suspend
from tests.conftest import City, provision
from tests.webhooks.conftest import Answer, Receiver, notice_ledger
from workers.celery import app

KOMAE = City("komae", "狛江市", "132195", "komae.localhost")
INAGI = City("inagi", "稲城市", "132250", "inagi.localhost")


@dataclass
class Town:
    """A committed city with a ledger, one record and one subscription to its receiver."""

    slug: str
    ledger: Any
    record: Any
    subscription: WebhookSubscription
    receiver: Receiver

    def write(self, count: int) -> None:
        """Commit ``count`` events of the record (one delivery each): a burst."""
        with schema_context(self.slug), transaction.atomic():
            webhook_events_enqueue(
                ledger=self.ledger, event="record.updated",
                records=[(self.record.pk, generation) for generation in range(1, count + 1)],
            )  # fmt: skip
        connection.set_schema_to_public()

    def deliveries(self) -> list[WebhookDelivery]:
        with schema_context(self.slug):
            # As the dispatch takes them: deliveries of one write share their time.
            found = list(WebhookDelivery.objects.order_by("next_attempt_at", "created_at", "id"))
        connection.set_schema_to_public()
        return found


@pytest.fixture(scope="module")
def journal() -> list[str]:
    return []


@pytest.fixture(scope="module")
def towns(
    django_db_setup: None, django_db_blocker: Any, journal: list[str]
) -> Iterator[dict[str, Town]]:
    made: dict[str, Town] = {}
    with django_db_blocker.unblock():
        for city in (KOMAE, INAGI):
            provision(city)
            receiver = Receiver(journal=journal, label=city.slug).__enter__()
            with schema_context(city.slug):
                ledger, record, subscription = notice_ledger(receiver.url)
            connection.set_schema_to_public()
            made[city.slug] = Town(city.slug, ledger, record, subscription, receiver)
    yield made
    for town in made.values():
        town.receiver.__exit__()


@pytest.fixture
def fresh(towns: dict[str, Town], journal: list[str], django_db_blocker: Any) -> Iterator[None]:
    """Each test starts with no delivery, no message and no receiver's log of the last."""
    with django_db_blocker.unblock():
        for town in towns.values():
            with schema_context(town.slug):
                WebhookDelivery.objects.all().delete()
            town.receiver.received.clear()
            town.receiver.answers.clear()
        connection.set_schema_to_public()
    journal.clear()
    _purge()
    yield
    _purge()


def _queue() -> str:
    return django_settings.WEBHOOK_QUEUE


def _queued() -> int:
    """Messages waiting in the webhooks queue."""
    with app.connection_for_read() as conn:
        try:
            return conn.default_channel.queue_declare(_queue(), passive=True).message_count
        except ChannelError:  # Redis keeps no empty list: no queue, no message
            return 0


def _purge() -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(_queue())


def _settled(*towns: Town) -> list[str]:
    """The deliveries' statuses once none is open (the worker records an answer just
    after the receiver has it), or as they are after a few seconds."""
    for _ in range(100):
        statuses = [d.status for town in towns for d in town.deliveries()]
        if not set(statuses) & set(WebhookDelivery.OPEN):
            break
        time.sleep(0.05)
    return statuses


def _worker() -> Any:
    return start_worker(app, pool="solo", concurrency=1, perform_ping_check=False)


def test_a_citys_burst_to_a_slow_receiver_does_not_hold_back_another_citys_delivery(
    towns: dict[str, Town], fresh: None, journal: list[str], settings: Any, django_db_blocker: Any
) -> None:
    """狛江市 imports 25 records into a ledger whose receiver takes 0.2 s to answer; 稲城市
    then changes one record. Before, 稲城市's delivery went out after every one of 狛江市's
    (the queue held 25 of its messages); now after at most its slots' worth (2)."""
    settings.WEBHOOK_CITY_CONCURRENCY = 2
    burst = 25
    komae, inagi = towns["komae"], towns["inagi"]
    komae.receiver.answer(*[Answer(delay=0.2)] * burst)
    longest = 0
    with django_db_blocker.unblock(), _worker():
        komae.write(burst)
        assert komae.receiver.wait_for(1, timeout=30)
        written_at = len(journal)
        inagi.write(1)
        deadline = time.monotonic() + 60
        while not inagi.receiver.wait_for(1, timeout=0.05) and time.monotonic() < deadline:
            longest = max(longest, _queued())
        assert inagi.receiver.received, "稲城市の配信が届かない"
        # 狛江市's burst still goes out, every delivery of it.
        assert komae.receiver.wait_for(burst, timeout=60)
        statuses = _settled(komae, inagi)
    ahead = journal[written_at:].index("inagi")
    assert ahead <= 2, f"稲城市の配信の前に狛江市の配信が {ahead} 件"
    # The queue never held more than each city's slots and a dispatch each.
    assert longest <= 2 + 2, f"キューに {longest} 件"
    assert len(komae.receiver.received) == burst
    assert statuses == ["succeeded"] * (burst + 1)


def test_a_burst_of_writes_queues_one_message_for_the_city(
    towns: dict[str, Town], fresh: None, django_db_blocker: Any
) -> None:
    """Three writes, 30 deliveries: one dispatch waits in the queue for the city, not a
    message per delivery (nor a fan-out that makes one per delivery)."""
    komae = towns["komae"]
    with django_db_blocker.unblock():
        for _ in range(3):
            komae.write(10)
        assert len(komae.deliveries()) == 30
    assert _queued() == 1


def test_a_fan_out_message_of_the_release_before_leaves_one_dispatch(
    towns: dict[str, Town], fresh: None, django_db_blocker: Any
) -> None:
    """A fan-out message queued by the release before (one task per delivery it names)
    asks for the city's dispatch instead: its deliveries are rows, due, and go in turn."""
    komae = towns["komae"]
    with django_db_blocker.unblock():
        komae.write(30)
        _purge()
        redis_client().delete(kick_key(komae.slug))  # the write's dispatch is gone with it
        items = [[str(d.pk), 0] for d in komae.deliveries()]
        with schema_context(komae.slug):
            schedule_webhook_deliveries.apply(args=[items]).get()
        connection.set_schema_to_public()
    assert _queued() == 1


def test_a_delivery_whose_worker_died_goes_again_in_its_place_when_its_lease_ends(
    towns: dict[str, Town], fresh: None, settings: Any, django_db_blocker: Any
) -> None:
    """A worker that took a delivery and died (here: its message is gone) holds the city's
    only slot until the lease ends; then that delivery goes again, first (its row kept its
    place), and the next after it: both go, once each."""
    settings.WEBHOOK_CITY_CONCURRENCY = 1
    settings.WEBHOOK_DISPATCH_LEASE = 60
    komae = towns["komae"]
    with django_db_blocker.unblock():
        komae.write(2)
        _purge()  # the write's dispatch: this test dispatches by hand
        first, second = komae.deliveries()
        t0 = timezone.now()
        with schema_context(komae.slug):
            taken = webhook_deliveries_dispatch(now=t0)
            send_dispatched(taken)
            _purge()  # the worker that took it died with it
            held = webhook_deliveries_dispatch(now=t0 + timedelta(seconds=30))
            second.refresh_from_db()
            again = webhook_deliveries_dispatch(now=t0 + timedelta(seconds=61))
            send_dispatched(again)
        connection.set_schema_to_public()
        assert taken == [(str(first.pk), 1)]
        assert held == []  # the slot is the dead worker's, and the second waits
        assert second.dispatched_until is None
        # The lease ended: the slot is taken back, and the first goes again in its place.
        assert again == [(str(first.pk), 1)]
        with _worker():
            assert komae.receiver.wait_for(2, timeout=30)
            _settled(komae)
        outcomes = [(d.status, d.attempts) for d in komae.deliveries()]
    sent = [r.headers["X-Daicho-Delivery"] for r in komae.receiver.received]
    assert sorted(sent) == sorted([str(first.pk), str(second.pk)])
    assert outcomes == [("succeeded", 1)] * 2


def test_nothing_is_lost_when_redis_forgets_the_messages_and_the_slots(
    towns: dict[str, Town], fresh: None, settings: Any, django_db_blocker: Any
) -> None:
    """Redis restarts (or fails over) with two deliveries handed out and four waiting: the
    messages, the slots and the kick are gone. The beat's round sends the four at once and
    the two once their lease has ended, each exactly once: the rows are the truth."""
    settings.WEBHOOK_CITY_CONCURRENCY = 2
    settings.WEBHOOK_DISPATCH_LEASE = 2
    komae = towns["komae"]
    with django_db_blocker.unblock():
        komae.write(6)
        with schema_context(komae.slug):
            send_dispatched(webhook_deliveries_dispatch())
        connection.set_schema_to_public()
        leased_until = timezone.now() + timedelta(seconds=2)
        _purge()
        redis_client().delete(slots_key(komae.slug), rotation_key(komae.slug), kick_key(komae.slug))
        with _worker():
            deliver_due_webhooks_all_cities.delay()  # as the beat sends it every minute
            assert komae.receiver.wait_for(4, timeout=30)
            time.sleep(max(0.0, (leased_until - timezone.now()).total_seconds()) + 0.2)
            assert len(komae.receiver.received) == 4
            deliver_due_webhooks_all_cities.delay()
            assert komae.receiver.wait_for(6, timeout=30)
            statuses = _settled(komae)
        expected = sorted(str(d.pk) for d in komae.deliveries())
    sent = [r.headers["X-Daicho-Delivery"] for r in komae.receiver.received]
    assert sorted(sent) == expected
    assert statuses == ["succeeded"] * 6


def test_a_slot_is_taken_back_when_its_lease_ends_though_its_delivery_never_returns(
    subscribe: Any, enqueue: Any, settings: Any
) -> None:
    """The worker that held the city's only slot died, and its delivery will not be sent
    again (its subscription was paused meanwhile): the slot frees itself at the lease's
    end, and the city's other subscription is not blocked for ever."""
    settings.WEBHOOK_CITY_CONCURRENCY = 1
    settings.WEBHOOK_DISPATCH_LEASE = 60
    gone = subscribe("clerk", events=["record.created"])
    subscribe("zei", events=["record.updated"])
    [lost] = enqueue("record.created")
    [waiting] = enqueue("record.updated")
    t0 = timezone.now()
    with schema_context("mitaka"):
        assert webhook_deliveries_dispatch(now=t0) == [(str(lost.pk), 1)]
        WebhookSubscription.objects.filter(pk=gone.pk).update(active=False)
        assert webhook_deliveries_dispatch(now=t0 + timedelta(seconds=59)) == []
        after = webhook_deliveries_dispatch(now=t0 + timedelta(seconds=61))
    assert after == [(str(waiting.pk), 1)]


def test_the_slots_go_round_a_citys_subscriptions(
    subscribe: Any, enqueue: Any, settings: Any
) -> None:
    """Within a city, one subscription's backlog does not hold back another's: with one
    slot, the other subscription's delivery goes second, not after the backlog."""
    settings.WEBHOOK_CITY_CONCURRENCY = 1
    busy = subscribe("clerk", events=["record.created"])
    other = subscribe("zei", events=["record.updated"])
    backlog = [enqueue("record.created", generation=g)[0] for g in (1, 2, 3)]
    [single] = enqueue("record.updated")
    owner = {str(d.pk): d.subscription_id for d in [*backlog, single]}
    served, finished = [], None
    with schema_context("mitaka"):
        [(first, _attempt)] = webhook_deliveries_dispatch()
        assert webhook_deliveries_dispatch() == []  # one slot, taken
        served.append(owner[first])
        finished = first
        for _ in range(3):
            [(delivery, _attempt)] = webhook_deliveries_dispatch(finished=finished)
            served.append(owner[delivery])
            finished = delivery
        assert webhook_deliveries_dispatch(finished=finished) == []
    assert served == [busy.pk, other.pk, busy.pk, busy.pk]


def test_a_paused_subscriptions_backlog_is_passed_by(
    subscribe: Any, enqueue: Any, settings: Any
) -> None:
    settings.WEBHOOK_CITY_CONCURRENCY = 1
    paused = subscribe("clerk", events=["record.created"])
    active = subscribe("zei", events=["record.updated"])
    for generation in (1, 2, 3):
        enqueue("record.created", generation=generation)
    [waiting] = enqueue("record.updated")
    with schema_context("mitaka"):
        WebhookSubscription.objects.filter(pk=paused.pk).update(active=False)
        assert webhook_deliveries_dispatch() == [(str(waiting.pk), 1)]
    assert waiting.subscription_id == active.pk


def test_a_suspended_city_dispatches_nothing_and_a_skipped_delivery_keeps_no_lease(
    subscribe: Any, enqueue: Any, receiver: Receiver
) -> None:
    """A delivery handed out before the operator suspended the city is skipped, and gives
    its lease back: once the city is resumed it goes at once, not a lease later. While it
    is suspended, nothing is dispatched (a task that ends dispatches no next)."""
    subscribe("clerk")
    [delivery] = enqueue()
    with schema_context("mitaka"):
        [(delivery_id, attempt)] = webhook_deliveries_dispatch()
    mitaka = Municipality.objects.get(schema_name="mitaka")
    municipality_suspend(actor=None, municipality=mitaka, reason="漏えいの疑い")
    with schema_context("mitaka"):
        assert deliver_webhook.apply(args=[delivery_id, attempt, True]).get() == "skipped"
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.status) == (0, "pending")
        assert delivery.dispatched_until is None
        assert webhook_deliveries_dispatch() == []
    assert receiver.received == []
    municipality_resume(actor=None, municipality=mitaka)
    with schema_context("mitaka"):
        assert webhook_deliveries_dispatch() == [(str(delivery.pk), 1)]


def test_one_dispatch_considers_a_bounded_number_of_deliveries(
    subscribe: Any, enqueue: Any, settings: Any, monkeypatch: Any
) -> None:
    """The script that admits deliveries runs inside Redis, which every city shares: a
    city with many subscriptions (ledgers of 20 each) could otherwise hand it thousands of
    candidates at every try. Those whose oldest due delivery is oldest come in first."""
    from ledgers.webhooks import dispatch

    monkeypatch.setattr(dispatch, "CANDIDATES", 2)
    settings.WEBHOOK_CITY_CONCURRENCY = 10
    for who, event in [("clerk", "created"), ("zei", "updated"), ("designer", "deleted")]:
        subscribe(who, events=[f"record.{event}"])
    [oldest] = enqueue("record.created")
    [older] = enqueue("record.updated")
    [newest] = enqueue("record.deleted")
    with schema_context("mitaka"):
        taken = webhook_deliveries_dispatch()
        later = webhook_deliveries_dispatch()
    assert sorted(taken) == sorted([(str(oldest.pk), 1), (str(older.pk), 1)])
    assert later == [(str(newest.pk), 1)]  # the next dispatch, with slots to spare


def test_a_message_of_the_release_before_leaves_a_dispatched_delivery_alone(
    subscribe: Any, enqueue: Any, receiver: Receiver
) -> None:
    """A retry's message of the release before (no ``dispatched``) finds the delivery in a
    dispatched task's hands: it does not send it outside the city's slots."""
    subscribe("clerk")
    [delivery] = enqueue()
    with schema_context("mitaka"):
        assert webhook_deliveries_dispatch() == [(str(delivery.pk), 1)]
        delivery_id, attempt = str(delivery.pk), 1
        assert deliver_webhook.apply(args=[delivery_id, attempt]).get() == "pending"
        assert receiver.received == []
        assert deliver_webhook.apply(args=[delivery_id, attempt, True]).get() == "succeeded"
    assert len(receiver.received) == 1
