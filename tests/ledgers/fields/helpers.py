"""Shared helpers for the field-type tests: clean through the registry, catch messages."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from ledgers.fields import field_type_registry
from ledgers.fields.exceptions import FieldValueError

# No example database: the suite must not write files into the repository.
HYPOTHESIS = settings(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def clean(type_id: str, value: Any, options: dict[str, Any] | None = None) -> Any:
    """Clean ``value`` with the registered type, options validated first as callers do."""
    field_type = field_type_registry.get(type_id)
    return field_type.clean(value, field_type.validate_options(options))


def error(type_id: str, value: Any, options: dict[str, Any] | None = None) -> FieldValueError:
    """The FieldValueError that cleaning ``value`` raises."""
    with pytest.raises(FieldValueError) as info:
        clean(type_id, value, options)
    return info.value


def fmt(
    type_id: str, method: str, value: Any, options: dict[str, Any] | None = None, **kw: Any
) -> Any:
    """Call a formatting hook (display, format_export, search_keys …) with validated options."""
    field_type = field_type_registry.get(type_id)
    return getattr(field_type, method)(value, field_type.validate_options(options), **kw)
