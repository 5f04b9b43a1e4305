"""Errors of municipality provisioning, with messages operators read (Japanese)."""


class TenantError(Exception):
    """Base of the tenants app's domain errors."""

    code = "TENANT_ERROR"


class ProvisioningInvalid(TenantError):
    """The input is invalid; nothing was created."""

    code = "PROVISIONING_INVALID"

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        lines = [f"{field}: {msg}" for field, msgs in errors.items() for msg in msgs]
        super().__init__("自治体を作成できません。\n" + "\n".join(lines))


class ProvisioningConflict(TenantError):
    """A city with this slug, code or domain exists with other values; nothing changed."""

    code = "PROVISIONING_CONFLICT"


class TenantRequired(TenantError):
    """Code that needs a city ran on the public schema (fails closed instead of guessing)."""

    code = "TENANT_REQUIRED"
