"""Subscriptions made before a subscription read as its creator: those naming another
owner sent that owner's view of every record to a URL someone else chose (a designer who
may not view records received them, the trail naming the owner as the reader).

Each such subscription is given to its creator (who chose its URL) and paused, with an
audit event (``webhook.update``, no actor: the upgrade) saying so; a ledger administrator
looks at it before switching it on again. A few rows per ledger at most (at most
``WEBHOOK_MAX_PER_LEDGER``): nothing grows with a city's records.
"""

import json

from django.db import migrations
from django.db.models import F
from django.utils import timezone

REASON = "名義人を作成者に戻して停止（Webhook は名義人の権限で送るため。移行による変更）"
AUDIT_SQL = (
    "INSERT INTO ledgers_auditevent (actor_id, action, ledger_code, details)"
    " VALUES (NULL, 'webhook.update', %s, %s::jsonb)"
)


def forwards(apps, schema_editor):
    subscriptions = apps.get_model("ledgers", "WebhookSubscription").objects
    legacy = subscriptions.exclude(created_by__isnull=True).exclude(owner_id=F("created_by_id"))
    now = timezone.now()
    with schema_editor.connection.cursor() as cursor:
        for subscription in legacy.select_related("ledger"):
            details = {
                "webhook": str(subscription.pk),
                "fields": ["owner", "active"],
                "before": {"owner_id": subscription.owner_id, "active": subscription.active},
                "after": {"owner_id": subscription.created_by_id, "active": False},
                "reason": REASON,
            }
            subscription.owner_id = subscription.created_by_id
            subscription.active = False
            subscription.disabled_at = now
            subscription.save(update_fields=["owner", "active", "disabled_at"])
            cursor.execute(
                AUDIT_SQL, [subscription.ledger.code, json.dumps(details, ensure_ascii=False)]
            )


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0015_webhookdelivery_response_body_unused")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
