"""Settings for the test suite: real PostgreSQL and Redis, fast password hashing."""

import os

from daicho.settings.base import *

DEBUG = False
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver", ".testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests share one Redis with other runs, and pytest-xdist's workers each have a database
# of their own: keep their keys apart (a city provisioned in one worker bumped the shared
# host-cache generation under another's request, which then read the host again).
CACHES["default"]["KEY_PREFIX"] = f"daicho-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
CELERY_BROKER_URL = env.str("TEST_CELERY_BROKER_URL", default=REDIS_URL)
FILES_ROOT = VAR_DIR / "test-files"
if STORAGE_BACKEND != "s3":
    STORAGES["default"]["OPTIONS"] = {"location": str(FILES_ROOT)}
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# A queue of this run's own: a `make run` worker on the same Redis never takes test tasks.
CELERY_TASK_DEFAULT_QUEUE = f"daicho-test-{os.getpid()}"
WEBHOOK_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-webhooks"
CELERY_TASK_QUEUES, CELERY_TASK_ROUTES = celery_queues(CELERY_TASK_DEFAULT_QUEUE, WEBHOOK_QUEUE)
