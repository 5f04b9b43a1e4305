"""System checks on the database Daicho runs on."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.db import connections


def database_ctype(alias: str = "default") -> str:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT datctype FROM pg_database WHERE datname = current_database()")
        (ctype,) = cursor.fetchone()
    return ctype


@register(Tags.database)
def check_utf8_locale(
    app_configs: Any, databases: list[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pg_trgm and character classes ignore Japanese under the C locale: require UTF-8."""
    errors: list[CheckMessage] = []
    for alias in databases or []:
        ctype = database_ctype(alias)
        if "utf" not in ctype.lower().replace("-", ""):
            errors.append(
                Error(
                    f"database {alias!r} has LC_CTYPE {ctype!r}; Japanese search needs a UTF-8 "
                    "locale (create it with LC_CTYPE 'C.UTF-8' or a builtin C.UTF-8 locale)",
                    id="daicho.E001",
                )
            )
    return errors
