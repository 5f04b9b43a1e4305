"""Provision the two demo cities and a demo operator for `make run`; print their sign-ins.

Passwords are random on the first run and kept in ``var/demo-credentials.json`` (mode 600),
so a second run prints the same ones. Demo only: never run in production.
"""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from tenants.services import municipality_provision

DEMO_CITIES = [
    {"slug": "mitaka", "name": "三鷹市", "code": "132047"},
    {"slug": "musashino", "name": "武蔵野市", "code": "132039"},
]


class Command(BaseCommand):
    help = (
        "デモ用の自治体（三鷹市・武蔵野市）と運用者アカウントを用意し、ログイン情報を表示します。"
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--port", default="8000")

    def handle(self, *args: object, **options: str) -> None:
        if not settings.DEBUG and settings.EMBEDDED_SERVICES is False:
            raise CommandError("demo_setup is for local demos only")
        path = settings.VAR_DIR / "demo-credentials.json"
        credentials: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        for key in ["operator", *[city["slug"] for city in DEMO_CITIES]]:
            credentials.setdefault(key, secrets.token_urlsafe(12))
        path.write_text(json.dumps(credentials, indent=2))
        path.chmod(0o600)

        port = options["port"]
        base = settings.BASE_DOMAIN
        lines = []
        for city in DEMO_CITIES:
            domain = f"{city['slug']}.{base}"
            municipality_provision(
                actor=None, domain=domain, admin_username="admin",
                admin_password=credentials[city["slug"]], via="manage.py demo_setup", **city,
            )  # fmt: skip
            # The password here is the developer's own (random, kept in var/ mode 600), not
            # one an operator chose for a city: no change is asked at the first sign-in.
            with schema_context(city["slug"]):
                get_user_model().objects.filter(username="admin").update(must_change_password=False)
            lines.append(
                f"  {city['name']:<6} http://{domain}:{port}/  admin / {credentials[city['slug']]}"
            )
        with schema_context("public"):
            user_model = get_user_model()
            if not user_model.objects.filter(username="operator").exists():
                user_model.objects.create_superuser(
                    username="operator", password=credentials["operator"], email=""
                )
        lines.append(
            f"  運用者     http://{base}:{port}/admin/  operator / {credentials['operator']}"
        )
        self.stdout.write("デモ用ログイン情報:\n" + "\n".join(lines))
