"""Settings for `make run` and `manage.py` on a developer's machine."""

from daicho.settings.base import *

DEBUG = env.bool("DEBUG", default=True)
