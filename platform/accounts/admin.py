from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from daicho.accounts.models import User


@admin.register(User)
class OperatorAdmin(UserAdmin):
    """Operator accounts; this admin is served on the public host only (public schema)."""

    list_display = ["username", "display_name", "email", "is_staff", "is_superuser", "is_active"]
    fieldsets = (*UserAdmin.fieldsets, ("Daicho", {"fields": ["display_name"]}))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Kept, deactivated (「有効」 off), as the record of who operated; and Django's delete
        # collector follows the user model's foreign keys into the cities' tables, which
        # the public schema does not have (a server error).
        return False
