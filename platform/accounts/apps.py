from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "daicho.accounts"
    label = "accounts"
    verbose_name = "アカウント"
