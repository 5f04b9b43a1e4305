"""The operator admin on the public host: municipalities and their domains.

Operators provision, suspend and resume cities here. Nothing here reads a city's schema:
operators never see a city's records. Every write goes through ``tenants.services``, which
leaves the operator's change in the city's own audit trail.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from tenants.exceptions import ProvisioningConflict, ProvisioningInvalid
from tenants.models import Domain, Municipality
from tenants.services import (
    PUBLIC_SCHEMA,
    domain_host_clean,
    domain_remove,
    domain_save,
    municipality_provision,
    municipality_resume,
    municipality_settings_check,
    municipality_suspend,
    municipality_update,
)


class MunicipalityProvisionForm(forms.ModelForm):
    """The add form: what `municipality_provision` needs, validated by it."""

    #: The operator signed in (set by ``MunicipalityAdmin.get_form`` on the form's class,
    #: which the admin makes anew for each request), named in the new city's trail.
    operator: Any = None

    slug = forms.SlugField(label="スラッグ（スキーマ名）", max_length=40)
    domain = forms.CharField(label="ドメイン", max_length=253)
    admin_username = forms.CharField(label="最初の管理者のユーザー名", max_length=150)
    admin_password = forms.CharField(label="最初の管理者のパスワード", widget=forms.PasswordInput)

    class Meta:
        model = Municipality
        fields = ["name", "code"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._result = None
        try:
            self._result = municipality_provision(
                actor=self.operator,
                slug=data.get("slug", ""),
                name=data.get("name", ""),
                code=data.get("code", ""),
                domain=data.get("domain", ""),
                admin_username=data.get("admin_username", ""),
                admin_password=data.get("admin_password", ""),
            )
        except ProvisioningInvalid as exc:
            for field, errors in exc.errors.items():
                self.add_error(field if field in self.fields else None, errors)
        except ProvisioningConflict as exc:
            self.add_error(None, str(exc))
        return data

    def _post_clean(self) -> None:
        # The service validated and created the row; the model's own checks (uniqueness of
        # the code it has just taken) must not run again on the unsaved form instance.
        pass


class DomainForm(forms.ModelForm):
    """A city's host, on its page (the inline) and on the domains' pages: the name is held to
    the rule provisioning holds it to (``tenants.services.domain_host_clean``), before the
    form's uniqueness check reads it, and shown with its Japanese reason."""

    class Meta:
        model = Domain
        fields = ["domain", "tenant", "is_primary"]

    def clean_domain(self) -> str:
        try:
            return domain_host_clean(self.cleaned_data.get("domain", ""))
        except ProvisioningInvalid as exc:
            raise forms.ValidationError(exc.errors["domain"]) from exc


class MunicipalityChangeForm(forms.ModelForm):
    """A city's page: what ``municipality_update`` would refuse is shown on the form."""

    class Meta:
        model = Municipality
        fields = ["name", "suspended_reason"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            municipality_settings_check(
                name=data.get("name", ""), suspended_reason=data.get("suspended_reason", ""),
                stored=self.instance,  # as read: the form's values are set on it after this
            )  # fmt: skip
        except ProvisioningInvalid as exc:
            for field, errors in exc.errors.items():
                self.add_error(field, errors)
        return data


class DomainInline(admin.TabularInline):
    model = Domain
    form = DomainForm
    extra = 0
    fields = ["domain", "is_primary"]


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "prefecture", "schema_name", "status", "created_at"]
    list_filter = ["status", "prefecture"]
    search_fields = ["name", "code", "schema_name", "domains__domain"]
    readonly_fields = [
        "schema_name",
        "code",
        "prefecture",
        "status",
        "status_changed_at",
        "created_at",
    ]
    fields = ["name", "schema_name", "code", "prefecture", "status", "suspended_reason",
              "status_changed_at", "created_at"]  # fmt: skip
    inlines = [DomainInline]
    # Each for operators who may change cities (``permissions=["change"]``): Django offers an
    # action that names none to whoever may open the list, and one allowed only to view
    # cities suspended them all or resumed one suspended on purpose.
    actions = ["suspend", "resume"]
    form = MunicipalityChangeForm

    def get_queryset(self, request: HttpRequest) -> QuerySet[Municipality]:
        return super().get_queryset(request).exclude(schema_name=PUBLIC_SCHEMA)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        if obj is None:
            kwargs["form"] = MunicipalityProvisionForm
            kwargs["fields"] = None
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            form.operator = request.user
        return form

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return ["name", "code", "slug", "domain", "admin_username", "admin_password"]
        return list(self.fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else list(self.readonly_fields)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[admin.TabularInline]]:
        return [] if obj is None else list(self.inlines)

    def save_model(self, request: HttpRequest, obj: Municipality, form: Any, change: bool) -> None:
        if change:
            municipality_update(actor=request.user, municipality=obj)
            return
        # Provisioning already happened in the form's clean(), in its own transaction.
        result = form._result
        obj.pk = result.municipality.pk
        obj.__dict__.update(result.municipality.__dict__)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # The city's hosts (DomainInline), each through the services, in the order Django
        # saves them: removals, changes, additions.
        formset.save(commit=False)
        for domain in formset.deleted_objects:
            domain_remove(actor=request.user, domain=domain)
        for domain in [*(d for d, _fields in formset.changed_objects), *formset.new_objects]:
            domain_save(actor=request.user, domain=domain)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A city's records are kept for their retention period: no deletion from the admin.
        return False

    @admin.action(description="選択した自治体を利用停止する", permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Municipality]) -> None:
        for municipality in queryset:
            municipality_suspend(
                actor=request.user, municipality=municipality, reason="運用者による停止"
            )
        self.message_user(request, f"{queryset.count()} 件を利用停止しました。", messages.SUCCESS)

    @admin.action(description="選択した自治体の利用を再開する", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Municipality]) -> None:
        for municipality in queryset:
            municipality_resume(actor=request.user, municipality=municipality)
        self.message_user(request, f"{queryset.count()} 件の利用を再開しました。", messages.SUCCESS)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    """The cities' hosts. The platform's own (the operators' host, ``BASE_DOMAIN``) are not
    listed here, nor can a host be given to the platform's row: renamed or moved to a city,
    it took the operators' admin away (the host then routed to the city, or nowhere), and a
    host added to it opened the admin on a name of the operator's choosing. They change
    with the deployment only (``tenants.services.domain_save`` refuses them too)."""

    form = DomainForm
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain", "tenant__name"]
    list_select_related = ["tenant"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Domain]:
        return super().get_queryset(request).exclude(tenant__schema_name=PUBLIC_SCHEMA)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "tenant":
            kwargs["queryset"] = Municipality.objects.exclude(schema_name=PUBLIC_SCHEMA)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Domain, form: Any, change: bool) -> None:
        domain_save(actor=request.user, domain=obj)

    def delete_model(self, request: HttpRequest, obj: Domain) -> None:
        domain_remove(actor=request.user, domain=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Domain]) -> None:
        # The list's 「削除」 action: one host at a time, each in its city's trail.
        for domain in queryset:
            domain_remove(actor=request.user, domain=domain)
