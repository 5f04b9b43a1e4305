"""The WSGI application, its URL configurations loaded before the first request.

Django imports a URLconf, and with it every view, serializer and service module, when it
resolves its first request: each gunicorn worker made its first caller wait for that
(0.66 s of a first bulk request's 0.92 s, measured 2026-11-29), after every deploy and
every worker restart. Both URLconfs (a city's and the operators') are loaded here instead,
as the worker starts.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daicho.settings.local")
application = get_wsgi_application()


def _load_urlconfs() -> None:
    from django.conf import settings
    from django.urls import get_resolver

    for urlconf in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF):
        get_resolver(urlconf).url_patterns  # noqa: B018 (the access imports the views)


_load_urlconfs()
