"""Whose view a subscription sends and to whose URL: a new owner names a new URL, and the
upgrade gives every subscription that named another owner back to its creator, paused
(found by a review of session 11's change)."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from ledgers.webhooks.exceptions import WebhookInvalid
from ledgers.webhooks.models import WebhookSubscription
from ledgers.webhooks.selectors import webhook_subscription_get
from ledgers.webhooks.services import webhook_subscription_create, webhook_subscription_update
from tests.webhooks.conftest import Receiver, designs_own_view

WEBHOOKS = "/api/v1/ledgers/dv/webhooks/"
owner_is_creator = importlib.import_module(
    "ledgers.migrations.0016_webhook_owner_is_creator"
).forwards


def test_a_new_owner_must_name_a_new_url(
    api: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    """市民税課's zei chose the URL; 市民課's clerk, who sees more, named itself owner alone
    and sent its view to zei's receiver."""
    designs_own_view(city, "zei")
    designs_own_view(city, "clerk")
    theirs = api("zei").post(WEBHOOKS, {"url": receiver.url, "events": ["record.updated"]})
    url = f"{WEBHOOKS}{theirs.json()['id']}/"
    refused = api("clerk").patch(url, {"owner": "clerk"})
    assert refused.status_code == 400
    assert "url" in refused.json()["detail"]["errors"]
    with schema_context("mitaka"):
        assert WebhookSubscription.objects.get(pk=theirs.json()["id"]).owner.username == "zei"
    taken = api("clerk").patch(url, {"owner": "clerk", "url": "http://127.0.0.1:9/mine"})
    assert taken.status_code == 200
    assert api("clerk").patch(url, {"owner": "clerk"}).status_code == 200  # no change of owner


@pytest.mark.parametrize("method", ["post", "patch"])
def test_the_owner_field_tells_no_username_apart(
    api: Any, receiver: Receiver, city: dict[str, Any], method: str
) -> None:
    """Anyone but oneself is refused as owner: an account that exists, a deactivated one
    and one that never existed alike. The owner was looked up first, so a designer read
    「その職員（…）はいません。」 for a username no account held and the rule on owners
    for one that an active account held: which staff accounts the city has, a name at a
    time, where the staff list is for city administrators only (and a list of usernames
    is half of a password spray)."""
    designer = api("designer")
    mine = designer.post(WEBHOOKS, {"url": receiver.url, "events": ["record.updated"]})
    assert mine.status_code == 201, mine.json()
    with schema_context("mitaka"):
        gone = city["people"]["auditor"]
        gone.is_active = False
        gone.save(update_fields=["is_active"])
    answers = {}
    for username in ["clerk", "auditor", "nobody-at-all"]:
        body = {"url": receiver.url, "events": ["record.updated"], "owner": username}
        if method == "post":
            response = designer.post(WEBHOOKS, body)
        else:
            response = designer.patch(f"{WEBHOOKS}{mine.json()['id']}/", body)
        assert response.status_code == 400
        answers[username] = response.json()
    assert answers["clerk"] == answers["auditor"] == answers["nobody-at-all"]
    assert list(answers["clerk"]["detail"]["errors"]) == ["owner"]
    # Oneself, as before.
    as_self = {"url": receiver.url, "events": ["record.updated"], "owner": "designer"}
    assert designer.post(WEBHOOKS, as_self).status_code == 201


def test_the_upgrade_gives_a_subscription_naming_another_owner_to_its_creator_paused(
    receiver: Receiver, city: dict[str, Any]
) -> None:
    people = city["people"]
    with schema_context("mitaka"):
        legacy = WebhookSubscription.objects.create(
            ledger=city["ledger"], url=receiver.url, events=["record.updated"],
            owner=people["clerk"], created_by=people["designer"], secret="s" * 40,
        )  # fmt: skip
        own = WebhookSubscription.objects.create(
            ledger=city["ledger"], url=receiver.url, events=["record.updated"],
            owner=people["clerk"], created_by=people["clerk"], secret="t" * 40,
        )  # fmt: skip
        owner_is_creator(apps, SimpleNamespace(connection=connection))
        legacy.refresh_from_db()
        own.refresh_from_db()
        event = AuditEvent.objects.get(action="webhook.update", details__webhook=str(legacy.pk))
    assert (legacy.owner_id, legacy.active) == (people["designer"].pk, False)
    assert legacy.disabled_at is not None
    assert (own.owner_id, own.active) == (people["clerk"].pk, True)
    assert event.actor_id is None
    assert event.details["before"]["owner_id"] == people["clerk"].pk
    assert event.details["after"] == {"owner_id": people["designer"].pk, "active": False}


@pytest.mark.parametrize(
    ("changes", "refused_on"),
    [({"url": "http://127.0.0.1:9/zei"}, "owner"), ({"owner": "zei"}, "url")],
    ids=["url-alone", "owner-alone"],
)
def test_a_change_decided_on_an_owner_replaced_meanwhile_is_refused(
    receiver: Receiver, city: dict[str, Any], changes: dict[str, Any], refused_on: str
) -> None:
    """Found by a race review: the owner rules read the subscription as the request found it,
    before its lock. zei's change of the URL alone (allowed: zei owned it) landed after
    市民課's clerk had taken the subscription over with a URL of its own, and sent clerk's
    view to zei's receiver; zei naming itself owner alone (no change, as it read it) put
    zei's view on clerk's receiver. Each request here is the view's: the subscription read,
    then the service called with it."""
    zei, clerk = designs_own_view(city, "zei"), designs_own_view(city, "clerk")
    people = {"zei": zei, "clerk": clerk}
    with schema_context("mitaka"):
        theirs = webhook_subscription_create(
            actor=zei, ledger=city["ledger"], url=receiver.url, events=["record.updated"]
        )
        as_zei_read_it = webhook_subscription_get(ledger=city["ledger"], subscription_id=theirs.pk)
        webhook_subscription_update(
            actor=clerk,
            subscription=webhook_subscription_get(ledger=city["ledger"], subscription_id=theirs.pk),
            changes={"owner": clerk, "url": "http://127.0.0.1:9/clerk"},
        )
        wanted = {k: people[v] if k == "owner" else v for k, v in changes.items()}
        with pytest.raises(WebhookInvalid) as refused:
            webhook_subscription_update(actor=zei, subscription=as_zei_read_it, changes=wanted)
        stored = WebhookSubscription.objects.get(pk=theirs.pk)
    assert refused_on in refused.value.errors
    assert (stored.owner_id, stored.url) == (clerk.pk, "http://127.0.0.1:9/clerk")
