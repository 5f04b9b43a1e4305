from django.apps import AppConfig


class LedgersConfig(AppConfig):
    name = "ledgers"
    verbose_name = "台帳"

    def ready(self) -> None:
        from ledgers.fields import register_field_types

        register_field_types()

        from daicho.accounts.models import CitySecuritySettings, Department, Membership, User
        from daicho.caching import bump_on_change, current_access_counter
        from ledgers.access.models import Grant
        from ledgers.api.tokens.models import ApiToken
        from ledgers.definitions.models import Ledger

        # The API keeps verified tokens and each caller's policy in process memory
        # (ledgers.api.common, ledgers.api.output); any change to what they were built
        # from invalidates the city's entries on the next request, in every process. The
        # city's sign-in settings too: a token issued without a second factor is refused
        # once the city requires 2FA (a confirmed device bumps in two_factor_enable; a
        # device's own saves, one per code checked, would bump the whole city).
        for model in (Membership, Department, Grant, Ledger, ApiToken, CitySecuritySettings):
            bump_on_change(model, current_access_counter)
        # Not a sign-in's ``last_login`` alone (no cached answer reads it): every sign-in
        # dropped the city's cached tokens and policies in every process, and against a
        # Redis that hangs waited twice on the bump.
        bump_on_change(User, current_access_counter, unless_only=frozenset({"last_login"}))
