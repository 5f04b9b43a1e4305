"""The OpenAPI description: every operation also documents the common error answers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import is_list_serializer

# Any request can be malformed, unauthenticated, refused, aimed at a missing object, ask
# for an answer in a form other than JSON (Accept) or be rate-limited; each answers with
# the same error shape.
COMMON_ERRORS = ("400", "401", "403", "404", "406", "429")
# A request with a body can also send one too large or in a form other than JSON.
BODY_ERRORS = ("413", "415")
# A rate limit or the token endpoint's lockout (429) says how long to wait (the 409s that
# do, an Idempotency-Key or an audit verification still running: ``errors.retry_after_header``).
RETRY_AFTER = {
    "schema": {"type": "integer"},
    "description": "この秒数だけ待ってから送り直してください。",
}


class DaichoAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        from ledgers.api.errors import ErrorShape

        responses = super()._get_response_bodies(direction)
        errors = COMMON_ERRORS
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors += BODY_ERRORS
        for code in errors:
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorShape, code, direction=direction)
        responses["429"].setdefault("headers", {}).setdefault("Retry-After", dict(RETRY_AFTER))
        return responses

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        """A request body that refuses keys it does not declare (``ClosedBodySerializer``)
        says so: ``additionalProperties: false``."""
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "refuses_unknown_keys", False):
            schema["additionalProperties"] = False
        return schema

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any] | None:
        """drf-spectacular reads a list's size limits from its validators only: a list that
        may not be empty (``allow_empty=False``) and a nested list's ``max_length`` were
        refused by the server but not declared (an empty bulk request, a webhook for no
        event); a dict that may not be empty likewise."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if not schema:
            return schema
        if schema.get("type") == "array":
            if getattr(field, "allow_empty", True) is False:
                schema["minItems"] = max(schema.get("minItems", 0), 1)
            if is_list_serializer(field):
                if field.min_length is not None:
                    schema["minItems"] = max(schema.get("minItems", 0), field.min_length)
                if field.max_length is not None:
                    schema["maxItems"] = field.max_length
        elif schema.get("type") == "object" and getattr(field, "allow_empty", True) is False:
            schema["minProperties"] = max(schema.get("minProperties", 0), 1)
        return schema
