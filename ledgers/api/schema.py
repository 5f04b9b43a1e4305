"""The OpenAPI description: every operation also documents the common error answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import is_list_serializer, list_hash
from rest_framework import serializers

# Any request can be malformed, unauthenticated, refused, aimed at a missing object, ask
# for an answer in a form other than JSON (Accept) or be rate-limited; each answers with
# the same error shape.
COMMON_ERRORS = ("400", "401", "403", "404", "406", "429")
# A request with a body can also send one too large or in a form other than JSON, or
# chunked without a length (411: ``ledgers.api.middleware.ApiUrlCheckMiddleware``).
BODY_ERRORS = ("411", "413", "415")
# A rate limit or the token endpoint's lockout (429) says how long to wait (the 409s that
# do, an Idempotency-Key or an audit verification still running: ``errors.retry_after_header``).
RETRY_AFTER = {
    "schema": {"type": "integer"},
    "description": "この秒数だけ待ってから送り直してください。",
}


# Every 401 names the scheme (``common.BearerTokenAuthentication.authenticate_header``).
WWW_AUTHENTICATE = {
    "schema": {"type": "string", "enum": ['Bearer realm="daicho"']},
    "required": True,
    "description": "認証の方式（API トークン: Authorization: Bearer …）。",
}


class DocumentedChoice(serializers.CharField):
    """A text that must be one of a closed set (a sensitivity, a capability, a role, a
    scope, a field type), declared as that enum in the schema. The set is checked where it
    was, by the services, with their Japanese messages; ``choices()`` gives it as (value,
    label) pairs when the schema is generated (a field type registered by a plug-in
    included), ``accepted()`` a request's when it is wider (a field type's aliases)."""

    def __init__(
        self,
        *,
        choices: Callable[[], list[tuple[str, str]]],
        accepted: Callable[[], list[tuple[str, str]]] | None = None,
        **kwargs: Any,
    ) -> None:
        self.documented_choices = choices
        self.accepted_choices = accepted or choices
        super().__init__(**kwargs)


def scope_choices() -> list[tuple[str, str]]:
    from ledgers.api.tokens.services import ALL, SCOPES

    return [*SCOPES.items(), (ALL, "すべて")]


def field_type_choices() -> list[tuple[str, str]]:
    """The ids an answer names the registry's types by: a repeating group as ``group``, the
    contract's id (``ledgers.api.ledgers.views.field_out``)."""
    from ledgers.fields.registry import field_type_registry

    return [
        ("group" if t.type == "repeating_group" else t.type, str(t.label))
        for t in field_type_registry.types()
    ]


def field_type_accepted() -> list[tuple[str, str]]:
    """The registry's types and their aliases, which a request may name one by."""
    from ledgers.fields.registry import field_type_registry

    types = field_type_registry.types()
    named = [(t.type, str(t.label)) for t in types]
    return named + [(alias, str(t.label)) for t in types for alias in t.aliases]


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
        responses["401"].setdefault("headers", {}).setdefault(
            "WWW-Authenticate", dict(WWW_AUTHENTICATE)
        )
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
        event); a dict that may not be empty likewise. A ``DocumentedChoice`` is its enum."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if not schema:
            return schema
        if isinstance(field, DocumentedChoice):
            listed = field.accepted_choices if direction == "request" else field.documented_choices
            pairs = list(dict.fromkeys(listed()))
            values: list[Any] = [value for value, _label in pairs]
            if field.allow_blank:
                values.append("")
            if field.allow_null:
                values.append(None)
            schema["enum"] = values
            # The set's identity as drf-spectacular gives a ChoiceField's, so that one set
            # declared here and by a model's choices is one component (ENUM_NAME_OVERRIDES).
            schema["x-spec-enum-id"] = list_hash(pairs)
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
