"""The settings Django's error page (DEBUG, as under `make run`) lists hide the URLs that
carry a password: the embedded servers' (``daicho.embedded``) and a deployment's own."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string


def test_urls_with_passwords_are_hidden_on_the_error_page(settings: Any) -> None:
    url = "redis://:s3cret-embedded-pw@127.0.0.1:63799/0"
    settings.DATABASE_URL = "postgres://postgres:s3cret-embedded-pw@127.0.0.1:54329/daicho"
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    settings.CELERY_RESULT_BACKEND = f"workers.results:ResultBackend+{url}"
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": url},
    }
    shown = import_string(settings.DEFAULT_EXCEPTION_REPORTER_FILTER)().get_safe_settings()
    assert "s3cret-embedded-pw" not in repr(shown)
    # What an engineer needs from the page is still there.
    assert shown["TIME_ZONE"] == "Asia/Tokyo"
