"""System checks on the database Daicho runs on, and on a deployment's settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
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


@register(Tags.security, deploy=True)
def check_operator_second_factor(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """``manage.py check --deploy``: operators reach every city's provisioning and the
    template marketplace; production requires their second factor unless told otherwise,
    and a deployment told otherwise is told so."""
    if settings.DEBUG or getattr(settings, "OPERATOR_REQUIRE_2FA", True):
        return []
    return [
        Warning(
            "OPERATOR_REQUIRE_2FA is off: operators sign in with a password alone.",
            hint="Unset OPERATOR_REQUIRE_2FA (production requires it) unless this is a trial.",
            id="daicho.W001",
        )
    ]


@register(Tags.security, deploy=True)
def check_host_only_cookies(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """``manage.py check --deploy``: the session and CSRF cookies are ``__Host-`` cookies
    (secure, no domain): every city's host shares the base domain."""
    found = []
    for name, domain, secure in (
        (settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_DOMAIN, settings.SESSION_COOKIE_SECURE),
        (settings.CSRF_COOKIE_NAME, settings.CSRF_COOKIE_DOMAIN, settings.CSRF_COOKIE_SECURE),
    ):  # fmt: skip
        if not name.startswith("__Host-") or domain or not secure:
            found.append(
                Warning(
                    f"cookie {name!r} is not a __Host- cookie (secure, no domain): another "
                    "host under the base domain could set or overwrite it.",
                    id="daicho.W002",
                )
            )
    return found


# PostgreSQL's own log, which Daicho's log filters never see: each setting, the value that
# keeps values out of it, and what it writes otherwise.
SERVER_LOG_QUIET = {
    "log_min_error_statement": ("panic", "every failing statement as sent"),
    "log_error_verbosity": ("terse", "an error's DETAIL (the row or key it failed on)"),
    "log_min_duration_statement": ("-1", "slow statements as sent"),
    "log_min_duration_sample": ("-1", "a sample of slow statements as sent"),
    "log_statement": ("none", "statements as sent"),
    "log_transaction_sample_rate": ("0", "every statement of a sample of transactions"),
    "log_parameter_max_length_on_error": ("0", "a failing statement's bound values"),
}


@register(Tags.security, deploy=True)
def check_database_server_log(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """``manage.py check --deploy``: PostgreSQL's log holds no value of a record.

    PostgreSQL writes, by default, each failing statement as it was sent and the error's
    DETAIL: most statements bind their values on the client, so a search's terms or a
    record's values are in the statement's text, and a unique violation's DETAIL quotes the
    key (``Key (…)=(山田 花子)``). Daicho's own logs withhold both (``daicho.logs``); the
    database server's log, kept by whoever runs it, does not unless configured so. The
    settings are the server's (only a superuser may change them), hence a warning."""
    from django.db import DatabaseError

    try:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                [list(SERVER_LOG_QUIET)],
            )
            current = dict(cursor.fetchall())
    except DatabaseError:
        return []  # no database to ask: nothing to say about its log
    loud = [
        f"{name}={current[name]} ({what}; set {quiet})"
        for name, (quiet, what) in SERVER_LOG_QUIET.items()
        if name in current and current[name] != quiet
    ]
    if not loud:
        return []
    return [
        Warning(
            "PostgreSQL's log may write record values and search terms: " + "; ".join(loud),
            hint="Set these in postgresql.conf or with ALTER ROLE <app user> SET … "
            "(docs/operations.md, PostgreSQL の設定).",
            id="daicho.W003",
        )
    ]
