from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "daicho.accounts"
    label = "accounts"
    verbose_name = "アカウント"

    def ready(self) -> None:
        from django.contrib import admin

        from daicho import checks  # noqa: F401  (registers the system checks)
        from daicho.accounts import receivers
        from daicho.accounts.admin_site import OperatorAdminSite

        receivers.connect()
        # django-otp's documented way to guard the default admin site: every app keeps
        # registering on admin.site; OperatorAdminSite asks for a second factor when
        # OPERATOR_REQUIRE_2FA is on.
        admin.site.__class__ = OperatorAdminSite
