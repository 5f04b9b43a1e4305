from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "daicho.accounts"
    label = "accounts"
    verbose_name = "アカウント"

    def ready(self) -> None:
        from daicho import checks  # noqa: F401  (registers the system checks)
