"""Settings for production: every secret and service from the environment, HTTPS only."""

import os

# Never fall back to embedded servers in production: a missing URL is an error.
os.environ.setdefault("DAICHO_EMBEDDED", "0")

from django.core.exceptions import ImproperlyConfigured

from daicho.settings.base import *

DEBUG = False
if not env.str("SECRET_KEY", default=""):
    raise ImproperlyConfigured("SECRET_KEY must be set in production")

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
