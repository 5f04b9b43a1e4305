"""Security headers on every page, the ones the city middleware answers itself included
(unknown host, suspended city), and the web UI's Content-Security-Policy."""

from __future__ import annotations

from django.test import Client, override_settings

from tenants.models import Municipality
from tenants.services import municipality_resume, municipality_suspend
from tests.conftest import City


def test_login_page_has_a_content_security_policy(mitaka: City) -> None:
    response = Client().get("/accounts/login/", HTTP_HOST=mitaka.domain)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    # JSON answers and the API's docs page (Swagger UI starts with an inline script) have none.
    assert "Content-Security-Policy" not in Client().get("/api/docs/", HTTP_HOST=mitaka.domain)


PROD_SECURITY = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
}


def test_suspended_city_page_gets_the_same_headers_as_any_page(musashino: City) -> None:
    municipality_suspend(actor=None, municipality=musashino.municipality, reason="r")
    try:
        with override_settings(**PROD_SECURITY):
            https = Client().get(
                "/accounts/login/", HTTP_HOST=musashino.domain, HTTP_X_FORWARDED_PROTO="https"
            )
            plain = Client().get("/accounts/login/", HTTP_HOST=musashino.domain)
    finally:
        municipality_resume(
            actor=None, municipality=Municipality.objects.get(schema_name="musashino")
        )
    assert https.status_code == 403
    assert https.headers.get("X-Frame-Options") == "DENY"
    assert https.headers.get("X-Content-Type-Options") == "nosniff"
    assert "Strict-Transport-Security" in https.headers
    # Plain HTTP is redirected to HTTPS on every other page of the city.
    assert plain.status_code == 301


def test_unknown_host_page_has_frame_options(cities: dict, db: None) -> None:
    response = Client().get("/", HTTP_HOST="nosuch.localhost")
    assert response.status_code == 404
    assert response.headers.get("X-Frame-Options") == "DENY"


def test_the_probes_answer_plain_http_under_the_https_redirect(mitaka: City) -> None:
    with override_settings(**PROD_SECURITY, SECURE_REDIRECT_EXEMPT=[r"^healthz$", r"^readyz$"]):
        assert Client().get("/healthz", HTTP_HOST="10.0.0.5").status_code == 200
