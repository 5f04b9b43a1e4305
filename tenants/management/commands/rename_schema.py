"""Refused: django-tenants' ``rename_schema`` renamed a city's schema (committed at once,
before its row was saved) and with it the start of the city's audit chain, which is
computed from the schema's name: the chain no longer verified."""

from django_tenants.management.commands import rename_schema

from tenants.management.commands._refused import Refused


class Command(Refused, rename_schema.Command):
    help = "使えません。自治体のスキーマ名は変えられません。"
    refusal = (
        "自治体のスキーマ名は変えられません（監査ログの鎖の起点がスキーマ名から計算されるため、"
        "変えると監査ログの検証が通らなくなります）。自治体名とドメインは管理画面で変えられます。"
    )
