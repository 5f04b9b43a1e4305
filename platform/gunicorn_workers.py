"""gunicorn's workers, answering what gunicorn refuses on its own in the API's error shape.

A request gunicorn cannot read never reaches Django: a request line over
``limit_request_line`` (4,094 bytes: 414), more than ``limit_request_fields`` header fields
(100) or one over ``limit_request_field_size`` (8,190 bytes: 431), a malformed request
line, method or header, an HTTP version it does not speak (400). Its worker's
``handle_error`` answered an English HTML page that quoted the offending line or header,
and logged the same text: the request line with its query string (a list filter holds a
name), a header with its value (an ``Authorization`` line missing its colon holds the
token). A client of the API, whose contract is that every error is
``{"code": "ERROR_…", "message": "…", "detail": {}}``, could not read the answer.

``--worker-class daicho.gunicorn_workers.Worker`` (every command that starts gunicorn:
infra/entrypoint.sh, infra/Procfile, platform/run.py, bench/api.py) gives gunicorn's own
sync worker with one thread and its gthread worker with more, as gunicorn chooses for
``sync``, each with a ``handle_error`` that

- answers in the API's error shape, as JSON with the API's headers (``Cache-Control:
  no-store`` as ``daicho.security.ApiNoStoreMiddleware`` sets it, and Django's security
  headers), when the request's path is under ``/api/``, and also when gunicorn did not
  get as far as the path (a request line too long to read, or no request line at all):
  the API has a contract for its errors and pages do not, so a request of unknown
  destination gets the contract's answer; its message is Japanese, which a person who
  typed an over-long URL reads too, where gunicorn's page was English;
- answers a page's path with gunicorn's own HTML page, without the text it quoted;
- quotes nothing the client sent, in the answer or in the log: the log line names the
  refusal, the client's address and, when gunicorn read them, the method and the path
  without its query string, through ``daicho.logs.redacted_path`` (a name typed where an
  id goes), as the access line of ``daicho.logs.GunicornLogger`` does.
"""

from __future__ import annotations

import ssl
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gunicorn import util
from gunicorn.http import errors
from gunicorn.http.message import Request
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.gthread import ThreadWorker as _GunicornThreadWorker
from gunicorn.workers.sync import SyncWorker as _GunicornSyncWorker

from daicho.logs import format_exception, redacted_path

API_PREFIX = "/api/"


@dataclass(frozen=True)
class Refusal:
    """What a request gunicorn refused is answered: its status and, under ``/api/``, the
    API's error code and Japanese message."""

    status: int
    reason: str
    code: str
    message: str


#: The server's own fault: under ``/api/``, ``daicho.views.SERVER_ERROR`` (Django's 500).
SERVER_ERROR = Refusal(500, "Internal Server Error", "ERROR_SERVER", "")
MALFORMED = Refusal(
    status=400,
    reason="Bad Request",
    code="ERROR_REQUEST_MALFORMED",
    message="要求を読み取れません。要求行とヘッダーを確認してください。",
)
URI_TOO_LONG = Refusal(
    status=414,
    reason="URI Too Long",
    code="ERROR_URI_TOO_LONG",
    message="URL が長すぎます。条件の多い検索は検索画面の API（POST）で送ってください。",
)
HEADERS_TOO_LARGE = Refusal(
    status=431,
    reason="Request Header Fields Too Large",
    code="ERROR_HEADERS_TOO_LARGE",
    message="ヘッダーが多すぎるか、大きすぎます。",
)
VERSION_INVALID = Refusal(
    status=400,
    reason="Bad Request",
    code="ERROR_REQUEST_MALFORMED",
    message="HTTP のバージョンが正しくありません。HTTP/1.1 で送ってください。",
)
EXPECTATION_FAILED = Refusal(
    status=417,
    reason="Expectation Failed",
    code="ERROR_EXPECTATION_FAILED",
    message="Expect ヘッダーは 100-continue のほかに対応していません。",
)
CODING_UNSUPPORTED = Refusal(
    status=501,
    reason="Not Implemented",
    code="ERROR_NOT_IMPLEMENTED",
    message="この Transfer-Encoding には対応していません。",
)
CONNECTION_REFUSED = Refusal(
    status=403,
    reason="Forbidden",
    code="ERROR_CONNECTION_REFUSED",
    message="この接続からの要求は受け付けられません。",
)

# gunicorn's statuses (gunicorn.workers.base.Worker.handle_error), in its order: the
# first class that matches answers.
_REFUSALS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Refusal], ...] = (
    # A header the application tried to send: its fault, not the client's.
    ((errors.InvalidResponseHeader, errors.InvalidResponseHeaderName), SERVER_ERROR),
    (errors.LimitRequestLine, URI_TOO_LONG),
    (errors.LimitRequestHeaders, HEADERS_TOO_LARGE),
    (errors.InvalidHTTPVersion, VERSION_INVALID),
    (errors.ExpectationFailed, EXPECTATION_FAILED),
    (errors.UnsupportedTransferCoding, CODING_UNSUPPORTED),
    ((errors.ForbiddenProxyRequest, ssl.SSLError), CONNECTION_REFUSED),
    (errors.ConfigurationProblem, SERVER_ERROR),
    (
        (
            errors.InvalidRequestLine,
            errors.InvalidRequestMethod,
            errors.InvalidHeader,
            errors.InvalidHeaderName,
            errors.InvalidProxyLine,
            errors.InvalidSchemeHeaders,
            errors.ObsoleteFolding,
            errors.InvalidH2CPreface,
            errors.InvalidChunkSize,
            errors.ChunkMissingTerminator,
            errors.InvalidChunkExtension,
        ),
        MALFORMED,
    ),
)

# gunicorn's own texts for the header limits (the only ones its parser raises them with).
_HEADER_LIMITS = frozenset(
    {"limit request headers fields", "limit request headers fields size", "max buffer headers"}
)


def refusal_of(exc: BaseException) -> Refusal | None:
    """How a request that raised ``exc`` is refused; None for a fault of the server's (any
    other exception: an application error gunicorn caught)."""
    return next((refusal for kinds, refusal in _REFUSALS if isinstance(exc, kinds)), None)


def described(exc: BaseException) -> str:
    """``exc`` for the log: its kind, and the sizes of a limit, never a text the client
    sent (gunicorn's own messages quote the request line or the header)."""
    name = type(exc).__name__
    if isinstance(exc, errors.LimitRequestLine) and isinstance(exc.max_size, int):
        return f"{name} ({int(exc.size)} > {exc.max_size} bytes)"
    if isinstance(exc, errors.LimitRequestHeaders) and str(exc) in _HEADER_LIMITS:
        return f"{name} ({exc})"
    return name


def request_read(req: Any, exc: BaseException) -> Request | None:
    """The request as far as gunicorn read it: the one it was handling, the one a header
    error names, or the one being parsed when the error was raised (a request whose line
    was read, then refused for its version or its headers, is never handed to
    ``handle_error``: its parser raised inside ``Request.__init__``)."""
    if isinstance(req, Request):
        return req
    named = getattr(exc, "req", None)
    if isinstance(named, Request):
        return named
    tb = exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("self")
        if isinstance(candidate, Request):
            return candidate
        tb = tb.tb_next
    return None


def is_api_or_unknown(path: str | None) -> bool:
    """Whether the answer is the API's: a path under ``/api/`` (as Django will read it,
    percent-escapes decoded), or none read."""
    return path is None or urllib.parse.unquote(path).startswith(API_PREFIX)


def api_answer(refusal: Refusal) -> bytes:
    """The whole HTTP answer: status line, the API's headers, the error shape in JSON."""
    from django.http import HttpRequest
    from django.middleware.clickjacking import XFrameOptionsMiddleware
    from django.middleware.security import SecurityMiddleware
    from django.utils.cache import add_never_cache_headers

    from daicho.views import SERVER_ERROR as SERVER_ERROR_BODY
    from daicho.views import api_error_json

    body = (
        SERVER_ERROR_BODY
        if refusal is SERVER_ERROR
        else {"code": refusal.code, "message": refusal.message, "detail": {}}
    )
    response = api_error_json(**body, status=refusal.status)
    add_never_cache_headers(response)
    # The security headers Django's middleware gives every answer (nosniff, the referrer
    # and opener policies, X-Frame-Options), from the same settings.
    request = HttpRequest()
    SecurityMiddleware(lambda _: response).process_response(request, response)
    XFrameOptionsMiddleware(lambda _: response).process_response(request, response)
    response["Content-Length"] = str(len(response.content))
    response["Connection"] = "close"
    status_line = f"HTTP/1.1 {refusal.status} {refusal.reason}\r\n".encode("ascii")
    return status_line + response.serialize_headers() + b"\r\n\r\n" + response.content


class ApiErrorsMixin:
    """``handle_error`` of the workers below (see the module's docstring)."""

    cfg: Any
    log: Any

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        started = datetime.now(UTC)
        addr = addr or ("", -1)  # a unix socket
        read = request_read(req, exc)
        path = read.path if read is not None else None
        where = f" {read.method} {redacted_path(path)}" if read is not None and path else ""
        refusal = refusal_of(exc)
        if refusal is None:
            refusal = SERVER_ERROR
            self.log.error(
                "Error handling request%s\n%s", where or " (no path read)", format_exception(exc)
            )
        else:
            self.log.warning(
                "Invalid request from ip=%s: %s %s%s", addr[0], refusal.status, described(exc),
                where,
            )  # fmt: skip
        if read is not None and path is not None and read.version is not None:
            environ = default_environ(read, client, self.cfg)
            environ["PATH_INFO"] = util.unquote_to_wsgi_str(path)
            environ["REMOTE_ADDR"] = addr[0]
            environ["REMOTE_PORT"] = str(addr[1])
            response = Response(read, client, self.cfg)
            response.status = f"{refusal.status} {refusal.reason}"
            self.log.access(response, read, environ, datetime.now(UTC) - started)
        try:
            if is_api_or_unknown(path):
                util.write_nonblock(client, api_answer(refusal))
            else:
                util.write_error(client, refusal.status, refusal.reason, "")
        except Exception:
            self.log.debug("Failed to send error message.")


class SyncWorker(ApiErrorsMixin, _GunicornSyncWorker):
    """gunicorn's sync worker (one request at a time), answering as ``ApiErrorsMixin``."""


class ThreadWorker(ApiErrorsMixin, _GunicornThreadWorker):
    """gunicorn's gthread worker (``--threads`` above 1), answering as ``ApiErrorsMixin``."""


class Worker:
    """``--worker-class daicho.gunicorn_workers.Worker``: ``ThreadWorker`` with more than
    one thread, ``SyncWorker`` with one, as gunicorn itself picks gthread for ``sync``.

    Naming ``SyncWorker`` with ``--threads 2`` would not do: gunicorn replaces any worker
    class whose name ends in ``SyncWorker`` by its own gthread worker when there are
    threads, without this ``handle_error``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        cfg = args[5] if len(args) > 5 else kwargs["cfg"]
        kind = ThreadWorker if cfg.threads > 1 else SyncWorker
        return kind(*args, **kwargs)

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        if cfg.threads > 1:
            ThreadWorker.check_config(cfg, log)
