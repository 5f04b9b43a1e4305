from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_public_tenant(sender: AppConfig, using: str, **kwargs: object) -> None:
    from django.db import connections

    if connections[using].schema_name != "public":
        return
    from tenants.services import platform_ensure_public_tenant

    platform_ensure_public_tenant()


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "自治体"

    def ready(self) -> None:
        from tenants import migration_executor  # noqa: F401  (registers --executor=pending)

        post_migrate.connect(_ensure_public_tenant, sender=self, dispatch_uid="tenants-public")

        from daicho.caching import TENANCY, bump_on_change
        from tenants.models import Domain, Municipality

        # Web processes keep host → city in memory (daicho.tenancy.middleware): a suspension,
        # a resumption or a changed domain takes effect on the next request everywhere.
        for model in (Municipality, Domain):
            bump_on_change(model, lambda: TENANCY)
