"""Verify a city's audit chain: ``manage.py audit_verify --schema mitaka``.

Prints ``OK <n> events``, or ``BROKEN at seq <seq>: <reason>`` and exits with status 1.
A server operator's act in the city (docs/operations.md): every run leaves
``operator.command`` in the city's trail before it verifies, and its outcome is
``audit.verify`` with no actor and ``via``.
"""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand, CommandError

from ledgers.audit.services import audit_operator_command, audit_verify
from tenants.models import Municipality

COMMAND = "manage.py audit_verify"


class Command(BaseCommand):
    help = "監査ログの連鎖を検証します（未封印のものを封印してから、全件のハッシュを再計算）。"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--schema", required=True, help="自治体のスキーマ名 (例: mitaka)")

    def handle(self, *args: object, **options: str) -> None:
        schema = options["schema"]
        if schema == "public" or not Municipality.objects.filter(schema_name=schema).exists():
            raise CommandError(f"自治体のスキーマ「{schema}」はありません。")
        audit_operator_command(schema=schema, command=COMMAND, arguments={})
        result = audit_verify(actor=None, schema=schema, via=COMMAND)
        if result.ok:
            self.stdout.write(self.style.SUCCESS(f"OK {result.events} events"))
            return
        where = result.seq if result.seq is not None else f"position {result.position}"
        self.stdout.write(
            self.style.ERROR(f"BROKEN at seq {where}: [{result.code}] {result.reason}")
        )
        sys.exit(1)
