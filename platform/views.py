"""The city's front page, and the server-error answer."""

import sys
from typing import Any

import psycopg
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.cache import never_cache

#: What a client of the API reads when the server fails: the API's error shape.
SERVER_ERROR = {
    "code": "ERROR_SERVER",
    "message": "サーバーで問題が起きました。しばらく待ってから再度お試しください。"
    "続く場合は管理者に連絡してください。",
    "detail": {},
}


#: What a client of the API reads when the database is not there for now, or gave up its
#: transaction for another's sake: the same request may be sent again after ``Retry-After``.
SERVICE_UNAVAILABLE = {
    "code": "ERROR_SERVICE_UNAVAILABLE",
    "message": "データベースが一時的に応答しないため、処理できませんでした。"
    "しばらく待ってから再度お試しください。",
    "detail": {},
}
SERVICE_UNAVAILABLE_RETRY_AFTER = 5

#: SQLSTATEs of such a failure: a serialization failure and a deadlock (the transaction was
#: rolled back), too many connections, a server shutting down, restarting or in recovery;
#: and every connection exception (class 08).
_UNAVAILABLE_STATES = frozenset({"40001", "40P01", "53300", "57P01", "57P02", "57P03"})


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or the psycopg error behind Django's wrapper of it) says the
    database is unavailable for now rather than that the request went wrong: one of
    ``_UNAVAILABLE_STATES``, a connection exception, or a connection that failed or was
    lost (an ``OperationalError`` with no SQLSTATE: the server never answered). A statement
    cancelled (a timeout) is not: the same request would meet it again."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, psycopg.Error):
            state = exc.sqlstate
            if state is None:
                return isinstance(exc, psycopg.OperationalError)
            return state in _UNAVAILABLE_STATES or state.startswith("08")
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return False


def api_error_json(code: str, message: str, status: int, detail: Any = None) -> JsonResponse:
    """An answer in the API's error shape (``{"code", "message", "detail"}``, as
    ``ledgers.api.errors.error_response`` gives DRF's views) from plain Django: the
    middlewares, the URL resolver's 404 and the server error, which no DRF view reaches."""
    return JsonResponse(
        {"code": code, "message": message, "detail": detail or {}},
        status=status, json_dumps_params={"ensure_ascii": False},
    )  # fmt: skip


# It names the staff member signed in: no cache keeps it (a shared counter PC's browser
# showed it after sign-out), as every page of a signed-in session.
@never_cache
@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "daicho/home.html", {"municipality": request.tenant})  # type: ignore[attr-defined]


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: Django's page, but under ``/api/`` the API's error shape
    (``{"code", "message", "detail"}``), which every client of the contract reads, not an
    HTML page it cannot. Nothing of the failure is in the answer (it is in the log).

    Under ``/api/`` a database unavailable for now (``database_unavailable``) is 503
    ``ERROR_SERVICE_UNAVAILABLE`` with ``Retry-After``: it answered 500 like a fault of ours,
    and a client could not tell that the request may be sent again a moment later."""
    if request.path.startswith("/api/"):
        if database_unavailable(sys.exc_info()[1]):
            answer = api_error_json(**SERVICE_UNAVAILABLE, status=503)
            answer["Retry-After"] = str(SERVICE_UNAVAILABLE_RETRY_AFTER)
            return answer
        return api_error_json(**SERVER_ERROR, status=500)
    return defaults.server_error(request)
