"""The WSGI application, its URL configurations loaded before the first request, and what
the start-up made kept out of the garbage collector's way.

Django imports a URLconf, and with it every view, serializer and service module, when it
resolves its first request: each gunicorn worker made its first caller wait for that
(0.66 s of a first bulk request's 0.92 s, measured 2026-11-29), after every deploy and
every worker restart. Both URLconfs (a city's and the operators') are loaded here instead,
as the worker starts.

The ~130,000 objects the start-up leaves (modules, classes, functions, settings, URL
patterns) live as long as the process, but Python's cyclic collector walked all of them in
every full collection: 68 ms each, in the middle of whichever request allocated last
(measured 2026-11-29: 1.4 ms of every bulk request of 100 on average, and a pause of that
size for one read in a few hundred). ``gc.freeze()`` moves them to a generation the
collector never walks; a full collection then costs ~1 ms.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

# Production unless told otherwise: a server started without the variable must not get
# the developer's settings (DEBUG, no secure cookies, the SSRF guard relaxed, embedded
# services). ``make run`` (daicho.run) and the tests set theirs.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daicho.settings.production")
application = get_wsgi_application()


def _load_urlconfs() -> None:
    from django.conf import settings
    from django.urls import get_resolver

    for urlconf in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF):
        get_resolver(urlconf).url_patterns  # noqa: B018 (the access imports the views)


_load_urlconfs()
gc.collect()  # what the start-up left as garbage is freed, not frozen
gc.freeze()
