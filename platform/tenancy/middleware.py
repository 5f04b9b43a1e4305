"""Choose the city from the host; answer health probes; refuse unknown and suspended hosts."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.http.request import split_domain_port
from django.template.loader import render_to_string
from django.utils.module_loading import import_string
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_tenant_domain_model, remove_www

from daicho import health
from daicho.caching import (
    TENANCY,
    LocalCache,
    access_counter,
    generations,
    generations_and_counts,
)
from daicho.views import api_error_json


@functools.cache
def _request_counters() -> Any:
    """``settings.REQUEST_RATE_COUNTERS``: a function of a request and the city's schema
    giving the rate counters (key, window in seconds, limit) that request will be checked
    against, which this middleware counts in its own round trip to Redis; none when the
    setting is empty."""
    path = getattr(settings, "REQUEST_RATE_COUNTERS", "")
    return import_string(path) if path else (lambda request, schema: [])


# host → Municipality, tagged with the TENANCY generation (bumped on every change of a
# municipality or a domain, see tenants.apps).
_hosts = LocalCache("hosts")


class MunicipalityMiddleware(TenantMainMiddleware):
    """django-tenants' host routing, with four additions.

    - ``/healthz`` and ``/readyz`` answer on every host, before any lookup, so that a
      load balancer probing by IP address gets an answer;
    - an unknown host gets a plain 404 page that names no city;
    - a suspended city gets a 403 page, whatever the path;
      (under ``/api/`` both are the API's error shape: its clients read a ``code``);
    - host → city is kept in process memory and checked against the TENANCY generation
      in Redis on every request (one ``MGET``, which also reads the city's access
      generation for the API's caches: ``request.access_generation``, and counts the
      request against the API's rate limits when it bears a token:
      ``request.rate_counts``, see ``REQUEST_RATE_COUNTERS``), and the
      connection keeps its ``search_path`` when the city is the one it already serves.
    """

    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        """The host as DNS reads it: lower case, without a port or the final dot of a fully
        qualified name (RFC 4343, RFC 1034), as ``ALLOWED_HOSTS`` already matched it.
        django-tenants looked the header up as sent, so ``Mitaka.example.jp`` or
        ``mitaka.example.jp.`` got the unknown-host page; domains are stored lower case
        (``tenants.services``)."""
        domain, _port = split_domain_port(request.get_host())
        return remove_www(domain)

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        probe = health.PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            if _is_api(request):
                return _unknown_host_api_answer()
            return HttpResponseNotFound()
        known = _hosts.peek(hostname)
        counters = [TENANCY] + ([access_counter(known.schema_name)] if known else [])
        # Counted here for a host already known (its city's schema names the keys); for
        # one not known yet, with the city's access generation once the city is found.
        rate_counters = _request_counters()(request, known.schema_name) if known else []
        if rate_counters:
            # The API's rate counters for this request go in the same round trip.
            (tenancy, *access), request.rate_counts = generations_and_counts(  # type: ignore[attr-defined]
                counters, rate_counters
            )
        else:
            tenancy, *access = generations(*counters)
        tenant = _hosts.get(hostname, tenancy)
        if tenant is None:
            connection.set_schema_to_public()
            domain_model = get_tenant_domain_model()
            try:
                tenant = self.get_tenant(domain_model, hostname)
            except domain_model.DoesNotExist:
                return self.no_tenant_found(request, hostname)
            tenant.domain_url = hostname
            _hosts.put(hostname, tenancy, tenant)
        if known is None or known.schema_name != tenant.schema_name:
            # Another thread may have changed the entry since the peek: read this city's,
            # and count the request's rate counters in this city (their keys name it).
            late = _request_counters()(request, tenant.schema_name)
            if late:
                access, request.rate_counts = generations_and_counts(  # type: ignore[attr-defined]
                    [access_counter(tenant.schema_name)], late
                )
            else:
                access = generations(access_counter(tenant.schema_name))
        request.tenant = tenant  # type: ignore[attr-defined]
        request.access_generation = access[0]  # type: ignore[attr-defined]
        _use_tenant(tenant)
        self.setup_url_routing(request)
        if tenant.is_suspended:
            if _is_api(request):
                return api_error_json(
                    "ERROR_MUNICIPALITY_SUSPENDED",
                    f"{tenant.name} の台帳システムは、運用者により一時的に利用停止されています。",
                    403,
                )
            return HttpResponse(
                render_to_string("daicho/suspended.html", {"municipality": tenant}),
                status=403,
            )
        return None

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        if _is_api(request):
            return _unknown_host_api_answer()
        return HttpResponse(render_to_string("daicho/unknown_host.html"), status=404)


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _unknown_host_api_answer() -> JsonResponse:
    """Like the page, it names no city."""
    return api_error_json(
        "ERROR_UNKNOWN_HOST",
        "このアドレスで提供されている台帳システムはありません。アドレスをご確認ください。",
        404,
    )


def _use_tenant(tenant: object) -> None:
    """``connection.set_tenant``, with the session's ``search_path`` set on return: kept
    when it is already the right one (django-tenants forgets it on close and on rollback),
    set at once otherwise."""
    before = connection.search_path_set_schemas
    connection.set_tenant(tenant)
    if before is not None and before == connection._get_cursor_search_paths():
        connection.search_path_set_schemas = before
    else:
        # Set it now rather than at the first ORM query: with host, token and policy cached
        # a request's first statement may run on the raw connection (the records service's
        # prepared statements), which would otherwise see the city served last.
        with connection.cursor():
            pass
