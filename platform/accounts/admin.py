"""The operators' admin of the public schema: operators' accounts and their devices."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

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


def _without(fieldsets: Any, hidden: set[str]) -> list[tuple[Any, dict[str, Any]]]:
    kept = []
    for name, options in fieldsets:
        fields = [field for field in options["fields"] if field not in hidden]
        if fields:
            kept.append((name, {**options, "fields": fields}))
    return kept


class OwnDevicesAdmin(admin.ModelAdmin):
    """django-otp's admin of operators' second-factor devices (public schema), for operators.

    django-otp lists, shows and deletes every user's devices to whoever may view them: an
    operator saw every other operator's authenticator apps and their keys (the QR code and
    the hex key, enough to make their codes), could delete them, and could add a device
    of a key of their choosing to another operator's account. An operator now sees, adds,
    changes and deletes their own devices only; a superuser sees and deletes every
    operator's (a lost phone), and only the device's owner ever sees its secret (the key,
    the QR code, the static tokens)."""

    #: What a device's owner alone may see of it.
    secret_fields: set[str] = set()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        devices = super().get_queryset(request)
        return devices if request.user.is_superuser else devices.filter(user=request.user)

    def _may(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or request.user.is_superuser or obj.user_id == request.user.pk

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and self._may(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._may(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._may(request, obj)

    def get_list_display(self, request: HttpRequest) -> Any:
        # The QR code is opened from the owner's own device page, never from a list.
        return [f for f in super().get_list_display(request) if f not in self.secret_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        # An operator's device is theirs: no one but a superuser names its owner.
        return fields if request.user.is_superuser else [*fields, "user"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.user_id != request.user.pk:
            return _without(fieldsets, self.secret_fields)
        return fieldsets

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change and not request.user.is_superuser:
            obj.user = request.user
        super().save_model(request, obj, form, change)

    def own_device(self, request: HttpRequest, pk: Any) -> Any:
        """The device ``pk`` if it is the operator's own; else 404 (django-otp's views
        looked any device up, and a missing one was a server error)."""
        device = self.get_queryset(request).filter(pk=pk).first()
        if device is None or device.user_id != request.user.pk:
            raise Http404
        return device


class OperatorTOTPDeviceAdmin(OwnDevicesAdmin, TOTPDeviceAdmin):
    secret_fields = {"key", "qrcode_link"}

    def config_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.own_device(request, pk)
        return super().config_view(request, pk)

    def qrcode_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.own_device(request, pk)
        return super().qrcode_view(request, pk)


class OperatorStaticDeviceAdmin(OwnDevicesAdmin, StaticDeviceAdmin):
    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> Any:
        # The static tokens are the device's secret.
        if obj is not None and obj.user_id != request.user.pk:
            return []
        return super().get_inline_instances(request, obj)


for model, model_admin in ((TOTPDevice, OperatorTOTPDeviceAdmin),
                           (StaticDevice, OperatorStaticDeviceAdmin)):  # fmt: skip
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
