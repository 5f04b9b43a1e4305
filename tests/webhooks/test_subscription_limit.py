"""At most ``WEBHOOK_MAX_PER_LEDGER`` subscriptions per ledger, two creations at once
included (each counted the subscriptions before either had inserted: 21 of 20)."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from ledgers.webhooks.models import WebhookSubscription
from ledgers.webhooks.services import webhook_subscription_create
from tests.conftest import FUCHU, fuchu_client, queued_behind
from tests.webhooks.conftest import designs_own_view

EVENTS = ["record.created"]


def test_a_ledger_at_its_limit_takes_no_more(api: Any, city: dict[str, Any], settings: Any) -> None:
    """(This test asks for ``db``, which also has pytest-django set the database up when the
    module runs alone.)"""
    settings.WEBHOOK_MAX_PER_LEDGER = 1
    designer = api("designer")
    designs_own_view(city, "designer")
    url = "/api/v1/ledgers/dv/webhooks/"
    first = designer.post(url, {"url": "http://127.0.0.1:9/a", "events": EVENTS})
    assert first.status_code == 201, first.json()
    refused = designer.post(url, {"url": "http://127.0.0.1:9/b", "events": EVENTS})
    assert refused.status_code == 400
    assert refused.json()["detail"]["errors"] == {
        "url": ["1つの台帳に登録できる Webhook は1件までです。"]
    }
    with schema_context("mitaka"):
        assert WebhookSubscription.objects.filter(ledger=city["ledger"]).count() == 1


def _designer_with_ledger(name: str) -> tuple[Any, Ledger]:
    """In Fuchu (committed: the racing threads read it), a ledger administrator of a
    department of their own and a ledger ``<name>_<hex>`` they made."""
    suffix = secrets.token_hex(3)
    with schema_context(FUCHU.slug):
        designer = get_user_model().objects.create_user(
            username=f"{name}-{suffix}", password="x" * 12
        )
        Membership.objects.create(
            user=designer, role=Role.LEDGER_ADMIN, valid_from=date(2026, 4, 1),
            department=Department.objects.create(code=f"{name}-{suffix}", name="情報政策課"),
        )  # fmt: skip
        ledger = ledger_create(
            actor=designer, code=f"{name}_{suffix}", name="連携",
            fields=[{"key": "n", "label": "n", "type": "integer"}],
        )  # fmt: skip
    return designer, ledger


def _subscribed(name: str) -> tuple[Any, Ledger, WebhookSubscription]:
    """``_designer_with_ledger`` and one subscription of the designer's to the ledger."""
    designer, ledger = _designer_with_ledger(name)
    with schema_context(FUCHU.slug):
        subscription = webhook_subscription_create(
            actor=designer, ledger=ledger, url=f"http://127.0.0.1:9/{name}", events=EVENTS
        )
    return designer, ledger, subscription


def test_two_creations_at_one_below_the_limit_make_the_limit(
    fuchu: None, django_db_blocker: Any, settings: Any
) -> None:
    """Found by a race review: the count and the insert were not under one lock. They are
    now under the ledger's (FOR NO KEY UPDATE): the second creation counts the first's."""
    settings.WEBHOOK_MAX_PER_LEDGER = 3
    with django_db_blocker.unblock():
        designer, ledger = _designer_with_ledger("hooks")
        code = ledger.code
        with schema_context(FUCHU.slug):
            for n in range(2):
                webhook_subscription_create(
                    actor=designer, ledger=ledger, url=f"http://127.0.0.1:9/{n}", events=EVENTS
                )
        clients = [fuchu_client(designer), fuchu_client(designer)]

        def create(n: int) -> Any:
            answer = clients[n].post(
                f"/api/v1/ledgers/{code}/webhooks/",
                {"url": f"http://127.0.0.1:9/racer{n}", "events": EVENTS}, format="json",
            )  # fmt: skip
            return answer.status_code, answer.json()

        answers = queued_behind(
            lambda: Ledger.objects.select_for_update().get(code=code),
            [lambda: create(0), lambda: create(1)],
        )
        assert sorted(status for status, _body in answers) == [201, 400], answers
        (refused,) = [body for status, body in answers if status == 400]
        assert refused["detail"]["errors"] == {
            "url": ["1つの台帳に登録できる Webhook は3件までです。"]
        }
        with schema_context(FUCHU.slug):
            assert WebhookSubscription.objects.filter(ledger__code=code).count() == 3
        connection.set_schema_to_public()


def test_a_designer_demoted_while_subscribing_is_refused(
    fuchu: None, django_db_blocker: Any
) -> None:
    """A subscription created while another transaction takes the creator's grants away
    (holding the ledger's lock) is refused once that commits: the rights are checked again
    under the lock, on the grants as they are then (found by the concurrency review: they
    were checked only before it, and the creation went through after the grant was gone)."""
    from ledgers.access.services import grants_replace

    with django_db_blocker.unblock():
        designer, ledger = _designer_with_ledger("demote")
        code = ledger.code
        client = fuchu_client(designer)

        def create() -> Any:
            answer = client.post(
                f"/api/v1/ledgers/{code}/webhooks/",
                {"url": "http://127.0.0.1:9/late", "events": EVENTS}, format="json",
            )  # fmt: skip
            return answer.status_code

        answers = queued_behind(
            lambda: grants_replace(actor=designer, ledger=ledger, grants=[]), [create]
        )
        assert answers == [403]
        with schema_context(FUCHU.slug):
            assert not WebhookSubscription.objects.filter(ledger__code=code).exists()
        connection.set_schema_to_public()


def test_a_designer_demoted_while_changing_a_subscription_is_refused(
    fuchu: None, django_db_blocker: Any
) -> None:
    """The same for a change (a new URL, re-enabling): checked again under the ledger's
    lock, after the grants taken away meanwhile (found by the session review: a change
    went through after the grant was gone; deliveries check the owner again, so the risk
    was a subscription re-pointed by someone no longer designing the ledger)."""
    from ledgers.access.services import grants_replace

    with django_db_blocker.unblock():
        designer, ledger, subscription = _subscribed("repoint")
        client = fuchu_client(designer)

        def change() -> Any:
            answer = client.patch(
                f"/api/v1/ledgers/{ledger.code}/webhooks/{subscription.pk}/",
                {"url": "http://127.0.0.1:9/new"}, format="json",
            )  # fmt: skip
            return answer.status_code

        answers = queued_behind(
            lambda: grants_replace(actor=designer, ledger=ledger, grants=[]), [change]
        )
        assert answers == [403]
        with schema_context(FUCHU.slug):
            assert WebhookSubscription.objects.get(pk=subscription.pk).url.endswith("/repoint")
        connection.set_schema_to_public()


def test_a_designer_demoted_while_deleting_a_subscription_is_refused(
    fuchu: None, django_db_blocker: Any
) -> None:
    """The same for a deletion (found by the session 14 review and left then): checked
    again under the ledger's lock, after the grants taken away meanwhile; the
    subscription stays."""
    from ledgers.access.services import grants_replace

    with django_db_blocker.unblock():
        designer, ledger, subscription = _subscribed("unhook")
        client = fuchu_client(designer)

        def delete() -> Any:
            return client.delete(
                f"/api/v1/ledgers/{ledger.code}/webhooks/{subscription.pk}/"
            ).status_code

        answers = queued_behind(
            lambda: grants_replace(actor=designer, ledger=ledger, grants=[]), [delete]
        )
        assert answers == [403]
        with schema_context(FUCHU.slug):
            assert WebhookSubscription.objects.filter(pk=subscription.pk).exists()
        connection.set_schema_to_public()


def test_two_deletions_of_one_subscription_give_one_204_and_one_404(
    fuchu: None, django_db_blocker: Any
) -> None:
    """Both found the subscription before either deleted it; the second, waiting on the
    ledger's lock, finds it gone: 404, not a 500, and one webhook.delete event."""
    from ledgers.audit.models import AuditEvent

    with django_db_blocker.unblock():
        designer, ledger, subscription = _subscribed("twice")
        clients = [fuchu_client(designer), fuchu_client(designer)]

        def delete(n: int) -> Any:
            return (
                clients[n]
                .delete(f"/api/v1/ledgers/{ledger.code}/webhooks/{subscription.pk}/")
                .status_code
            )

        answers = queued_behind(
            lambda: Ledger.objects.select_for_update().get(pk=ledger.pk),
            [lambda: delete(0), lambda: delete(1)],
        )
        assert sorted(answers) == [204, 404], answers
        with schema_context(FUCHU.slug):
            assert not WebhookSubscription.objects.filter(pk=subscription.pk).exists()
            assert (
                AuditEvent.objects.filter(action="webhook.delete", ledger_code=ledger.code).count()
                == 1
            )
        connection.set_schema_to_public()


def test_a_change_of_a_subscription_deleted_meanwhile_is_404(
    fuchu: None, django_db_blocker: Any
) -> None:
    """A change that found the subscription, then waited on the ledger's lock while
    another designer deleted it, answers 404 (it was a 500) and recreates nothing."""
    from ledgers.webhooks.services import webhook_subscription_delete

    with django_db_blocker.unblock():
        designer, ledger, subscription = _subscribed("gone")
        client = fuchu_client(designer)

        def change() -> Any:
            return client.patch(
                f"/api/v1/ledgers/{ledger.code}/webhooks/{subscription.pk}/",
                {"url": "http://127.0.0.1:9/new"}, format="json",
            ).status_code  # fmt: skip

        answers = queued_behind(
            lambda: webhook_subscription_delete(actor=designer, subscription=subscription),
            [change],
        )
        assert answers == [404]
        with schema_context(FUCHU.slug):
            assert not WebhookSubscription.objects.filter(ledger__code=ledger.code).exists()
        connection.set_schema_to_public()
