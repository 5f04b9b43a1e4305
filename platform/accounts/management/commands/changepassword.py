"""Django's ``manage.py changepassword``: the password it sets is in the admin's log or the
city's trail, and its owner must change it at the next sign-in.

On the public schema (an operator's account) the change is an entry of the operators' admin
log (``operator_command_recorded``, never the password), as the admin's changes are; on a
city's schema (``tenant_command changepassword --schema <city>``) the run is
``operator.command`` in the city's audit trail, before anything of the city is looked up,
and the change is ``staff.update`` (``staff_password_set_by_command``). Either way the
password is someone else's choice, as an administrator's reset: its owner changes it at the
next sign-in. Django's command otherwise.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import changepassword
from django.db import connection, transaction

from daicho.accounts.operators import operator_command_recorded
from daicho.accounts.selectors import on_public_schema
from ledgers.access.staff import staff_password_set_by_command
from ledgers.audit.services import audit_operator_command

COMMAND = "manage.py changepassword"
#: Said after Django's own message.
MUST_CHANGE = "他の人が設定したパスワードのため、本人が次のログインで変更します。"


class Command(changepassword.Command):
    def handle(self, *args: Any, **options: Any) -> str | None:
        username = options.get("username") or getpass.getuser()
        if not on_public_schema():
            audit_operator_command(
                schema=connection.schema_name, command=COMMAND,
                arguments={"username": username},
            )  # fmt: skip
            with transaction.atomic(using=options["database"]):
                said = super().handle(*args, **options)
                user = get_user_model()._default_manager.db_manager(options["database"])
                staff_password_set_by_command(user=user.get_by_natural_key(username), via=COMMAND)
        else:
            with operator_command_recorded(command=COMMAND):
                said = super().handle(*args, **options)
        return f"{said}\n{MUST_CHANGE}"
