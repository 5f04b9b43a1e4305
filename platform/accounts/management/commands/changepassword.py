"""Django's ``manage.py changepassword``, and the password it sets is in the admin's log.

On the public schema (an operator's account) the change is an entry of the operators' admin
log (``operator_command_recorded``, never the password), as the admin's changes are; on a
city's schema (``tenant_command changepassword --schema <city>``) the run is
``operator.command`` in the city's audit trail, before anything of the city is looked up.
Django's command otherwise.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.management.commands import changepassword
from django.db import connection

from daicho.accounts.operators import operator_command_recorded
from daicho.accounts.selectors import on_public_schema
from ledgers.audit.services import audit_operator_command

COMMAND = "manage.py changepassword"


class Command(changepassword.Command):
    def handle(self, *args: Any, **options: Any) -> str | None:
        if not on_public_schema():
            audit_operator_command(
                schema=connection.schema_name, command=COMMAND,
                arguments={"username": options.get("username") or getpass.getuser()},
            )  # fmt: skip
            return super().handle(*args, **options)
        with operator_command_recorded(command=COMMAND):
            return super().handle(*args, **options)
