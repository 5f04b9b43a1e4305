"""django-tenants' commands that change cities outside ``tenants.services``, refused.

They take django-tenants' own arguments (each command below subclasses django-tenants' own,
so ``manage.py`` parses what they parse) and change nothing: ``handle`` says what to use
instead. ``tenants`` comes before ``django_tenants`` in ``INSTALLED_APPS`` for these to take
their place (docs/operations.md).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

#: Where cities are opened: one transaction for the row, the host, the schema and the
#: first administrator, in the city's trail.
PROVISION = (
    "自治体の開設は、管理画面の「自治体」→「追加」か manage.py provision_tenant で行います"
    "（自治体の行・ドメイン・スキーマ・最初の管理者を1つのトランザクションで作り、自治体の"
    "監査ログに残します）。"
)
#: Where hosts change: the city's page or 「ドメイン」 in the admin, in the city's trail.
DOMAINS = (
    "ドメインの追加・変更・削除は、管理画面の自治体の画面か「ドメイン」で行います（同じ規則で"
    "確かめ、自治体の監査ログに残します）。"
)


class Refused:
    """Mixed in before a django-tenants command class: ``handle`` refuses with ``refusal``."""

    refusal = ""

    def handle(self, *args: Any, **options: Any) -> None:
        raise CommandError(f"このコマンドは使えません。{self.refusal}")
