"""Checks every request to /api/ passes before any view reads it, and the request scope of
the API token its audit events name."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse

from daicho.views import api_error_json
from ledgers.audit.context import audit_token_scope
from ledgers.fields.normalize import ANY_CONTROL_RE


class ApiUrlCheckMiddleware:
    """411 ``ERROR_LENGTH_REQUIRED`` for a request under /api/ whose body comes chunked
    (``Transfer-Encoding``, no ``Content-Length``), which Django would read as empty;
    415 ``ERROR_UNSUPPORTED_MEDIA_TYPE`` for one whose body is compressed
    (``Content-Encoding`` other than ``identity``), which nothing here inflates.
    400 ``ERROR_REQUEST_INVALID`` for a URL under /api/ whose path or query string holds
    a control character (U+0000–U+001F, U+007F), or whose query string has more parameters
    than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` (Django's HTML 400 page before), before any view
    reads it.

    No identifier (a code, a username, a token prefix, a record id) and no filter holds
    one, and a NUL reached PostgreSQL, which refuses it in text, as a server error that
    logged the statement: views checked their query strings one by one
    (``refuse_control_characters``), and the staff, department and token views did not
    (``/api/v1/staff/a%00b/``, ``?username=a%00b``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get(
                "CONTENT_LENGTH"
            ):
                # gunicorn passes a chunked body on without a Content-Length, and Django
                # reads a body without one as empty: a chunked PATCH answered 200 having
                # changed nothing, a chunked create 「values は必須です」.
                return api_error_json(
                    "ERROR_LENGTH_REQUIRED",
                    "本文の長さ（Content-Length）を付けて送ってください。"
                    "分割転送（Transfer-Encoding: chunked）の本文は読めません。",
                    411,
                )
            coding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
            if coding not in ("", "identity"):
                # Nothing here inflates a body: a gzip one was read as text, and its 400
                # blamed the charset (「utf-8 として読めません（2バイト目）」).
                return api_error_json(
                    "ERROR_UNSUPPORTED_MEDIA_TYPE",
                    "圧縮した本文（Content-Encoding）は受け付けられません。圧縮せずに送ってください。",
                    415,
                )
            if ANY_CONTROL_RE.search(request.path_info):
                return _refused("path", "制御文字は指定できません。")
            try:
                params = request.GET.lists()
            except TooManyFieldsSent:
                # Django's own 400 for it is an HTML page, not the API's error shape.
                return _refused(
                    "query",
                    f"パラメーターが多すぎます（{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}個まで）。",
                )
            if any(
                ANY_CONTROL_RE.search(name) or any(ANY_CONTROL_RE.search(v) for v in values)
                for name, values in params
            ):
                return _refused("query", "制御文字は指定できません。")
        return self.get_response(request)


def _refused(where: str, message: str) -> JsonResponse:
    return api_error_json(
        "ERROR_REQUEST_INVALID", "入力内容に誤りがあります。", 400, {where: [message]}
    )


class ApiTokenAuditScopeMiddleware:
    """Each request starts with no API token for its audit events and leaves none behind
    (``ledgers.audit.context``): the token authentication sets it for the request, and a
    gunicorn thread serves one request after another, so the token of one must never name
    itself in the events of the next (a screen's, the same thread's)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with audit_token_scope():
            return self.get_response(request)
