"""Checks every request to /api/ passes before any view reads it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from ledgers.fields.normalize import ANY_CONTROL_RE


class ApiUrlControlCharactersMiddleware:
    """400 ``ERROR_REQUEST_INVALID`` for a URL under /api/ whose path or query string holds
    a control character (U+0000–U+001F, U+007F), before any view reads it.

    No identifier (a code, a username, a token prefix, a record id) and no filter holds
    one, and a NUL reached PostgreSQL, which refuses it in text, as a server error that
    logged the statement: views checked their query strings one by one
    (``refuse_control_characters``), and the staff, department and token views did not
    (``/api/v1/staff/a%00b/``, ``?username=a%00b``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            where = None
            if ANY_CONTROL_RE.search(request.path_info):
                where = "path"
            elif any(
                ANY_CONTROL_RE.search(name) or any(ANY_CONTROL_RE.search(v) for v in values)
                for name, values in request.GET.lists()
            ):
                where = "query"
            if where is not None:
                return JsonResponse(
                    {
                        "code": "ERROR_REQUEST_INVALID",
                        "message": "入力内容に誤りがあります。",
                        "detail": {where: ["制御文字は指定できません。"]},
                    },
                    status=400,
                )
        return self.get_response(request)
