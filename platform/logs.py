"""Log records never carry what PostgreSQL quoted back in an error.

A database error's text is the server's report, and PostgreSQL quotes the data it
failed on: a unique violation's ``DETAIL: Key (…)=(山田 花子) already exists``, a check
constraint's ``Failing row contains (…)``, a JSON value's ``CONTEXT: JSON data, line 1:
…`` (the record being written), ``invalid input syntax for type …: "…"``. Any server
error that came from the database (a request's 500 logged by ``django.request``, a failed
Celery task) printed it with its traceback. The API refuses every hostile input it knows
of before PostgreSQL sees it (``tests/api/test_hostile_input.py``); this filter is the
net under that, on every handler: a database error (psycopg's or Django's wrapper of it),
wherever it is in the chain of a record's exception or among its arguments, is written as
its type, SQLSTATE and the names of the table, column and constraint only: no value.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType
from typing import Any

import psycopg
from django.db import Error as DjangoDatabaseError

_DATABASE_ERRORS = (psycopg.Error, DjangoDatabaseError)
# What Python's traceback module writes between the exceptions of a chain.
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


def _database_cause(exc: BaseException) -> psycopg.Error | None:
    """The psycopg error behind ``exc`` (itself, or what Django's wrapper was raised from)."""
    return next((e for e in _database_errors(exc) if isinstance(e, psycopg.Error)), None)


def redacted(exc: BaseException) -> str:
    """``exc`` in one line: its type, and for a database error only the SQLSTATE and the
    schema names PostgreSQL gave (never its message, detail, context or hint)."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if not isinstance(exc, _DATABASE_ERRORS):
        text = f"{name}: {exc}"
        return _withheld(text, _marks(_database_errors(exc))) or text
    parts = [name, "(message withheld: it may quote values)"]
    cause = _database_cause(exc)
    if cause is not None:
        diag = cause.diag
        parts.append(f"sqlstate={cause.sqlstate}")
        parts += [
            f"{label}={value}"
            for label, value in (
                ("table", diag.table_name),
                ("column", diag.column_name),
                ("constraint", diag.constraint_name),
            )
            if value
        ]
    return " ".join(parts)


def _database_errors(exc: BaseException | None) -> list[BaseException]:
    """The database errors in ``exc``'s chain (causes and contexts), outermost first."""
    found: list[BaseException] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _DATABASE_ERRORS):
            found.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return found


def _has_database_error(exc: BaseException | None) -> bool:
    return bool(_database_errors(exc))


def format_exception(exc: BaseException) -> str:
    """The traceback as ``logging`` writes it, database errors' texts withheld."""
    chain: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link: str | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    lines: list[str] = []
    for item, link in reversed(chain):
        tb: TracebackType | None = item.__traceback__
        if tb is not None:
            lines.append("Traceback (most recent call last):\n")
            lines += traceback.format_tb(tb)
        if isinstance(item, _DATABASE_ERRORS):
            lines.append(redacted(item) + "\n")
        else:
            text = "".join(traceback.format_exception_only(type(item), item))
            # Another error whose text took a database error's (``f"…: {exc}"``).
            lines.append(_withheld(text, _marks(_database_errors(exc))) or text)
        if link is not None:
            lines.append(f"\n{link}\n\n")
    return "".join(lines).rstrip("\n")


def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """``sys.excepthook`` of ``manage.py``: a command that dies on a database error prints
    its traceback as the logs write it (``format_exception``: the error's text withheld).

    Python printed it whole: a migration failing on a row (``migrate_schemas``, whose
    output the operator reads and the migration Job's log keeps) quoted PostgreSQL's
    ``DETAIL: Key (…)=(山田 花子)``. Any other error prints as Python prints it."""
    if not _has_database_error(exc):
        sys.__excepthook__(kind, exc, tb)
        return
    sys.stderr.write(format_exception(exc) + "\n")


class DatabaseErrorFilter(logging.Filter):
    """On a handler: a record whose exception (or an argument) is or holds a database
    error is written with that error's text withheld (``redacted``), and so is an argument
    that is that text already made a string (Celery's failure line: "Task … raised
    unexpected: %(exc)s" with the exception's ``repr``, its traceback as text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        errors = _database_errors(record.exc_info[1]) if record.exc_info else []
        if errors:
            record.exc_text = format_exception(record.exc_info[1])  # type: ignore[index,arg-type]
        if isinstance(record.args, tuple):
            errors += [a for a in record.args if isinstance(a, BaseException)]
        elif isinstance(record.args, dict):
            errors += [a for a in record.args.values() if isinstance(a, BaseException)]
        if isinstance(record.msg, BaseException):
            errors.append(record.msg)
        errors = [e for exc in errors for e in _database_errors(exc)]
        if not errors:
            return True
        marks = _marks(errors)

        def safe(value: Any) -> Any:
            if isinstance(value, BaseException) and _has_database_error(value):
                return redacted(value)
            if isinstance(value, str):
                return _withheld(value, marks) or value
            return value

        if isinstance(record.args, tuple):
            record.args = tuple(safe(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: safe(value) for key, value in record.args.items()}
        message = safe(record.msg)
        if message is not record.msg:
            record.msg, record.args = message, ()
        return True


def _marks(errors: list[BaseException]) -> dict[str, str]:
    """The first line of each database error's text (where it was made a string) and what
    is written instead."""
    marks = {str(e).split("\n", 1)[0].strip(): redacted(e) for e in errors}
    marks.pop("", None)
    return marks


def _withheld(text: str, marks: dict[str, str]) -> str | None:
    """``text`` up to the first database error's text it holds, that error redacted; None
    when it holds none."""
    for mark, replacement in marks.items():
        at = text.find(mark)
        if at >= 0:
            return text[:at] + replacement
    return None


def install(logger: logging.Logger) -> None:
    """Add the filter to every handler of ``logger`` (Celery's, which replaces Django's)."""
    for handler in logger.handlers:
        if not any(isinstance(f, DatabaseErrorFilter) for f in handler.filters):
            handler.addFilter(DatabaseErrorFilter())


# --- request paths ----------------------------------------------------------------------

# A path segment of plain ASCII (RFC 3986's unreserved characters): every route's own
# words, codes, usernames and record ids.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9._~-]*")
# A record's id as our routes give it (a UUID, with or without its hyphens).
_UUID_SEGMENT = re.compile(r"[0-9A-Fa-f]{8}(-?[0-9A-Fa-f]{4}){3}-?[0-9A-Fa-f]{12}")
# A segment with this many digits or more is a number someone typed (a My Number, a
# resident number, a phone number, a birth date, a postal code), unless it is a UUID.
_TYPED_NUMBER_DIGITS = 5
REDACTED_SEGMENT = "…"


def _loggable(parts: list[str], at: int) -> bool:
    part = parts[at]
    if not _PLAIN_SEGMENT.fullmatch(part):
        return False
    if _UUID_SEGMENT.fullmatch(part):
        return True
    if at >= 3 and parts[at - 1] == "records" and parts[at - 3] == "ledgers":
        # Where a record's id goes only an id (or the bulk route's word) is ours.
        return part in ("", "bulk")
    return sum(c.isdigit() for c in part) < _TYPED_NUMBER_DIGITS


def redacted_path(path: str) -> str:
    """``path`` with each segment that may be what someone typed replaced by ``…``: a name
    typed where a record's id goes (``/api/v1/ledgers/dv/records/山田花子/``), answered 404,
    must not reach the logs, nor a number typed anywhere (``…/records/123456789012/``, a
    My Number; ``/api/v1/staff/09012345678/``) nor a name in Latin letters where a
    record's id goes (``…/records/yamada.hanako/``). A segment is written as it is only if
    it is plain ASCII and holds fewer than five digits, or is a UUID; where a record's id
    goes, only a UUID or ``bulk``. Our routes' own words, ledger and department codes and
    generations are such segments; a longer number of ours (a token's prefix, a staff
    number used as a username) is written ``…`` too."""
    parts = path.split("/")
    return "/".join(
        part if _loggable(parts, at) else REDACTED_SEGMENT for at, part in enumerate(parts)
    )


# An absolute URL inside a log line's text, up to the next space.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s]*")


def redacted_url(url: str) -> str:
    """``url``'s scheme and host, and its path through ``redacted_path``; no query string
    and no fragment."""
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    host = host.split("?", 1)[0].split("#", 1)[0]
    path = path.split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}://{host}" + (redacted_path("/" + path) if slash else "")


class RequestPathFilter(logging.Filter):
    """On a handler: Django's request lines (``Not Found: <path>``, ``Internal Server
    Error: <path>``, a refused host's or a CSRF failure's) write their request's path
    through ``redacted_path``, and an address they quote (the referrer a CSRF failure
    refused) through ``redacted_url``."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path", None)
        if isinstance(path, str) and isinstance(record.args, tuple):
            safe = redacted_path(path)
            # Django writes the path with its non-ASCII characters escaped (\\u5c71…).
            forms = {path, path.encode("unicode_escape").decode("ascii")}
            record.args = tuple(
                safe if arg in forms else _URL.sub(lambda m: redacted_url(m.group()), arg)
                if isinstance(arg, str) else arg
                for arg in record.args
            )  # fmt: skip
        return True


try:
    from gunicorn.glogging import Logger as _GunicornLogger
    from gunicorn.http.errors import NoMoreData, ParseException

    _PARSER_ERRORS: tuple[type[BaseException], ...] = (NoMoreData, ParseException)
except ImportError:  # pragma: no cover - gunicorn is a dependency of the web process only
    _GunicornLogger = object  # type: ignore[assignment,misc]
    _PARSER_ERRORS = ()


class GunicornLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
    """gunicorn's logger (``--logger-class daicho.logs.GunicornLogger``) whose access
    lines give the path through ``redacted_path`` and never a query string (which may hold
    a search for a name): ``%(U)s`` redacted, ``%(q)s`` and ``%(r)s``'s query dropped, the
    referrer without its query."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        path = redacted_path(environ.get("PATH_INFO") or "")
        atoms["U"] = path
        atoms["q"] = "-"
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}"
        referrer = environ.get("HTTP_REFERER")
        if referrer:
            atoms["f"] = atoms["{referer}i"] = redacted_path(referrer.split("?", 1)[0])
        return atoms

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """At debug level gunicorn writes a client that left mid-request as "Ignored
        premature client disconnection. %s" with the parser's error, whose text is the
        bytes read so far (the request line, its query string, headers): only the error's
        kind is written. And its ``pre_request`` hook writes each request's method and
        path ("%s %s"): the path goes through ``redacted_path``. (Its refusals of requests
        it cannot read are written by ``daicho.gunicorn_workers``.)"""
        if msg == "%s %s" and len(args) == 2 and str(args[1]).startswith("/"):
            args = (args[0], redacted_path(str(args[1])))
        super().debug(msg, *(_kind_only(arg) for arg in args), **kwargs)


def _kind_only(arg: Any) -> Any:
    """A parser error of gunicorn's as its class name (its text quotes the request)."""
    return type(arg).__name__ if isinstance(arg, _PARSER_ERRORS) else arg
