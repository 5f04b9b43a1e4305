"""The views of ``/api/schema/`` and ``/api/docs/`` (drf-spectacular's), their refusals in
the API's error shape. Apart from ``schema.py``: drf-spectacular's views read
``DEFAULT_SCHEMA_CLASS`` (``schema.DaichoAutoSchema``) when imported."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.response import Response

from ledgers.api.renderers import JsonRenderer


class _ErrorsAsJson:
    """A refusal (406 for an ``Accept`` the page does not answer, 405) in the API's error
    shape and as JSON, where the view's own renderer wrote it: the schema's as YAML, the
    docs page's as "406 Not Acceptable" in HTML."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # type: ignore[misc]
        self.request.accepted_renderer = JsonRenderer()  # type: ignore[attr-defined]
        self.request.accepted_media_type = "application/json"  # type: ignore[attr-defined]
        return response


class SchemaView(_ErrorsAsJson, SpectacularAPIView):
    """``/api/schema/``: the OpenAPI description (YAML, or JSON when asked)."""


class DocsView(_ErrorsAsJson, SpectacularSwaggerView):
    """``/api/docs/``: Swagger UI on the description, its assets served here (no CDN)."""
