"""Fail closed: code that needs a city refuses to run on the public schema."""

from __future__ import annotations

from django.db import connection

from tenants.exceptions import TenantRequired


def current_schema() -> str:
    return connection.schema_name


def require_tenant() -> str:
    """Return the current city's schema name, or raise ``TenantRequired`` on ``public``."""
    schema = connection.schema_name
    if not schema or schema == "public":
        raise TenantRequired(
            "この処理は自治体のスキーマでのみ実行できます（public で実行されました）。"
        )
    return schema
