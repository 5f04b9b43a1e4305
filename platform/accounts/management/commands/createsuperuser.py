"""Django's ``manage.py createsuperuser``, and the account it adds is in the admin's log.

On the public schema (an operator's account) the addition is an entry of the operators'
admin log (``operator_command_recorded``), as the admin's additions are; on a city's schema
(``tenant_command createsuperuser --schema <city>``, ``create_tenant_superuser``) the run is
``operator.command`` in the city's audit trail, before anything of the city is looked up,
and the account it made ``staff.create`` (no actor, ``via``) after it.
A username another account of the schema holds but for letter case is refused as Django
refuses a taken one (asked again at the prompt; an error with ``--noinput``), and the
account's creation refuses it too (``UserManager``: a create of it committed meanwhile).
Django's command otherwise.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management.commands import createsuperuser
from django.db import connection
from django.db.models import Max

from daicho.accounts.exceptions import username_taken_message
from daicho.accounts.models import User
from daicho.accounts.operators import operator_command_recorded
from daicho.accounts.selectors import on_public_schema, username_holder
from ledgers.access.staff import staff_created_by_command
from ledgers.audit.services import audit_operator_command


class Command(createsuperuser.Command):
    #: The command the records name (``create_tenant_superuser`` runs this one).
    recorded_as = "manage.py createsuperuser"

    def handle(self, *args: Any, **options: Any) -> None:
        if not on_public_schema():
            # What was asked on the command line; in an interactive run the username and
            # e-mail are typed at Django's prompts, after this event (None here).
            audit_operator_command(
                schema=connection.schema_name, command=self.recorded_as,
                arguments={"username": options.get("username"),
                           "email": options.get("email"),
                           "interactive": bool(options.get("interactive"))},
            )  # fmt: skip
            before = User.objects.aggregate(last=Max("pk"))["last"] or 0
            super().handle(*args, **options)
            # The account the run made, named (staff_created_by_command).
            for user in User.objects.filter(pk__gt=before, is_superuser=True).order_by("pk"):
                staff_created_by_command(user=user, via=self.recorded_as)
            return
        with operator_command_recorded(command=self.recorded_as):
            super().handle(*args, **options)

    def _validate_username(self, username: str, verbose_field_name: str, database: str) -> Any:
        error = super()._validate_username(username, verbose_field_name, database)  # type: ignore[misc]
        if error or not username:
            return error
        holder = username_holder(User.normalize_username(username))
        return None if holder is None else f"Error: {username_taken_message(holder.username)}"
