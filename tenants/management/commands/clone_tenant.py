"""Refused: django-tenants' ``clone_tenant`` copied a city's schema, its records and audit
trail with it, into a new city."""

from django_tenants.management.commands import clone_tenant

from tenants.management.commands._refused import PROVISION, Refused


class Command(Refused, clone_tenant.Command):
    help = "使えません。自治体の開設は provision_tenant か管理画面で行います。"
    refusal = "自治体のスキーマは複製できません（記録と監査ログも写ります）。" + PROVISION
