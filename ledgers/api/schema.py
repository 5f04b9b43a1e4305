"""The OpenAPI description: every operation also documents the common error answers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

# Any request can be malformed, unauthenticated, refused, aimed at a missing object or
# rate-limited; each answers with the same error shape.
COMMON_ERRORS = ("400", "401", "403", "404", "429")


class DaichoAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        from ledgers.api.errors import ErrorShape

        responses = super()._get_response_bodies(direction)
        for code in COMMON_ERRORS:
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorShape, code, direction=direction)
        return responses
