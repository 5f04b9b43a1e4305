from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from daicho.accounts.models import User


@admin.register(User)
class OperatorAdmin(UserAdmin):
    """Operator accounts; this admin is served on the public host only (public schema)."""

    list_display = ["username", "display_name", "email", "is_staff", "is_superuser", "is_active"]
    fieldsets = (*UserAdmin.fieldsets, ("Daicho", {"fields": ["display_name"]}))
