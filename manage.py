#!/usr/bin/env python
"""Django's command-line utility. With no DATABASE_URL it uses the embedded PostgreSQL."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daicho.settings.local")
    from django.core.management import execute_from_command_line

    from daicho.logs import excepthook

    # A command that dies on a database error (a migration failing on a row) prints no
    # value PostgreSQL quoted back (daicho.logs).
    sys.excepthook = excepthook

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
