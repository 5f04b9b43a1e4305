"""django-tenants' ``manage.py create_tenant_superuser --schema <city>``, recorded in the city.

django-tenants' command runs Django's ``createsuperuser`` in the city by its class, imported
as is: it went past ``daicho.accounts``' own ``createsuperuser`` (found by name), so a
superuser appeared in a city's schema and nothing anywhere said so. It also took the public
row (an operator superuser outside the admin's log) and a number for the city at that place
in an unordered list, and it left the connection on the city.

This one runs ``daicho.accounts``' ``createsuperuser``, so the run is ``operator.command``
in the city's trail before anything of the city is looked up (username, e-mail, whether
interactive; never a password), for a city named by its schema only; operators' superusers
are made with ``manage.py createsuperuser`` (in the admin's log). ``daicho.accounts`` comes
before ``django_tenants`` in ``INSTALLED_APPS`` for this command to take django-tenants'
place.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django_tenants.management.commands import create_tenant_superuser
from django_tenants.utils import get_public_schema_name, schema_context

from daicho.accounts.management.commands import createsuperuser
from tenants.models import Municipality


class _RecordedCreatesuperuser(createsuperuser.Command):
    recorded_as = "manage.py create_tenant_superuser"


class Command(create_tenant_superuser.Command):
    help = (
        "自治体（--schema にスキーマ名）にスーパーユーザーを作ります。実行は自治体の監査ログに"
        "operator.command として残ります（パスワードは残りません）。"
    )
    COMMAND = _RecordedCreatesuperuser

    def get_tenant_from_options_or_interactive(self, **options: Any) -> Municipality:
        schema = options.get("schema_name")
        if not schema:
            raise CommandError("自治体を --schema <スキーマ名> で指定してください。")
        if schema == get_public_schema_name():
            raise CommandError(
                "運用者のスーパーユーザーは python manage.py createsuperuser で作ります"
                "（管理画面の「ログエントリー」に残ります）。"
            )
        municipality = Municipality.objects.filter(schema_name=schema).first()
        if municipality is None:
            raise CommandError(f"自治体「{schema}」はありません（スキーマ名で指定します）。")
        return municipality

    def handle(self, *args: Any, **options: Any) -> None:
        municipality = self.get_tenant_from_options_or_interactive(**options)
        with schema_context(municipality.schema_name):
            self.command_instance.execute(*args, **options)
