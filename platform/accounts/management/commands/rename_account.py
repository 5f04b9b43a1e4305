"""``manage.py rename_account --schema <mitaka|public> --id <id> --username <new>``.

Gives one account a new username: a city's staff member (``--schema`` the city) or an
operator (``--schema public``). It is the way out that the migration adding the
case-insensitive unique constraint on usernames names when a schema already holds accounts
that differ only by case (accounts 0005, docs/operations.md): the staff API never renames,
and that migration stops before the release that could is running. The account is named by
its primary key, as that migration names it. A username taken, but for letter case, by
another account is refused and nothing changes.

On a city, every run, whatever comes of it, is ``operator.command`` in the city's trail
before anything of the city is looked up, and the rename is ``staff.update`` (no actor,
the usernames before and after); on ``public`` the rename is an entry of the admin's log.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, schema_context

from daicho.accounts.models import User
from daicho.accounts.services import account_rename
from ledgers.audit.services import audit_operator_command
from tenants.models import Municipality

COMMAND = "manage.py rename_account"


class Command(BaseCommand):
    help = "利用者（自治体の職員、または運用者）のユーザー名を変更します。"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--schema", required=True, help="自治体のスキーマ名（運用者は public）")
        parser.add_argument("--id", type=int, required=True, dest="account", help="利用者の ID")
        parser.add_argument("--username", required=True, help="新しいユーザー名")

    def handle(self, *args: Any, **options: Any) -> None:
        schema, pk, username = str(options["schema"]), options["account"], options["username"]
        public = schema == get_public_schema_name()
        if not public:
            if not Municipality.objects.filter(schema_name=schema).exists():
                raise CommandError(f"自治体「{schema}」はありません。")
            audit_operator_command(
                schema=schema, command=COMMAND, arguments={"id": pk, "username": username}
            )
        with schema_context(schema):
            account = User.objects.filter(pk=pk).first()
            if account is None:
                raise CommandError(f"ID {pk} の利用者はいません。")
            try:
                account_rename(account=account, username=username, command=COMMAND)
            except ValidationError as refused:
                raise CommandError("; ".join(refused.messages)) from None
        self.stdout.write(f"ID {pk} の利用者のユーザー名を変更しました。")
