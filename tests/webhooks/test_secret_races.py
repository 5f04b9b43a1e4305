"""A subscription's secret is answered only to the change that made it.

Found by the replay review of 2026-11-30: ``PATCH …/webhooks/{id}/`` showed ``secret``
whenever the subscription's secret after the change differed from the one the view had
read before it, not when this change had made a new one. Another designer's change of the
description alone, sent while the owner's rotation (or change of URL) held the ledger's
lock, read the old secret, waited, and was answered the owner's new one: the secret that
signs what the owner's receiver trusts, which ``rotate_secret`` is refused to anyone but
the owner for. Real requests on threads of their own connections, in Fuchu (whose rows
commit), the rotation holding the lock every change of a subscription takes.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.access.services import grants_replace
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from ledgers.webhooks.models import WebhookSubscription
from ledgers.webhooks.services import webhook_subscription_create
from tests.conftest import FUCHU, fuchu_client, queued_behind

User = get_user_model()


def test_a_change_queued_behind_the_owners_rotation_is_not_answered_its_secret(
    fuchu: None, django_db_blocker: Any
) -> None:
    suffix = secrets.token_hex(3)
    code = f"hook_{suffix}"
    with django_db_blocker.unblock():
        with schema_context(FUCHU.slug):
            shimin = Department.objects.get(code="shimin")
            owner, other = (
                User.objects.create_user(username=f"{who}-{suffix}", password="x" * 12)
                for who in ("owner", "other")
            )
            for user in (owner, other):
                Membership.objects.create(
                    user=user, department=shimin, role=Role.LEDGER_ADMIN,
                    valid_from=date(2026, 4, 1),
                )  # fmt: skip
            ledger = ledger_create(
                actor=owner, code=code, name="連携",
                fields=[{"key": "n", "label": "n", "type": "integer"}],
            )  # fmt: skip
            grants_replace(
                actor=owner, ledger=ledger,
                grants=[{"department": "shimin", "capabilities": ["view", "design"],
                         "clearance": "personal"}],
            )  # fmt: skip
            subscription = webhook_subscription_create(
                actor=owner, ledger=ledger, url="http://127.0.0.1:9/owner", events=["record.updated"]
            )  # fmt: skip
        rotated = "whsec_" + secrets.token_urlsafe(32)
        client = fuchu_client(other)
        url = f"/api/v1/ledgers/{code}/webhooks/{subscription.pk}/"

        def rotation() -> None:
            # The owner's rotation, as its service does it: the ledger's lock, then the secret.
            Ledger.objects.select_for_update(no_key=True).get(code=code)
            WebhookSubscription.objects.filter(pk=subscription.pk).update(secret=rotated)

        def describe() -> Any:
            return client.patch(url, {"description": "連携先の説明"}, format="json")

        (answer,) = queued_behind(rotation, [describe])
        connection.set_schema_to_public()
    assert answer.status_code == 200, answer.content
    assert "secret" not in answer.json()
    assert rotated not in answer.content.decode()
