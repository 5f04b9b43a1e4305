"""Refused: django-tenants' ``delete_domain`` removed a host outside the city's trail (the
platform's own host too)."""

from django_tenants.management.commands import delete_domain

from tenants.management.commands._refused import DOMAINS, Refused


class Command(Refused, delete_domain.Command):
    help = "使えません。ドメインは管理画面で削除します。"
    refusal = DOMAINS
