"""Settings for the test suite: real PostgreSQL and Redis, fast password hashing."""

import os

from daicho.settings.base import *

DEBUG = False
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver", ".testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests share one Redis with other runs: keep their keys apart.
CACHES["default"]["KEY_PREFIX"] = "daicho-test"
CELERY_BROKER_URL = env.str("TEST_CELERY_BROKER_URL", default=REDIS_URL)
FILES_ROOT = VAR_DIR / "test-files"
if STORAGE_BACKEND != "s3":
    STORAGES["default"]["OPTIONS"] = {"location": str(FILES_ROOT)}
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# A queue of this run's own: a `make run` worker on the same Redis never takes test tasks.
CELERY_TASK_DEFAULT_QUEUE = f"daicho-test-{os.getpid()}"
