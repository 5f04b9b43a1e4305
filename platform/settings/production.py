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
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
