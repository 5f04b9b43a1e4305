"""Base settings, read from the environment once (12-factor).

With no ``DATABASE_URL`` the embedded PostgreSQL under ``var/pg`` is started on demand and
used; with no ``REDIS_URL`` the embedded Redis. See ``daicho.embedded``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from daicho import embedded

# The `daicho` package folder (platform/ in the repository, daicho/ when installed).
PLATFORM_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = PLATFORM_DIR.parent
VAR_DIR = embedded.VAR_DIR

env = environ.Env()
environ.Env.read_env(REPO_ROOT / ".env", overwrite=False)


def _local_secret_key() -> str:
    """A random key kept under var/ so that sessions survive restarts of `make run`."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()
DEBUG = env.bool("DEBUG", default=False)

# The public host (operators) is BASE_DOMAIN; each city is served on <slug>.BASE_DOMAIN
# or any further Domain row.
BASE_DOMAIN = env.str("BASE_DOMAIN", default="localhost")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications ---------------------------------------------------------------------

SHARED_APPS = [
    # Operators in public; staff of each city in its own schema. First: its management
    # commands (createsuperuser, changepassword, create_tenant_superuser) take the place of
    # Django's and django-tenants' own, which leave no trace (docs/operations.md).
    "daicho.accounts",
    # Before django_tenants: its commands that change cities outside tenants.services
    # (create_tenant, clone_tenant, create_domain, delete_domain, rename_schema) are
    # replaced by refusals (tenants/management/commands).
    "tenants",
    "django_tenants",
    "template_market",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Sign-in security: operators' devices and lockouts live in public.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
]

TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "daicho.accounts",
    "ledgers",
    # Sign-in security: each city's staff have their devices and lockouts in its schema.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
]

INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Municipality"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "daicho.urls_public"
ROOT_URLCONF = "daicho.urls_tenant"
AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    # First the security headers, HTTPS redirect (the probes exempt: SECURE_REDIRECT_EXEMPT)
    # and page policy, so that the pages the city middleware answers itself (unknown host,
    # suspended city) get them too.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "daicho.security.ContentSecurityPolicyMiddleware",
    # The API's answers (personal data) are kept by no cache: Cache-Control: no-store.
    "daicho.security.ApiNoStoreMiddleware",
    # Then: chooses the city (schema and URLconf) from the host, answers health probes,
    # refuses unknown (404) and suspended (403) cities.
    "daicho.tenancy.middleware.MunicipalityMiddleware",
    # A URL under /api/ holding a control character (a NUL reached PostgreSQL), or too many
    # query parameters: 400 in the API's error shape.
    "ledgers.api.middleware.ApiUrlCheckMiddleware",
    # The API token a request acts with, named in its audit events: one request's only.
    "ledgers.api.middleware.ApiTokenAuditScopeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The web UI's middleware (daicho.accounts.ui_middleware: Django's, django-otp's and
    # ours) is the original's, stepped over by API requests bearing a token.
    "daicho.accounts.ui_middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "daicho.accounts.ui_middleware.CsrfViewMiddleware",
    "daicho.accounts.ui_middleware.AuthenticationMiddleware",
    # request.user.is_verified(): signed in with a second factor in this session.
    "daicho.accounts.ui_middleware.OTPMiddleware",
    "daicho.accounts.ui_middleware.MessageMiddleware",
    # Signs out idle sessions, sends staff whose password someone else chose to change it,
    # then staff of a city that requires 2FA to enrolment.
    "daicho.accounts.ui_middleware.SessionTimeoutMiddleware",
    "daicho.accounts.ui_middleware.PasswordChangeRequiredMiddleware",
    "daicho.accounts.ui_middleware.TwoFactorRequiredMiddleware",
    # Lets the next sign-in attempt of a username from an address go once this request's
    # is answered (daicho.accounts.services.sign_in_attempt_begin).
    "daicho.accounts.middleware.SignInAttemptMiddleware",
    # Last: turns a lockout flagged during authentication into the lockout page.
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PLATFORM_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "daicho.wsgi.application"
ASGI_APPLICATION = "daicho.asgi.application"

# --- Database -------------------------------------------------------------------------

# Production images set DAICHO_EMBEDDED=0 so that a missing URL fails instead.
EMBEDDED_SERVICES = env.bool("DAICHO_EMBEDDED", default=True)


def _service_url(name: str, start_embedded: Callable[[], str]) -> str:
    url = env.str(name, default="")
    if url:
        return url
    if not EMBEDDED_SERVICES:
        raise ImproperlyConfigured(f"{name} must be set when DAICHO_EMBEDDED=0")
    return start_embedded()


DATABASE_URL = _service_url("DATABASE_URL", embedded.postgres_url)
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"].update(
    ENGINE="django_tenants.postgresql_backend",
    # Persistent connections with a bounded lifetime: a new connection per request cut
    # throughput eightfold, and one that lives for ever grows its catalog cache with
    # every city schema it touches.
    CONN_MAX_AGE=env.int("DB_CONN_MAX_AGE", default=300),
    CONN_HEALTH_CHECKS=True,
)
# No JIT compilation: queries here are short, and PostgreSQL compiles one whose estimated
# cost is high (a search over a million records) for tens of milliseconds before running it.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "options", env.str("DB_SESSION_OPTIONS", default="-c jit=off")
)
# A database that does not answer fails a connection in DB_CONNECT_TIMEOUT seconds (libpq
# waits for ever by default: a server that accepted and said nothing, in a failover or
# behind a path that drops replies, held every request's thread and /readyz's). TCP
# keepalives find a connection whose server vanished without a word (a failover, a
# firewall that forgets idle connections) in about a minute instead of TCP's ~15 minutes:
# the health check before a request's first query then sees the error on the socket.
DATABASES["default"]["OPTIONS"].update(
    {
        "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=5),
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }
)
# The records service's write statements run as server-side prepared statements, once per
# connection (platform/db/base.py). A connection path that cannot keep them (a pooler in
# transaction mode, which the city's search_path rules out anyway) turns them off here.
if not env.bool("DB_PREPARED_STATEMENTS", default=True):
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
# django-tenants' backend extends this one: Django's, with a health check that needs no
# round trip on an idle connection nothing was sent to (platform/db/base.py).
ORIGINAL_BACKEND = "daicho.db"
# Issue `SET search_path` only when the schema changes, not on every cursor: it was a
# third of the round trips of a record write.
TENANT_LIMIT_SET_CALLS = True
# migrate_schemas migrates only the cities with a pending migration (one query reads every
# city's django_migrations); tenants/migration_executor.py. django-tenants reads EXECUTOR.
os.environ.setdefault("EXECUTOR", "pending")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and Celery ----------------------------------------------------------

REDIS_URL = _service_url("REDIS_URL", embedded.redis_url)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Every key carries the current schema: one city never reads another's entries.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="daicho"),
    }
}

CELERY_BROKER_URL = REDIS_URL
# Redis, through a backend that keeps of a failed task its state and error type only, never
# the error's text or traceback (workers/results.py); nor the task's arguments.
CELERY_RESULT_BACKEND = f"workers.results:ResultBackend+{REDIS_URL}"
CELERY_RESULT_EXTENDED = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# kombu waits for ever on a Redis that accepted and says nothing (its socket timeout is
# None): a write's commit that kicked the webhook dispatch, or a beat round, hung with it.
# Above the workers' BRPOP wait (1 s), as kombu asks.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 5}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")


def celery_queues(
    default: str, webhooks: str
) -> tuple[tuple[Queue, ...], dict[str, dict[str, str]]]:
    """The queues a worker consumes (both, taken in turn) and the routes to them: webhook
    deliveries on a queue of their own. On one queue, one city's deliveries to a receiver
    that answers slowly (5 s each, thousands queued by one bulk write) held back every
    city's audit sealing, daily anchor and key purge behind them, for hours."""
    return (Queue(default), Queue(webhooks)), {"ledgers.webhooks.tasks.*": {"queue": webhooks}}


CELERY_TASK_DEFAULT_QUEUE = "celery"
WEBHOOK_QUEUE = "webhooks"
CELERY_TASK_QUEUES, CELERY_TASK_ROUTES = celery_queues(CELERY_TASK_DEFAULT_QUEUE, WEBHOOK_QUEUE)

# --- Files ----------------------------------------------------------------------------

# "local" (files under FILES_ROOT) or "s3" (any S3-compatible endpoint). Either way every
# city's files live under a prefix of their own (its schema name).
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="local")
FILES_ROOT = Path(env.str("FILES_ROOT", default=str(VAR_DIR / "files")))
# Files on local disk are the owner's and its group's (web and worker share them), never
# every account's on the machine: Django's defaults under the usual umask made them 0644 in
# folders of 0755, so any local account read a city's attachments.
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="ap-northeast-1")
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = 300
AWS_S3_SIGNATURE_VERSION = "s3v4"


def _anchor_lock() -> tuple[int, str]:
    days = env.int("AUDIT_ANCHOR_LOCK_DAYS", default=0)
    mode = env.str("AUDIT_ANCHOR_LOCK_MODE", default="COMPLIANCE").upper()
    if days < 0 or days > 36500:
        raise ImproperlyConfigured("AUDIT_ANCHOR_LOCK_DAYS must be a number of days, 0 to 36500")
    if mode not in ("COMPLIANCE", "GOVERNANCE"):
        raise ImproperlyConfigured('AUDIT_ANCHOR_LOCK_MODE must be "COMPLIANCE" or "GOVERNANCE"')
    if days and STORAGE_BACKEND != "s3":
        raise ImproperlyConfigured(
            "AUDIT_ANCHOR_LOCK_DAYS needs STORAGE_BACKEND=s3 (S3 Object Lock); local files"
            " cannot be locked"
        )
    return days, mode


# Audit anchor files under S3 Object Lock (docs/audit.md, "Anchors"; docs/operations.md):
# each daily file is retained for AUDIT_ANCHOR_LOCK_DAYS days (0: not locked) in
# AUDIT_ANCHOR_LOCK_MODE: COMPLIANCE (nobody, the application's own keys included, can
# delete it or shorten its retention) or GOVERNANCE (a principal allowed to bypass can:
# for trials). The bucket must have been created with Object Lock enabled.
AUDIT_ANCHOR_LOCK_DAYS, AUDIT_ANCHOR_LOCK_MODE = _anchor_lock()

if STORAGE_BACKEND == "s3":
    _default_storage = {"BACKEND": "daicho.storage.TenantS3Storage"}
else:
    _default_storage = {
        "BACKEND": "daicho.storage.TenantFileSystemStorage",
        "OPTIONS": {"location": str(FILES_ROOT)},
    }

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Internationalisation -------------------------------------------------------------

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
# Japanese for the messages DRF's and Django's catalogues lack or get wrong (these come first).
LOCALE_PATHS = [PLATFORM_DIR / "locale"]
USE_TZ = True

# --- Security -------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# The web UI's pages (daicho.security): nothing from elsewhere, no script, forms only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'none'"
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-in security -----------------------------------------------------------------
# docs/sign-in.md explains each choice; the city's own rules (2FA required, idle timeout)
# are the CitySecuritySettings row in its schema.

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username+IP before any password is checked. It is
    # axes' AxesStandaloneBackend, except that a call without a request is passed on.
    "daicho.accounts.backends.SignInLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_REDIRECT_URL = "/"

# The settings module decides the default: on everywhere but on a developer's machine
# and in the tests.
_SETTINGS_MODULE = os.environ.get("DJANGO_SETTINGS_MODULE", "")
_RELAXED = _SETTINGS_MODULE in {"daicho.settings.local", "daicho.settings.test"}
# Operators need a second factor for the admin on the public host.
OPERATOR_REQUIRE_2FA = env.bool("OPERATOR_REQUIRE_2FA", default=not _RELAXED)
# Idle timeout of the operators' sessions (a city's own is in CitySecuritySettings).
OPERATOR_SESSION_TIMEOUT_MINUTES = env.int("OPERATOR_SESSION_TIMEOUT_MINUTES", default=30)
# Reverse proxies in front of Django that append to X-Forwarded-For (1 behind the
# Kubernetes ingress); 0 takes REMOTE_ADDR. Used for lockouts and audit events.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)


def _totp_issuer(device: object) -> str:
    """The name authenticator apps show for an entry: the city's (or the operators')."""
    from django.db import connection

    if connection.schema_name == PUBLIC_SCHEMA_NAME:
        return "Daicho 運用管理"
    name = getattr(getattr(connection, "tenant", None), "name", "")
    return f"Daicho {name}" if name else "Daicho"


OTP_TOTP_ISSUER = _totp_issuer
OTP_TOTP_THROTTLE_FACTOR = 1  # wait 1, 2, 4, 8 … seconds after successive wrong codes
OTP_STATIC_THROTTLE_FACTOR = 1

# django-axes, database handler: its tables are in each schema, so lockouts are per city.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The lock lasts AXES_COOLOFF_MINUTES from the failure that set it; retrying does not
# extend it (staff are told when to come back).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "daicho.accounts.views.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# The client's address as the lockout counts it: an IPv6 client by its /64 (one subscriber
# holds a whole /64), as the per-address limit below counts it.
AXES_CLIENT_IP_CALLABLE = "daicho.accounts.network.lockout_address"
# Sign-ins are in the audit trail; axes keeps only its attempt counters.
AXES_DISABLE_ACCESS_LOG = True
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken", "otp_token"]
AXES_VERBOSE = False
# Failed sign-ins from one client address across usernames (password spraying: one
# password against many usernames, a few times each, never trips the lockout above).
# Counted per city in Redis as distinct usernames failed (a username that then signs in
# from the address is forgiven) within AXES_COOLOFF_MINUTES; at the limit the address is
# refused for AXES_COOLOFF_MINUTES (daicho.accounts.services.sign_in_address_failure_record).
# 0 turns it off.
SIGN_IN_ADDRESS_FAILURE_LIMIT = env.int("SIGN_IN_ADDRESS_FAILURE_LIMIT", default=30)
# A username that signed in from an address within this many days is not refused by that
# address's lock (its own per-username lockout still holds): one colleague spraying
# usernames from the office's shared address no longer locks out the whole office.
# 0: every username is refused while the address is locked.
SIGN_IN_ADDRESS_KNOWN_DAYS = env.int("SIGN_IN_ADDRESS_KNOWN_DAYS", default=30)

# --- REST API -------------------------------------------------------------------------

# The API's rate counters of a request bearing a token, counted by the city middleware in
# the round trip to Redis it makes anyway (ledgers.api.common.request_counters).
REQUEST_RATE_COUNTERS = "ledgers.api.common.request_counters"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "ledgers.api.schema.DaichoAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ledgers.api.common.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["ledgers.api.common.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": [
        "ledgers.api.common.ApiRateThrottle",
        "ledgers.api.common.AuthRateThrottle",
    ],
    # For any throttle of DRF's own: the client is TRUSTED_PROXY_COUNT entries from the
    # right of X-Forwarded-For, as ``daicho.accounts.network.client_ip`` reads it (ours
    # call that function); unset, DRF takes the whole header as the client wrote it.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_RATE_PER_TOKEN", default="6000/min"),
        "address": env.str("API_RATE_PER_ADDRESS", default="12000/min"),
        "auth": env.str("API_RATE_TOKEN_REQUESTS", default="20/min"),
    },
    "EXCEPTION_HANDLER": "ledgers.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["ledgers.api.renderers.JsonRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "ledgers.api.renderers.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["ledgers.api.parsers.JsonParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Daicho API",
    "DESCRIPTION": "自治体の台帳（記録・世代・検索・監査）を他システムから扱うための API。",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # The docs page's assets come from the drf-spectacular-sidecar package: no CDN (LGWAN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per closed set, however many fields declare it (ledgers.api.schema's
    # DocumentedChoice beside the models' choices), and a set of its own for what a request
    # may name (a field type by its alias), which drf-spectacular gave the answers' name.
    "ENUM_NAME_OVERRIDES": {
        "SensitivityEnum": "ledgers.definitions.models.Sensitivity",
        "RoleEnum": "daicho.accounts.models.Role",
        "CapabilityEnum": "ledgers.access.models.Capability",
        "ScopeEnum": "ledgers.api.schema.scope_choices",
        "FieldTypeEnum": "ledgers.api.schema.field_type_choices",
        "FieldTypeAcceptedEnum": "ledgers.api.schema.field_type_accepted",
    },
}

# --- Idempotency-Key (ledgers/api/idempotency) ----------------------------------------

# How long a create's key answers its retries; purged hourly after that.
API_IDEMPOTENCY_HOURS = env.int("API_IDEMPOTENCY_HOURS", default=24)

# --- Webhooks (ledgers/webhooks) -------------------------------------------------------

# Local and test runs deliver to http://127.0.0.1:<any port>; production refuses private
# and loopback addresses (SSRF guard), http:// (records in clear text) and ports other than
# 443 and 80 unless told otherwise. WEBHOOK_ALLOWED_PORTS lists the ports ("443,80,8443"),
# or is "*" for any.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=_RELAXED)
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=_RELAXED)


def _webhook_ports() -> tuple[int, ...] | None:
    listed = env.list("WEBHOOK_ALLOWED_PORTS", default=["*"] if _RELAXED else ["443", "80"])
    if listed == ["*"]:
        return None
    try:
        ports = tuple(int(port) for port in listed)
    except ValueError:
        ports = ()
    if not ports or not all(0 < port < 65536 for port in ports):
        raise ImproperlyConfigured(
            'WEBHOOK_ALLOWED_PORTS must list port numbers ("443,80,8443") or be "*"'
        )
    return ports


WEBHOOK_ALLOWED_PORTS = _webhook_ports()
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
WEBHOOK_DISABLE_AFTER = env.int("WEBHOOK_DISABLE_AFTER", default=10)
WEBHOOK_MAX_PER_LEDGER = env.int("WEBHOOK_MAX_PER_LEDGER", default=20)
WEBHOOK_CA_BUNDLE = env.str("WEBHOOK_CA_BUNDLE", default="") or None
# Each city's share of the delivery workers (ledgers/webhooks/dispatch.py): at most this many
# of a city's deliveries are in the queue or being sent at once, whatever its backlog, so one
# city's burst or slow receivers cannot hold back every other city's deliveries. Keep it
# below the number of worker processes that take the webhooks queue.
WEBHOOK_CITY_CONCURRENCY = env.int("WEBHOOK_CITY_CONCURRENCY", default=2)
# Seconds a delivery handed to the queue (or being sent) holds its city's slot and is not
# handed out again: a worker that died, or a message Redis lost, costs this long, then the
# delivery goes again (the database is the source of truth).
WEBHOOK_DISPATCH_LEASE = env.float("WEBHOOK_DISPATCH_LEASE", default=300.0)
if WEBHOOK_CITY_CONCURRENCY < 1 or WEBHOOK_DISPATCH_LEASE < 1:
    raise ImproperlyConfigured(
        "WEBHOOK_CITY_CONCURRENCY must be 1 or more, and WEBHOOK_DISPATCH_LEASE 1 second or more"
    )

# --- Logging: record ids only, never personal data ------------------------------------

# Django's error page (DEBUG) lists the settings: not the URLs that carry a password.
DEFAULT_EXCEPTION_REPORTER_FILTER = "daicho.security.SettingsFilter"
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    # A database error's text quotes the row or value it failed on: written without it.
    # A request's path is written without a segment that is not plain ASCII (a name typed
    # where an id goes).
    "filters": {
        "database_errors": {"()": "daicho.logs.DatabaseErrorFilter"},
        "request_paths": {"()": "daicho.logs.RequestPathFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["database_errors", "request_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's DEFAULT_LOGGING gave this logger handlers of its own (a console handler
        # when DEBUG is on, as under `make run`; mail to ADMINS when it is off) that wrote
        # a request's path and a database error's text without the filters above. Named
        # here, it keeps none and its records reach the root's handler only.
        "django": {"handlers": [], "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "django_tenants": {"level": "WARNING"},
    },
}
