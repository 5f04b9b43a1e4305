"""The operators' admin of the public schema: operators' accounts and their devices."""

from __future__ import annotations

from typing import Any, cast

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import AdminForm
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    AdminUserCreationForm,
    UserChangeForm,
)
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from daicho.accounts.exceptions import OperatorChangeRefused, UsernameTaken
from daicho.accounts.models import User
from daicho.accounts.operators import (
    PROFILE_FIELDS,
    RIGHTS_FIELDS,
    change_message,
    operator_change_check,
    operator_create,
    operator_password_set,
    operator_update,
)
from daicho.accounts.services import username_claim


def _operator(request: HttpRequest) -> User:
    """The operator signed in (the admin lets no one else in)."""
    user = request.user
    assert isinstance(user, User)
    return user


def _username_claim_on_field(username: str, *, account: int | None = None) -> None:
    """``username_claim``, its refusal an error of the form's field ``username``."""
    try:
        username_claim(username, account=account)
    except UsernameTaken as taken:
        raise ValidationError(taken.error_dict["username"]) from None


def _through_a_city_table(model: Any, lookup: str) -> bool:
    """Whether ``lookup`` (a list filter in the address) starts along a relation to a model
    whose table only the cities' schemas have (an app of ``TENANT_APPS`` alone: the user's
    API tokens). Django's admin allows a filter one step along any relation; on the public
    schema such a query names a table that is not there, a server error."""
    try:
        field = model._meta.get_field(lookup.split("__", 1)[0])
    except FieldDoesNotExist:
        return False
    related = getattr(field, "related_model", None)
    if related is None:
        return False
    return apps.get_app_config(related._meta.app_label).name not in settings.SHARED_APPS


class OperatorChangeForm(UserChangeForm):
    """An operator's page: what its actor may change is checked by the rules of
    ``daicho.accounts.operators`` in the transaction that saves, and a refusal shows on the
    field it concerns (the last active superuser's 「スーパーユーザー権限」)."""

    #: The operator signed in (set by ``OperatorAdmin.get_form`` on the form's class, which
    #: the admin makes anew for each request).
    actor: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        password = self.fields.get("password")
        if password is not None and self.actor is not None and self.instance.pk == self.actor.pk:
            password.help_text = (
                "自分のパスワードは「パスワードの変更」で、現在のパスワードを入力して変更します。"
            )

    def clean_username(self) -> str:
        """A new username another account holds but for letter case is refused here, on
        the field; claimed in the admin's transaction, so that it still holds when saved."""
        username = self.cleaned_data["username"]
        if "username" in self.changed_data:
            _username_claim_on_field(username, account=self.instance.pk)
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = {
            name: cleaned[name]
            for name in self.changed_data
            if name in cleaned and name in PROFILE_FIELDS | RIGHTS_FIELDS
        }
        try:
            operator_change_check(actor=self.actor, operator=self.instance, values=values)
        except OperatorChangeRefused as refused:
            for field, errors in refused.errors.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


class OperatorCreationForm(AdminUserCreationForm):
    """A new operator: a username and a password the superuser chooses (always one: an
    operator signs in with it, and changes it at the first sign-in)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("usable_password", None)
        self.fields["password1"].required = self.fields["password2"].required = True

    def clean_username(self) -> str:
        """Django's refuses a username differing only by case (``iexact``) but is no check
        the save can rely on: two superusers adding Tanaka and tanaka at once both passed
        it. Claimed in the admin's transaction, compared as the constraint compares."""
        username = self.cleaned_data["username"]
        _username_claim_on_field(username)
        return username


class OperatorPasswordSetForm(AdminPasswordChangeForm):
    """A superuser sets another operator's password; it cannot be switched off here (that
    is deactivation, 「有効」, which keeps an active superuser)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("usable_password", None)
        self.fields["password1"].required = self.fields["password2"].required = True


@admin.register(User)
class OperatorAdmin(UserAdmin):
    """Operator accounts; this admin is served on the public host only (public schema).

    Django's ``UserAdmin`` let an operator with the "change user" permission change every
    operator's account, rights included. Now (``daicho.accounts.operators``, which every
    change goes through and which records it in the admin's log): an operator who is no
    superuser sees the accounts and changes their own profile only; a superuser adds
    operators, sets others' passwords and changes every account's rights, but never leaves
    the platform without an active superuser. One's own password is changed on the admin's
    password page, with the current one (the per-account password page sends one there)."""

    form = OperatorChangeForm
    add_form = OperatorCreationForm
    change_password_form = OperatorPasswordSetForm
    list_display = ["username", "display_name", "email", "is_staff", "is_superuser", "is_active"]
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Daicho", {"fields": ["display_name", "must_change_password"]}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "password1", "password2")}),)  # fmt: skip

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # Django's refuses ``?password__startswith=…`` (listed or not tells the hash a
        # character at a time); ``chosen_passwords`` holds hashes too, the current one's
        # until its owner changes it: an operator allowed to view accounts read it so.
        if lookup.startswith("chosen_passwords"):
            return False
        if _through_a_city_table(self.model, lookup):
            return False
        return bool(super().lookup_allowed(lookup, value, request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or request.user.is_superuser or obj.pk == request.user.pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Kept, deactivated (「有効」 off), as the record of who operated; and Django's delete
        # collector follows the user model's foreign keys into the cities' tables, which
        # the public schema does not have (a server error).
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        # Sign-in times and the flag are the system's to set, never typed.
        fixed = ["last_login", "date_joined", "must_change_password"]
        if request.user.is_superuser:
            return fixed
        shown = flatten_fieldsets(self.get_fieldsets(request, obj))
        return [
            f for f in shown if isinstance(f, str) and f not in PROFILE_FIELDS and f != "password"
        ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            created = operator_create(
                actor=_operator(request),
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
            obj.pk = created.pk
            obj.__dict__.update(created.__dict__)
            return
        relations = {
            name: form.cleaned_data[name]
            for name in ("groups", "user_permissions")
            if name in form.changed_data
        }
        operator_update(
            actor=_operator(request),
            operator=obj,
            fields=[name for name in form.changed_data if name not in relations],
            groups=relations.get("groups"),
            permissions=relations.get("user_permissions"),
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Groups and permissions were saved (and checked, and recorded) by the service.
        pass

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        # Recorded by the service, with what changed (``operators.change_message``).
        return None

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        """/admin/accounts/user/<id>/password/: a superuser sets another operator's password
        (``operator_password_set``). One's own goes to the admin's password page, which asks
        for the current one; an operator who is no superuser sets no one else's (403)."""
        operator = self.get_object(request, unquote(id))
        if operator is None:
            raise Http404
        if operator.pk == request.user.pk:
            return redirect("admin:password_change")
        if not (request.user.is_superuser and self.has_change_permission(request, operator)):
            raise PermissionDenied
        form = self.change_password_form(operator, request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                operator_password_set(
                    actor=_operator(request),
                    operator=operator,
                    password=form.cleaned_data["password1"],
                )
            except OperatorChangeRefused as refused:
                messages.error(request, str(refused))
            else:
                messages.success(
                    request,
                    "パスワードを設定しました。本人が次にログインしたとき、変更を求めます。",
                )
                return redirect("admin:accounts_user_change", operator.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"パスワードの設定: {operator.get_username()}",
            # Django's own page passes this form, which is no model form, as well.
            "adminForm": AdminForm(
                cast(Any, form), [(None, {"fields": list(form.base_fields)})], {}
            ),
            "form_url": form_url,
            "form": form,
            "is_popup": False,
            "add": True,
            "change": False,
            "has_delete_permission": False,
            "has_change_permission": True,
            "has_absolute_url": False,
            "opts": self.opts,
            "original": operator,
            "save_as": False,
            "show_save": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/auth/user/change_password.html", context)


class OperatorGroupAdmin(GroupAdmin):
    """Groups of operators' permissions: a group's permissions are every member's, so only a
    superuser adds, changes or deletes one (an operator allowed to change groups gave their
    own group any permission); the change is recorded with the permissions added and taken
    away."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> Any:
        message = super().construct_change_message(request, form, formsets, add)
        if add or "permissions" not in form.changed_data:
            return message

        def names(permissions: Any) -> list[str]:
            return sorted(f"{p.content_type.app_label}.{p.codename}" for p in permissions)

        before = names(form.initial.get("permissions") or [])
        after = names(form.cleaned_data["permissions"])
        return [*message, *change_message({"permissions": (before, after)}, Group)]


class OperationLogAdmin(admin.ModelAdmin):
    """「操作の記録」: Django's admin log of the public schema (who changed which operator's
    account, city, host or device, when, and what: an operator's account names each value
    before and after). Read only, for superusers and operators given "view log entry";
    nobody adds, changes or deletes an entry here."""

    list_display = ["action_time", "user", "action_flag", "content_type", "object_repr",
                    "change_text"]  # fmt: skip
    list_filter = ["action_flag", "content_type"]
    search_fields = ["object_repr", "user__username"]
    date_hierarchy = "action_time"
    list_select_related = ["user", "content_type"]
    fields = readonly_fields = ("action_time", "user", "action_flag", "content_type",
                                "object_id", "object_repr", "change_text")  # fmt: skip

    @admin.display(description="変更の内容")
    def change_text(self, entry: LogEntry) -> str:
        return entry.get_change_message()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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
    the QR code, the static tokens). A device is added to its adder's own account, and
    nobody, a superuser neither, gives it another owner."""

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

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # A filter of the list in the address (``?key__startswith=a``), listed or not, told
        # a superuser another operator's key a character at a time. Nobody finds a device
        # by its secret, its owner neither.
        if lookup.split("__", 1)[0] in self.secret_fields:
            return False
        return bool(super().lookup_allowed(lookup, value, request))

    def get_list_display(self, request: HttpRequest) -> Any:
        # The QR code is opened from the owner's own device page, never from a list.
        return [f for f in super().get_list_display(request) if f not in self.secret_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A device is its owner's, who added it: nobody names another owner, a superuser
        # neither (a device of a key they typed, added to another operator's account or
        # handed to it, made that operator's codes theirs).
        return [*super().get_readonly_fields(request, obj), "user"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.user_id != request.user.pk:
            return _without(fieldsets, self.secret_fields)
        return fieldsets

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
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


class SuperusersOnlyAdmin(admin.ModelAdmin):
    """django-axes' admin of the operators' sign-ins (public schema): the attempt counters
    that lock a username+IP out, and axes' logs of sign-ins and failures.

    axes showed them to every operator given "view", and let one given "delete" delete
    them: such an operator lifted any operator's lockout, a superuser's included, so kept
    guessing the superuser's password past the limit, and read every operator's failed
    sign-ins (usernames, addresses, times). Only a superuser now sees, deletes (lifts a
    lockout; the deletion is in the admin's log) or runs an action on them; nobody changes
    one. To an operator who is no superuser they do not exist, whatever their permissions
    (the section is not listed, and its pages answer 403)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def get_actions(self, request: HttpRequest) -> Any:
        # axes' 「Clean up expired attempts」 asks for no permission of its own.
        return super().get_actions(request) if request.user.is_superuser else {}


class OperatorAccessAttemptAdmin(SuperusersOnlyAdmin, AccessAttemptAdmin):
    pass


class OperatorAccessLogAdmin(SuperusersOnlyAdmin, AccessLogAdmin):
    pass


class OperatorAccessFailureLogAdmin(SuperusersOnlyAdmin, AccessFailureLogAdmin):
    pass


for model, model_admin in ((TOTPDevice, OperatorTOTPDeviceAdmin),
                           (StaticDevice, OperatorStaticDeviceAdmin),
                           (Group, OperatorGroupAdmin), (LogEntry, OperationLogAdmin),
                           (AccessAttempt, OperatorAccessAttemptAdmin),
                           (AccessLog, OperatorAccessLogAdmin),
                           (AccessFailureLog, OperatorAccessFailureLogAdmin)):  # fmt: skip
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
