import os

from django.core.asgi import get_asgi_application

# Production unless told otherwise: a server started without the variable must not get
# the developer's settings (DEBUG, no secure cookies, the SSRF guard relaxed, embedded
# services). ``make run`` (daicho.run) and the tests set theirs.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daicho.settings.production")
application = get_asgi_application()
