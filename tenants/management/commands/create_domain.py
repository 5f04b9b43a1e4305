"""Refused: django-tenants' ``create_domain`` added a host outside the city's trail and the
host rules (``tenants.services.domain_save``)."""

from django_tenants.management.commands import create_domain

from tenants.management.commands._refused import DOMAINS, Refused


class Command(Refused, create_domain.Command):
    help = "使えません。ドメインは管理画面で追加します。"
    refusal = DOMAINS
