"""Small readers for field options, so every type words its option errors the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgers.fields.exceptions import FieldOptionsError


def int_option(
    options: Mapping[str, Any],
    key: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """An optional whole-number option within bounds; ``default`` when absent or null."""
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldOptionsError(f"オプション「{key}」は整数で指定してください", key=key)
    if minimum is not None and value < minimum:
        raise FieldOptionsError(f"オプション「{key}」は{minimum}以上で指定してください", key=key)
    if maximum is not None and value > maximum:
        raise FieldOptionsError(f"オプション「{key}」は{maximum}以下で指定してください", key=key)
    return value


def str_option(options: Mapping[str, Any], key: str, *, default: str | None = None) -> str | None:
    """An optional non-blank string option, trimmed; ``default`` when absent or null."""
    value = options.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise FieldOptionsError(f"オプション「{key}」は空でない文字列で指定してください", key=key)
    return value.strip()


def check_range(options: Mapping[str, Any], low: Any, high: Any) -> None:
    """``min`` must not exceed ``max`` when both are set."""
    if low is not None and high is not None and low > high:
        raise FieldOptionsError(
            "オプション「min」が「max」より大きくなっています", keys=["min", "max"]
        )
