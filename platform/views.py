"""The city's front page, and the server-error answer."""

from typing import Any

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
    HTML page it cannot. Nothing of the failure is in the answer (it is in the log)."""
    if request.path.startswith("/api/"):
        return api_error_json(**SERVER_ERROR, status=500)
    return defaults.server_error(request)
