"""Choose the city from the host; answer health probes; refuse unknown and suspended hosts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware

from daicho import health


class MunicipalityMiddleware(TenantMainMiddleware):
    """django-tenants' host routing, with three additions.

    - ``/healthz`` and ``/readyz`` answer on every host, before any lookup, so that a
      load balancer probing by IP address gets an answer;
    - an unknown host gets a plain 404 page that names no city;
    - a suspended city gets a 403 page, whatever the path.
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        probe = health.PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        response = super().process_request(request)
        if response is not None:
            return response
        tenant = request.tenant  # type: ignore[attr-defined]
        if tenant.is_suspended:
            return HttpResponse(
                render_to_string("daicho/suspended.html", {"municipality": tenant}),
                status=403,
            )
        return None

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        return HttpResponse(render_to_string("daicho/unknown_host.html"), status=404)
