"""The webhooks API: /api/v1/ledgers/{code}/webhooks/ (ledger administrators, ``design``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledgers.api.common import refuse_unknown_parameters, request_token
from ledgers.api.errors import ErrorShape
from ledgers.api.output import ledger_for
from ledgers.api.pagination import TimeCursorPagination
from ledgers.api.tokens.services import token_has_scope
from ledgers.api.webhooks import serializers as s
from ledgers.audit.services import audit_record
from ledgers.exceptions import AccessDenied
from ledgers.webhooks.models import WebhookDelivery
from ledgers.webhooks.selectors import (
    webhook_deliveries,
    webhook_subscription_get,
    webhook_subscriptions,
)
from ledgers.webhooks.services import (
    webhook_subscription_create,
    webhook_subscription_delete,
    webhook_subscription_update,
)


def _require_reading_token(request: Request) -> None:
    """A subscription's URL receives record values: who sets it (or its owner) reads them,
    so a token needs ``records:read`` as well as ``ledgers:design`` (a design-only token,
    refused a GET, subscribed its own URL and read every change)."""
    if not token_has_scope(request_token(request), "records:read"):
        raise AccessDenied(
            "Webhook の送信先・名義人を設定するには、トークンに records:read スコープも必要です"
            "（送信内容は記録の閲覧です）。"
        )


class DeliveryPagination(TimeCursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    max_page_size = 200


class WebhookListView(APIView):
    required_scopes = {"GET": "ledgers:design", "POST": "ledgers:design"}

    @extend_schema(
        operation_id="webhooks_list",
        responses={200: s.WebhookListSerializer, 403: ErrorShape, 404: ErrorShape},
    )
    def get(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        return Response(
            {"results": [s.webhook_out(w) for w in webhook_subscriptions(ledger=ledger)]}
        )

    @extend_schema(
        operation_id="webhooks_create",
        request=s.WebhookCreateSerializer,
        responses={201: s.WebhookCreatedSerializer, 400: ErrorShape, 403: ErrorShape},
        description="登録時の応答にだけ署名の鍵（secret）が含まれます。",
    )
    def post(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        _require_reading_token(request)
        body = s.WebhookCreateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        subscription = webhook_subscription_create(
            actor=request.user, ledger=ledger, url=data["url"], events=data["events"],
            owner=data.get("owner"), description=data.get("description", ""),
        )  # fmt: skip
        return Response(
            {**s.webhook_out(subscription), "secret": subscription.secret},
            status=status.HTTP_201_CREATED,
        )


class WebhookDetailView(APIView):
    required_scopes = {
        "GET": "ledgers:design",
        "PATCH": "ledgers:design",
        "DELETE": "ledgers:design",
    }

    @extend_schema(
        operation_id="webhooks_retrieve",
        responses={200: s.WebhookSerializer, 403: ErrorShape, 404: ErrorShape},
    )
    def get(self, request: Request, code: str, webhook_id: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        return Response(
            s.webhook_out(webhook_subscription_get(ledger=ledger, subscription_id=webhook_id))
        )

    @extend_schema(
        operation_id="webhooks_partial_update",
        request=s.WebhookUpdateSerializer,
        responses={
            200: s.WebhookUpdatedSerializer,
            400: ErrorShape,
            403: ErrorShape,
            404: ErrorShape,
        },
        description="`active: true` で自動停止した Webhook を再開します（失敗回数を 0 に戻し、"
        "未配信の分を送ります）。送信先 URL を変えたとき、または `rotate_secret: true` のときは"
        "署名の鍵（secret）が新しくなり、この応答にだけ含まれます。",
    )
    def patch(self, request: Request, code: str, webhook_id: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        subscription = webhook_subscription_get(ledger=ledger, subscription_id=webhook_id)
        body = s.WebhookUpdateSerializer(
            data=request.data, partial=True, context={"request": request}
        )
        body.is_valid(raise_exception=True)
        if {"url", "owner"} & set(body.validated_data):
            _require_reading_token(request)
        subscription = webhook_subscription_update(
            actor=request.user, subscription=subscription, changes=body.validated_data
        )
        answer = s.webhook_out(subscription)
        # This change's new URL or rotate_secret: shown this once. Not "the secret differs
        # from the one read before the lock": a change queued behind the owner's rotation
        # was answered the owner's new secret.
        if subscription.issued_secret is not None:
            answer["secret"] = subscription.issued_secret
        return Response(answer)

    @extend_schema(
        operation_id="webhooks_destroy", responses={204: None, 403: ErrorShape, 404: ErrorShape}
    )
    def delete(self, request: Request, code: str, webhook_id: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        subscription = webhook_subscription_get(ledger=ledger, subscription_id=webhook_id)
        webhook_subscription_delete(actor=request.user, subscription=subscription)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListView(APIView):
    required_scopes = {"GET": "ledgers:design"}

    @extend_schema(
        operation_id="webhook_deliveries_list",
        parameters=[
            OpenApiParameter("status", str, enum=WebhookDelivery.Status.values),
            DeliveryPagination.page_size_parameter(), DeliveryPagination.cursor_parameter(),
        ],
        responses={200: s.DeliveryListSerializer, 403: ErrorShape, 404: ErrorShape},
    )  # fmt: skip
    def get(self, request: Request, code: str, webhook_id: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        subscription = webhook_subscription_get(ledger=ledger, subscription_id=webhook_id)
        refuse_unknown_parameters(request.query_params, ("status", "cursor", "page_size"))
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in WebhookDelivery.Status.values:
            raise exceptions.ValidationError(
                {"status": [f"状態は {', '.join(WebhookDelivery.Status.values)} のいずれかです。"]}
            )
        deliveries = webhook_deliveries(subscription=subscription, reader=policy, status=wanted)
        paginator = DeliveryPagination()
        page = list(paginator.paginate_queryset(deliveries, request, view=self) or [])
        # The log names records and when each was created, changed or deleted: a read of
        # them, audited as the records list is (``record.list``, whose ``records`` the
        # auditors' "who looked this person up" reads). Unaudited, a ledger administrator
        # could follow one person's record by polling it.
        audit_record(
            actor=request.user, action="record.list", ledger_code=ledger.code,
            details={"records": list(dict.fromkeys(str(d.record_id) for d in page)),
                     "via": "webhook.deliveries", "webhook": str(subscription.pk),
                     "status": wanted},
        )  # fmt: skip
        return Response(
            {"results": [s.delivery_out(d) for d in page], "next": paginator.get_next_link()}
        )
