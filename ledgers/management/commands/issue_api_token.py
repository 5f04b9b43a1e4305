"""``manage.py issue_api_token --schema mitaka --username admin --scopes "*"``: print a token.

A server operator's act in the city (docs/operations.md): every run, whatever comes of it,
leaves ``operator.command`` in the city's trail before anything of the city is looked up,
and an issued token is ``auth.token_issued`` with no actor and ``via``.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from ledgers.audit.services import audit_operator_command
from ledgers.exceptions import LedgerError
from tenants.models import Municipality

COMMAND = "manage.py issue_api_token"


class Command(BaseCommand):
    help = "職員のAPIトークンを発行し、トークンだけを出力します（スクリプト用）。"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--schema", required=True)
        parser.add_argument("--username", required=True)
        parser.add_argument(
            "--scopes", default="*", help='空白かカンマ区切り（例: "records:read records:write"）'
        )
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--name", default="management command")

    def handle(self, *args: object, **options: str) -> None:
        from ledgers.api.tokens.services import token_issue, token_request_check

        schema = options["schema"]
        if schema == "public" or not Municipality.objects.filter(schema_name=schema).exists():
            raise CommandError(f"自治体「{schema}」はありません。")
        scopes = [s for s in str(options["scopes"]).replace(",", " ").split() if s]
        lifetime = timedelta(days=int(options["days"]))
        username, name = str(options["username"]), str(options["name"])
        try:
            # What the command alone can tell is wrong, before the city is looked into:
            # the error must never depend on whether the username exists.
            token_request_check(scopes=scopes, lifetime=lifetime, name=name)
        except LedgerError as exc:
            raise CommandError(exc.message) from exc
        audit_operator_command(
            schema=schema, command=COMMAND,
            arguments={"username": username, "scopes": sorted(set(scopes)),
                       "days": int(options["days"]), "name": name},
        )  # fmt: skip
        with schema_context(schema):
            user = get_user_model().objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"職員「{username}」はいません（または無効です）。")
            try:
                # A server operator's act, not the staff member's: the audit event has no
                # actor and names the command (docs/operations.md).
                issued = token_issue(
                    actor=None, user=user, scopes=scopes, name=name, lifetime=lifetime,
                    via=COMMAND,
                )  # fmt: skip
            except LedgerError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(issued.token)
