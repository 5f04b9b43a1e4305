from django.apps import AppConfig


class LedgersConfig(AppConfig):
    name = "ledgers"
    verbose_name = "台帳"

    def ready(self) -> None:
        from ledgers.fields import register_field_types

        register_field_types()
