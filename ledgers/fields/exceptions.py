"""Errors raised by field types.

They subclass Django's ``ValidationError`` so that forms and model validation show them
as they are; the API edge maps them to stable error codes by ``code``. Messages are
Japanese because staff read them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class FieldError(ValidationError):
    """Base of every field-type error: one Japanese message and a stable code."""

    default_code = "field_error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        # Details stay off Django's ``params``: Django would %-format the message with them,
        # and messages quote user input that may contain "%".
        super().__init__(message, code=code or self.default_code)
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return str(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclass constructors differ from ValidationError's, so pickling (Celery results,
        # multiprocessing) rebuilds from the parts rather than from ``args``.
        return _restore, (type(self), self.message, self.code, self.details)


def _restore(cls: type[FieldError], message: str, code: str, details: dict[str, Any]) -> FieldError:
    error = cls.__new__(cls)
    FieldError.__init__(error, message, code=code, **details)
    return error


class FieldOptionsError(FieldError):
    """A field's options (選択肢, 桁数, 課の一覧 …) are not valid for its type."""

    default_code = "invalid_field_options"


class FieldValueError(FieldError):
    """A value cannot be stored in a field of this type."""

    default_code = "invalid_field_value"


class WarekiError(FieldValueError):
    """A date (和暦 or 西暦) cannot be read or does not exist."""

    default_code = "invalid_date"


class UnknownFieldType(FieldError):
    """No field type is registered under this id."""

    default_code = "unknown_field_type"

    def __init__(self, type_id: object) -> None:
        super().__init__(f"不明なフィールド型です: 「{type_id}」", type_id=type_id)

    @property
    def type_id(self) -> object:
        return self.details.get("type_id")


class FieldTypeAlreadyRegistered(Exception):
    """Two different classes claim the same type id: a programming error."""
