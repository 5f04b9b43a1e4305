"""Refused: django-tenants' ``create_tenant`` saved a city's row and host without a schema
(``auto_create_schema`` is off: ``municipality_provision`` makes it), with no first
administrator and nothing in any trail; the host then answered server errors."""

from django_tenants.management.commands import create_tenant

from tenants.management.commands._refused import PROVISION, Refused


class Command(Refused, create_tenant.Command):
    help = "使えません。自治体の開設は provision_tenant か管理画面で行います。"
    refusal = PROVISION
