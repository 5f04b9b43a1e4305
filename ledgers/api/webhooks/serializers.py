"""Request and response shapes of the webhooks API (also the OpenAPI description)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from ledgers.fields.normalize import ANY_CONTROL_RE
from ledgers.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription

_OWNER_ERRORS = {
    "does_not_exist": "その職員（{value}）はいません。",
    "invalid": "職員のユーザー名で指定してください。",
}


#: The owner field's value for any username but the caller's (``_UsernameField``): refused
#: as an owner by the service (``ledgers.webhooks.services._check_owner``), as any staff
#: member but the caller is.
SOMEONE_ELSE = object()


class _UsernameField(serializers.SlugRelatedField):
    """A staff member by username. DRF's field queries with the text as given, before any
    check of its characters: a NUL reached PostgreSQL, which refuses it in text, as a
    server error. Text that holds a control character is no username.

    With the request in the serializer's context, only the caller's own username is looked
    up; any other is ``SOMEONE_ELSE`` (the owner is the caller, whoever else is named):
    looked up, a username no active account held was 「その職員（…）はいません。」 and one
    that an active account held the rule on owners, which told anyone who may design a
    ledger which staff accounts the city has."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and ANY_CONTROL_RE.search(data):
            self.fail("invalid")
        request = self.context.get("request")
        if request is not None and data != request.user.get_username():
            return SOMEONE_ELSE
        return super().to_internal_value(data)


def _owner_field() -> serializers.SlugRelatedField:
    return _UsernameField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        error_messages=_OWNER_ERRORS,
        help_text="権限の名義人（職員のユーザー名）。送信内容はこの職員が閲覧できる範囲に限られます。"
        "省略時は登録する本人。",
    )


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="送信先（http:// または https://）")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.values), allow_empty=False
    )
    owner = _owner_field()
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=200, default=""
    )


class WebhookUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(required=False, max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.values),
        allow_empty=False,
        required=False,
    )
    owner = _owner_field()
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)
    active = serializers.BooleanField(
        required=False, help_text="true で再開（自動停止の解除、失敗回数を 0 に）、false で停止"
    )
    rotate_secret = serializers.BooleanField(
        required=False,
        help_text="true で署名の鍵（secret）を新しくします（名義人本人だけ）。送信先 URL を変えたときも"
        "新しくなります。新しい鍵はこの応答でだけ表示されます。",
    )


class WebhookSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    ledger = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.values))
    owner = serializers.CharField()
    description = serializers.CharField()
    active = serializers.BooleanField()
    failure_count = serializers.IntegerField(help_text="連続して失敗（再送終了）した配信の数")
    disabled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        help_text="署名の鍵。この応答でだけ表示されます。受信側に安全に保管してください。"
    )


class WebhookUpdatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        required=False,
        help_text="新しい署名の鍵。送信先 URL を変えたとき、または rotate_secret: true のときだけ、"
        "この応答でだけ表示されます。",
    )


class WebhookListSerializer(serializers.Serializer):
    results = WebhookSerializer(many=True)


class DeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    event = serializers.CharField()
    record_id = serializers.UUIDField()
    generation = serializers.IntegerField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.values)
    attempts = serializers.IntegerField()
    response_status = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)


class DeliveryListSerializer(serializers.Serializer):
    results = DeliverySerializer(many=True)
    next = serializers.CharField(allow_null=True)


def webhook_out(subscription: WebhookSubscription) -> dict[str, Any]:
    """A subscription as the API shows it: never its secret."""
    return {
        "id": str(subscription.pk),
        "ledger": subscription.ledger.code,
        "url": subscription.url,
        "events": list(subscription.events),
        "owner": subscription.owner.username,
        "description": subscription.description,
        "active": subscription.active,
        "failure_count": subscription.failure_count,
        "disabled_at": subscription.disabled_at.isoformat() if subscription.disabled_at else None,
        "created_at": subscription.created_at.isoformat(),
        "updated_at": subscription.updated_at.isoformat(),
    }


def delivery_out(delivery: WebhookDelivery) -> dict[str, Any]:
    """A delivery with the receiver's answer; ids only, never record values."""
    return {
        "id": str(delivery.pk),
        "event": delivery.event,
        "record_id": str(delivery.record_id),
        "generation": delivery.generation,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "response_status": delivery.response_status,
        "error": delivery.error,
        "next_attempt_at": (
            delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else None
        ),
        "created_at": delivery.created_at.isoformat(),
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
    }
