"""Settings for production: every secret and service from the environment, HTTPS only."""

import os

# Never fall back to embedded servers in production: a missing URL is an error.
os.environ.setdefault("DAICHO_EMBEDDED", "0")

from django.core.exceptions import ImproperlyConfigured

from daicho.settings.base import *

DEBUG = False


def _secret_key_is_weak(key: str) -> bool:
    """Django's own measure of a weak key (``check --deploy``'s security.W009: under 50
    characters, under 5 distinct ones, or its generated ``django-insecure-`` key), or a
    placeholder anybody can read: infra/env.example's ``change-me-…`` copied unchanged
    signs this deployment's sessions, messages and password-reset links with a key that
    is in the repository. A warning that ``check --deploy`` prints, when somebody runs it,
    did not stop such a process from serving; this refuses to start it."""
    return (
        len(key) < 50
        or len(set(key)) < 5
        or key.startswith("django-insecure-")
        or "change-me" in key.lower()
        or "changeme" in key.lower()
    )


if not env.str("SECRET_KEY", default=""):
    raise ImproperlyConfigured("SECRET_KEY must be set in production")
if _secret_key_is_weak(SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY is weak or a published placeholder: give at least 50 random characters,"
        ' e.g. python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )
# A wildcard answers any Host header: the hosts are BASE_DOMAIN, its sub-domains and the
# cities' own domains, listed.
if any("*" in host for host in ALLOWED_HOSTS):
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must list host names in production, not a wildcard (*): unset it for"
        " BASE_DOMAIN and .BASE_DOMAIN"
    )

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# __Host- cookies: a browser keeps them only as set by this very host over HTTPS, for the
# whole path and no wider domain. Every city's host shares the base domain: another host
# under it (a city's, a compromised one) cannot set or overwrite a city's session or CSRF
# cookie (cookie tossing). Django sets no Domain on them (SESSION_COOKIE_DOMAIN and
# CSRF_COOKIE_DOMAIN stay None).
SESSION_COOKIE_NAME = "__Host-daicho-session"
CSRF_COOKIE_NAME = "__Host-daicho-csrf"
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
