"""The city's front page."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "daicho/home.html", {"municipality": request.tenant})  # type: ignore[attr-defined]
