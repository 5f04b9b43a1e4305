"""Provision a city: ``manage.py provision_tenant --slug mitaka --name 三鷹市 --code 132047
--domain mitaka.localhost --admin-username admin --admin-password '…'``."""

from __future__ import annotations

import argparse
import time

from django.core.management.base import BaseCommand, CommandError

from tenants.exceptions import ProvisioningConflict, ProvisioningInvalid
from tenants.services import municipality_provision


class Command(BaseCommand):
    help = (
        "自治体（スキーマ・ドメイン・最初の管理者）を作成します。同じ内容での再実行は何もしません。"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--slug", required=True, help="スキーマ名・サブドメイン (例: mitaka)")
        parser.add_argument("--name", required=True, help="自治体名 (例: 三鷹市)")
        parser.add_argument("--code", required=True, help="全国地方公共団体コード6桁 (例: 132047)")
        parser.add_argument("--domain", required=True, help="ホスト名 (例: mitaka.localhost)")
        parser.add_argument("--admin-username", required=True)
        parser.add_argument("--admin-password", required=True)

    def handle(self, *args: object, **options: str) -> None:
        started = time.perf_counter()
        try:
            result = municipality_provision(
                actor=None,
                slug=options["slug"],
                name=options["name"],
                code=options["code"],
                domain=options["domain"],
                admin_username=options["admin_username"],
                admin_password=options["admin_password"],
                via="manage.py provision_tenant",
            )
        except (ProvisioningInvalid, ProvisioningConflict) as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        city = result.municipality
        if result.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"created {city.schema_name} ({city.name}, {city.code}) at {result.domain} "
                    f"in {elapsed:.2f}s"
                )
            )
        else:
            self.stdout.write(f"exists {city.schema_name} ({city.name}, {city.code}): unchanged")
