"""A subscription's secret is new when its URL is (found by session 17's review): kept, it
stayed with whoever ran the old receiver, who could sign deliveries the new receiver took
for Daicho's (a DV victim's address "changed back"), and a designer who took a
subscription over never learnt what its deliveries were signed with. ``rotate_secret``
renews it on demand, for its owner alone."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from ledgers.webhooks.models import WebhookDelivery, WebhookSubscription
from ledgers.webhooks.signing import verify_signature
from ledgers.webhooks.tasks import deliver_webhook
from tests.api.conftest import assert_documented
from tests.webhooks.conftest import Receiver, designs_own_view

WEBHOOKS = "/api/v1/ledgers/dv/webhooks/"
DETAIL = "/api/v1/ledgers/{code}/webhooks/{webhook_id}/"


def _stored_secret(subscription_id: str) -> str:
    with schema_context("mitaka"):
        return WebhookSubscription.objects.get(pk=subscription_id).secret


def _deliver(delivery: WebhookDelivery) -> str:
    with schema_context("mitaka"):
        return deliver_webhook.apply(args=[str(delivery.pk), 1]).get()


def test_a_new_url_gets_a_new_secret_shown_once_and_deliveries_are_signed_with_it(
    api: Any, receiver: Receiver, city: dict[str, Any], enqueue: Any
) -> None:
    designs_own_view(city, "clerk")
    clerk = api("clerk")
    created = clerk.post(WEBHOOKS, {"url": receiver.url, "events": ["record.updated"]})
    old = created.json()["secret"]
    url = f"{WEBHOOKS}{created.json()['id']}/"

    moved = clerk.patch(url, {"url": receiver.url.replace("/hooks/daicho", "/hooks/new")})
    assert moved.status_code == 200, moved.json()
    new = moved.json()["secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert _stored_secret(created.json()["id"]) == new
    assert_documented(moved, DETAIL, "patch")
    assert "secret" not in clerk.get(url).json()  # shown that once

    [delivery] = enqueue("record.updated", generation=1)
    assert _deliver(delivery) == "succeeded"
    [got] = receiver.received
    assert got.path == "/hooks/new"
    timestamp, signature = got.headers["X-Daicho-Timestamp"], got.headers["X-Daicho-Signature"]
    assert verify_signature(new, timestamp, got.body, signature)
    # Whoever ran the old receiver holds the old secret: it signs nothing the new one takes.
    assert not verify_signature(old, timestamp, got.body, signature)


def test_a_designer_taking_a_subscription_over_receives_its_new_secret(
    api: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    designs_own_view(city, "zei")
    designs_own_view(city, "clerk")
    theirs = api("zei").post(WEBHOOKS, {"url": receiver.url, "events": ["record.updated"]})
    url = f"{WEBHOOKS}{theirs.json()['id']}/"
    taken = api("clerk").patch(url, {"owner": "clerk", "url": "http://127.0.0.1:9/mine"})
    assert taken.status_code == 200, taken.json()
    assert taken.json()["secret"] not in {theirs.json()["secret"], None}
    assert _stored_secret(theirs.json()["id"]) == taken.json()["secret"]


def test_the_owner_rotates_the_secret_and_the_trail_says_so_without_it(
    api: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    designs_own_view(city, "clerk")
    clerk = api("clerk")
    created = clerk.post(WEBHOOKS, {"url": receiver.url, "events": ["record.updated"]})
    url = f"{WEBHOOKS}{created.json()['id']}/"

    rotated = clerk.patch(url, {"rotate_secret": True})
    assert rotated.status_code == 200, rotated.json()
    assert rotated.json()["url"] == receiver.url  # the URL stays
    assert rotated.json()["secret"] != created.json()["secret"]
    assert _stored_secret(created.json()["id"]) == rotated.json()["secret"]
    with schema_context("mitaka"):
        event = AuditEvent.objects.filter(action="webhook.update").latest("seq")
    assert event.details["fields"] == ["secret"]
    assert rotated.json()["secret"] not in str(event.details)
    assert created.json()["secret"] not in str(event.details)

    # Other changes, and rotate_secret: false, leave the secret and show none.
    for change in ({"description": "福祉システム連携"}, {"rotate_secret": False}):
        answer = clerk.patch(url, change)
        assert answer.status_code == 200, answer.json()
        assert "secret" not in answer.json()
    assert _stored_secret(created.json()["id"]) == rotated.json()["secret"]


def test_another_designer_may_not_rotate_the_secret(
    api: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    """With the new secret, another designer could sign deliveries the owner's receiver
    trusts (and would stop the owner's receiver from verifying any)."""
    designs_own_view(city, "zei")
    designs_own_view(city, "clerk")
    theirs = api("zei").post(WEBHOOKS, {"url": receiver.url, "events": ["record.updated"]})
    url = f"{WEBHOOKS}{theirs.json()['id']}/"

    refused = api("clerk").patch(url, {"rotate_secret": True, "description": "乗っ取り"})
    assert refused.status_code == 400
    assert list(refused.json()["detail"]["errors"]) == ["owner"]
    assert "secret" not in refused.json()
    assert _stored_secret(theirs.json()["id"]) == theirs.json()["secret"]
    with schema_context("mitaka"):
        assert WebhookSubscription.objects.get(pk=theirs.json()["id"]).description == ""
