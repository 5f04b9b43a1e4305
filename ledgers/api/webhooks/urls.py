"""Webhook routes, included under /api/v1/ by ``ledgers.api.urls``."""

from django.urls import path

from ledgers.api.webhooks.views import WebhookDeliveryListView, WebhookDetailView, WebhookListView

WEBHOOK = "ledgers/<slug:code>/webhooks/<str:webhook_id>/"

urlpatterns = [
    path("ledgers/<slug:code>/webhooks/", WebhookListView.as_view(), name="api-webhooks"),
    path(WEBHOOK, WebhookDetailView.as_view(), name="api-webhook"),
    path(WEBHOOK + "deliveries/", WebhookDeliveryListView.as_view(), name="api-webhook-deliveries"),
]
