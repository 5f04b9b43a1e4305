"""``manage.py revoke_api_tokens --schema mitaka (--prefix <識別子> | --username <職員>)``.

For an incident (a token leaked, a laptop lost) when no city administrator can revoke it
through the API: revokes the one token, or every live token of one staff account, and
prints how many it revoked. Each revocation is an ``auth.token_revoked`` audit event with
no actor (a server operator, not a staff member of the city), and every run, whatever
comes of it, leaves ``operator.command`` in the city's trail before anything of the city
is looked up. It reads no records.
"""

from __future__ import annotations

import argparse

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_tenants.utils import schema_context

from ledgers.audit.services import audit_operator_command
from tenants.models import Municipality

COMMAND = "manage.py revoke_api_tokens"


class Command(BaseCommand):
    help = "APIトークンを失効させます（識別子で1つ、または職員の有効なトークンすべて）。"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--schema", required=True)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--prefix", help="トークンの識別子（dch_ の次の12文字）")
        which.add_argument("--username", help="この職員の有効なトークンをすべて失効")

    def handle(self, *args: object, **options: str | None) -> None:
        from ledgers.api.tokens.models import ApiToken
        from ledgers.api.tokens.services import token_revoke

        schema = str(options["schema"])
        if schema == "public" or not Municipality.objects.filter(schema_name=schema).exists():
            raise CommandError(f"自治体「{schema}」はありません。")
        asked = (
            {"prefix": options["prefix"]}
            if options["prefix"]
            else {"username": options["username"]}
        )
        audit_operator_command(schema=schema, command=COMMAND, arguments=asked)
        with schema_context(schema):
            if options["prefix"]:
                tokens = list(ApiToken.objects.filter(prefix=options["prefix"]))
                if not tokens:
                    raise CommandError(f"トークン「{options['prefix']}」はありません。")
            else:
                user = get_user_model().objects.filter(username=options["username"]).first()
                if user is None:
                    raise CommandError(f"職員「{options['username']}」はいません。")
                tokens = list(
                    ApiToken.objects.filter(
                        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
                    )
                )
            revoked = 0
            for token in tokens:
                was_live = token.revoked_at is None
                token_revoke(actor=None, token=token)
                revoked += was_live
        self.stdout.write(f"{revoked} 件のトークンを失効させました。")
