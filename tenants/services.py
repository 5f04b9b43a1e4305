"""Writes to municipalities and their hosts: provisioning, changes, suspension, resumption.

These services are the only code that creates or changes a ``Municipality`` or a
``Domain``; the operator admin and the ``provision_tenant`` command call them. Each change
to a city leaves an ``operator.…`` event in the city's own audit trail, in the change's
transaction (``ledgers.audit.services.audit_operator_change``, docs/audit.md): the city's
administrators and auditors see what operators did to it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from ledgers.audit.services import audit_operator_change
from ledgers.fields.normalize import text_problem
from tenants.cloning import schema_clone, template_ensure
from tenants.codes import prefecture_of, validate_municipality_code
from tenants.exceptions import ProvisioningConflict, ProvisioningInvalid
from tenants.models import SLUG_RE, Domain, Municipality

logger = logging.getLogger(__name__)

_HOST_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
#: ``via`` of a change made in the operators' admin (a command passes ``manage.py …``).
VIA_ADMIN = "admin"
#: The platform's own row: its hosts are the operators' (``public_hosts``).
PUBLIC_SCHEMA = "public"
# Schema names that a city can never take.
_RESERVED_SLUGS = {"public", "information_schema", "pg_catalog", "pg_toast", "admin", "www", "api"}
#: The longest username an account holds (``User.username``).
_USERNAME_MAX = 150


@dataclass(frozen=True)
class ProvisionResult:
    municipality: Municipality
    domain: str
    admin_username: str
    created: bool


def public_hosts() -> set[str]:
    """The platform's own hosts, where operators sign in: ``BASE_DOMAIN`` and every host of
    the platform's row (schema ``public``). Set by deployment (``BASE_DOMAIN``, which each
    migration of the public schema makes sure of), never by an operator's page."""
    hosts = set(
        Domain.objects.filter(tenant__schema_name=PUBLIC_SCHEMA).values_list("domain", flat=True)
    )
    return hosts | {settings.BASE_DOMAIN.lower()}


def domain_host_clean(domain: str) -> str:
    """``domain`` as a city's host is stored: trimmed and in lower case, a host name of
    ASCII letters, digits, hyphens and dots, no port, no trailing dot, no ``www.`` (the
    router drops it from a request's host, so such a host is never reached), and none of
    the platform's own hosts (``public_hosts``). Provisioning and every change of a host
    (``domain_save``) hold it to this one rule; ``ProvisioningInvalid`` says why not, for
    the field ``domain``."""
    host = (domain or "").strip()

    def refuse(message: str) -> ProvisioningInvalid:
        return ProvisioningInvalid({"domain": [message]})

    if not host:
        raise refuse("ドメインを入力してください。")
    if not host.isascii():
        raise refuse(
            "ドメインは半角英数字で入力してください（日本語ドメインは xn-- で始まる形に"
            "変換して入力します）。"
        )
    host = host.lower()
    if ":" in host:
        raise refuse("ドメインにポート番号（:8000 など）は付けられません。")
    if host.endswith("."):
        raise refuse("ドメインの末尾にドット（.）は付けないでください。")
    if not _HOST_RE.match(host):
        raise refuse("ドメインは英小文字・数字・ハイフン・ドットからなるホスト名にしてください。")
    if host.startswith("www."):
        raise refuse("「www.」で始まるドメインは使えません（「www.」を除いた名前で届きます）。")
    if host in public_hosts():
        raise refuse("運用者用の公開ドメインは自治体に割り当てられません。")
    return host


def _validate_provision_input(
    *, slug: str, name: str, code: str, domain: str, admin_username: str, admin_password: str
) -> str:
    """Raise ``ProvisioningInvalid`` with every field's errors; else the host as stored."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not re.match(SLUG_RE, slug or "") or slug.startswith("pg_"):
        add("slug", "英小文字で始まる英小文字・数字・_ の2〜40文字にしてください。")
    elif slug in _RESERVED_SLUGS:
        add("slug", f"「{slug}」は予約語のため使えません。")
    elif _sql_keyword(slug):
        add("slug", f"「{slug}」はデータベース（SQL）の予約語のため使えません。")
    if not (name or "").strip():
        add("name", "自治体名を入力してください。")
    elif len(name) > 100:
        add("name", "自治体名は100文字以内にしてください。")
    elif problem := _name_problem(name):
        add("name", problem)
    try:
        validate_municipality_code(code)
    except ValidationError as exc:
        for message in exc.messages:
            add("code", message)
    try:
        domain = domain_host_clean(domain)
    except ProvisioningInvalid as exc:
        errors.update(exc.errors)
    try:
        UnicodeUsernameValidator()(admin_username or "")
        if not admin_username:
            raise ValidationError("管理者のユーザー名を入力してください。")
        if len(admin_username) > _USERNAME_MAX:
            raise ValidationError(f"管理者のユーザー名は{_USERNAME_MAX}文字以内にしてください。")
    except ValidationError as exc:
        for message in exc.messages:
            add("admin_username", message)
    try:
        user_model = get_user_model()
        validate_password(admin_password or "", user_model(username=admin_username))
    except ValidationError as exc:
        for message in exc.messages:
            add("admin_password", message)
    if errors:
        raise ProvisioningInvalid(errors)
    return domain


def _sql_keyword(slug: str) -> bool:
    """Whether ``slug`` is one of PostgreSQL's keywords that cannot name a schema unquoted
    (reserved, or reserved but for function and type names: ``user``, ``select``, ``all``,
    ``join`` …). Schema names are written unquoted where definitions are copied
    (``tenants.cloning``) and in operators' SQL: such a city's clone was a syntax error, a
    server error in the admin. Asked of the server, whose version decides the list."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_get_keywords() WHERE word = %s AND catcode IN ('R', 'T')", [slug]
        )
        return cursor.fetchone() is not None


def _name_problem(name: str) -> str | None:
    """The stored-text rule (``text_problem``) on a city's name, one line: it is shown on
    the city's pages and in its trail, and its first administrator's display name is made
    of it (「三鷹市 管理者」). A name pasted from a web page with a zero-width space, or typed
    with a right-to-left override, reads as another city's or not as it is."""
    problem = text_problem(name, allow_newlines=False)
    return None if problem is None else f"自治体名に{problem}。"


def municipality_settings_check(
    *, name: str, suspended_reason: str, stored: Municipality | None = None
) -> None:
    """Refuse (``ProvisioningInvalid``) settings ``municipality_update`` may not write: a
    name or a suspension reason (both in the city's trail) that ``text_problem`` refuses.
    What the city's row (``stored``) already holds passes, written before the rule: a host
    changed on the city's page must not fail on its name."""
    errors: dict[str, list[str]] = {}
    if (name != getattr(stored, "name", None)) and (problem := _name_problem(name or "")):
        errors["name"] = [problem]
    if suspended_reason != getattr(stored, "suspended_reason", None) and (
        problem := text_problem(suspended_reason or "")
    ):
        errors["suspended_reason"] = [f"停止理由に{problem}。"]
    if errors:
        raise ProvisioningInvalid(errors)


def _check_existing_matches(
    existing: Municipality, *, name: str, code: str, domain: str, admin_username: str
) -> None:
    differences = []
    if existing.name != name:
        differences.append(f"自治体名（登録済み: {existing.name}）")
    if existing.code != code:
        differences.append(f"コード（登録済み: {existing.code}）")
    if not existing.domains.filter(domain=domain).exists():
        registered = ", ".join(existing.domains.values_list("domain", flat=True))
        differences.append(f"ドメイン（登録済み: {registered}）")
    # Compared with what was typed when the city was opened, never with the city's staff
    # directory: the operators' admin must not tell whether a username exists in a city.
    if (
        existing.admin_username
        and get_user_model().normalize_username(existing.admin_username) != admin_username
    ):
        differences.append(f"最初の管理者のユーザー名（登録済み: {existing.admin_username}）")
    if differences:
        raise ProvisioningConflict(
            f"スラッグ「{existing.schema_name}」の自治体は既に別の内容で登録されています: "
            + "、".join(differences)
        )


def municipality_provision(
    *,
    actor: object | None,
    slug: str,
    name: str,
    code: str,
    domain: str,
    admin_username: str,
    admin_password: str,
    via: str = VIA_ADMIN,
) -> ProvisionResult:
    """Create a city: its row, its host, its schema and its first administrator.

    The schema is a clone of the migrated template schema (``tenants.cloning``): flat in the
    number of cities, and well under a second.

    All of it happens in one transaction (PostgreSQL DDL is transactional), so a failure
    leaves nothing behind. Calling it again with the same values returns the existing city
    (``created=False``); a call that conflicts with an existing slug, code or domain raises
    ``ProvisioningConflict`` and changes nothing. The administrator's password is not
    compared on a repeat call: the administrator may have changed it since.
    The city's trail opens with ``operator.municipality_provisioned``: who opened it
    (``actor``, the operator; None from a command, named by ``via``) and with what.
    """
    slug, name, code = (slug or "").strip(), (name or "").strip(), (code or "").strip()
    # As the account will hold it (NFKC: ａｄｍｉｎ is admin), and as the city's row keeps
    # it for a repeated call to be compared with.
    admin_username = get_user_model().normalize_username(admin_username or "")
    domain = _validate_provision_input(
        slug=slug, name=name, code=code, domain=domain,
        admin_username=admin_username, admin_password=admin_password,
    )  # fmt: skip

    existing = Municipality.objects.filter(schema_name=slug).first()
    if existing is not None:
        _check_existing_matches(
            existing, name=name, code=code, domain=domain, admin_username=admin_username
        )
        return ProvisionResult(existing, domain, admin_username, created=False)

    holder = Municipality.objects.filter(code=code).first()
    if holder is not None:
        raise ProvisioningConflict(
            f"コード {code} は既に {holder.name}（{holder.schema_name}）が使用しています。"
        )
    taken = Domain.objects.filter(domain=domain).select_related("tenant").first()
    if taken is not None:
        raise ProvisioningConflict(
            f"ドメイン {domain} は既に {taken.tenant.name}（{taken.tenant.schema_name}）が使用しています。"
        )

    try:
        with transaction.atomic():
            municipality = Municipality.objects.create(
                schema_name=slug, name=name, code=code, prefecture=prefecture_of(code),
                admin_username=admin_username,
            )  # fmt: skip
            Domain.objects.create(domain=domain, tenant=municipality, is_primary=True)
            template_ensure()
            schema_clone(slug)
            with schema_context(slug):
                # The operator typed this password: the administrator must change it at
                # the first sign-in before anything else (``must_change_password``).
                user_model = get_user_model()
                admin = user_model(
                    username=admin_username,
                    display_name=f"{name} 管理者",
                    is_city_admin=True,
                )
                admin.set_password_chosen_by_other(admin_password)
                admin.save()
            _audit(
                municipality, actor=actor, via=via, action="operator.municipality_provisioned",
                changes={"name": (None, name), "code": (None, code), "domain": (None, domain),
                         "admin_username": (None, admin_username)},
            )  # fmt: skip
    except ProgrammingError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "42P06":  # duplicate_schema
            raise
        raise ProvisioningConflict(
            f"スキーマ「{slug}」がデータベースに既に存在します（自治体としては未登録）。"
            "運用者が内容を確認してから削除してください。"
        ) from exc
    except IntegrityError as exc:
        # A concurrent call took the slug, code or domain between our check and insert.
        raise ProvisioningConflict(
            f"スラッグ「{slug}」・コード {code}・ドメイン {domain} のいずれかが同時に登録されました。"
        ) from exc
    logger.info("municipality provisioned: schema=%s code=%s", slug, code)
    return ProvisionResult(municipality, domain, admin_username, created=True)


def _audit(
    municipality: Municipality,
    *,
    actor: object | None,
    via: str,
    action: str,
    changes: dict[str, tuple[object, object]],
    domain: str = "",
) -> None:
    """The operator's change in the city's trail; the platform's own row (public) has none."""
    if municipality.is_public:
        return
    audit_operator_change(
        schema=municipality.schema_name, operator=actor, via=via, action=action,
        changes=changes, domain=domain,
    )  # fmt: skip


def _differences(
    before: object, after: object, fields: list[str]
) -> dict[str, tuple[object, object]]:
    return {
        name: (getattr(before, name), getattr(after, name))
        for name in fields
        if getattr(before, name) != getattr(after, name)
    }


def _status_set(
    *, actor: object | None, municipality: Municipality, status: str, reason: str, via: str,
    action: str,
) -> Municipality:  # fmt: skip
    with transaction.atomic():
        before = Municipality.objects.select_for_update().get(pk=municipality.pk)
        municipality.status = status
        municipality.suspended_reason = reason
        municipality.status_changed_at = timezone.now()
        municipality.save(update_fields=["status", "suspended_reason", "status_changed_at"])
        _audit(
            municipality, actor=actor, via=via, action=action,
            changes=_differences(before, municipality, ["status", "suspended_reason"]),
        )  # fmt: skip
    return municipality


def municipality_suspend(
    *, actor: object | None, municipality: Municipality, reason: str, via: str = VIA_ADMIN
) -> Municipality:
    """Suspend a city: its hosts answer 403 until it is resumed. Its data is untouched.

    ``operator.municipality_suspended`` in its trail (status and reason, from → to)."""
    if municipality.is_public:
        raise ProvisioningInvalid({"status": ["運用基盤（public）は停止できません。"]})
    _status_set(
        actor=actor, municipality=municipality, status=Municipality.Status.SUSPENDED,
        reason=reason, via=via, action="operator.municipality_suspended",
    )  # fmt: skip
    logger.info("municipality suspended: schema=%s", municipality.schema_name)
    return municipality


def municipality_resume(
    *, actor: object | None, municipality: Municipality, via: str = VIA_ADMIN
) -> Municipality:
    """Resume a suspended city (``operator.municipality_resumed`` in its trail)."""
    _status_set(
        actor=actor, municipality=municipality, status=Municipality.Status.ACTIVE, reason="",
        via=via, action="operator.municipality_resumed",
    )  # fmt: skip
    logger.info("municipality resumed: schema=%s", municipality.schema_name)
    return municipality


#: What an operator may change of a city's row after provisioning (the rest is fixed, or
#: changes only by suspension and resumption).
MUNICIPALITY_SETTINGS = ["name", "suspended_reason"]


def municipality_update(
    *, actor: object | None, municipality: Municipality, via: str = VIA_ADMIN
) -> Municipality:
    """Save an operator's change of the city's settings (``MUNICIPALITY_SETTINGS``, as set on
    ``municipality``); ``operator.municipality_changed`` in its trail names each from → to.
    Settings ``municipality_settings_check`` refuses are not written (``ProvisioningInvalid``)."""
    with transaction.atomic():
        before = Municipality.objects.select_for_update().get(pk=municipality.pk)
        municipality_settings_check(
            name=municipality.name, suspended_reason=municipality.suspended_reason,
            stored=before,
        )  # fmt: skip
        municipality.save(update_fields=MUNICIPALITY_SETTINGS)
        _audit(
            municipality, actor=actor, via=via, action="operator.municipality_changed",
            changes=_differences(before, municipality, MUNICIPALITY_SETTINGS),
        )  # fmt: skip
    return municipality


def _primary_host(municipality_id: int) -> str | None:
    return (
        Domain.objects.filter(tenant_id=municipality_id, is_primary=True)
        .values_list("domain", flat=True)
        .first()
    )


def _platform_host_refused() -> ProvisioningInvalid:
    return ProvisioningInvalid({"domain": [
        "運用基盤（運用者用の公開ドメイン）のドメインは、管理画面では追加・変更・削除できません"
        "（配備の設定 BASE_DOMAIN で決まります）。"
    ]})  # fmt: skip


def domain_save(*, actor: object | None, domain: Domain, via: str = VIA_ADMIN) -> Domain:
    """Add a host to a city, or save an operator's change of one (its name, whether it is
    the city's primary host, or the city it serves), as set on ``domain``.

    The city's trail gets ``operator.domain_added`` or ``operator.domain_changed``; a host
    moved to another city is ``operator.domain_removed`` in the one it leaves and
    ``operator.domain_added`` in the one it joins. When the city's primary host changes
    with it (django-tenants keeps one per city), ``primary_domain`` says from which to which.

    The name is held to ``domain_host_clean`` (and stored as it gives it); a name another
    city holds is ``ProvisioningConflict``. The platform's own hosts are no city's: one
    cannot be renamed, moved to a city, nor a host added to the platform's row
    (``ProvisioningInvalid``); they change with the deployment only (``BASE_DOMAIN``).
    Nothing is saved when it raises.
    """
    domain.domain = domain_host_clean(domain.domain)
    with transaction.atomic():
        before = (
            Domain.objects.select_for_update().select_related("tenant").filter(pk=domain.pk).first()
            if domain.pk is not None
            else None
        )
        if domain.tenant.is_public or (before is not None and before.tenant.is_public):
            raise _platform_host_refused()
        holder = (
            Domain.objects.filter(domain=domain.domain)
            .exclude(pk=domain.pk)
            .select_related("tenant")
            .first()
        )
        if holder is not None:
            raise ProvisioningConflict(
                f"ドメイン {domain.domain} は既に {holder.tenant.name}"
                f"（{holder.tenant.schema_name}）が使用しています。"
            )
        cities = {domain.tenant_id} | ({before.tenant_id} if before else set())
        primary_before = {city: _primary_host(city) for city in cities}
        domain.save()
        primary = {city: (primary_before[city], _primary_host(city)) for city in cities}

        def and_primary(city: int, changes: dict[str, tuple[object, object]]) -> dict:
            if primary[city][0] != primary[city][1]:
                changes["primary_domain"] = primary[city]
            return changes

        if before is not None and before.tenant_id == domain.tenant_id:
            _audit(
                domain.tenant, actor=actor, via=via, action="operator.domain_changed",
                domain=domain.domain,
                changes=and_primary(
                    domain.tenant_id, _differences(before, domain, ["domain", "is_primary"])
                ),
            )  # fmt: skip
            return domain
        if before is not None:
            _audit(
                before.tenant, actor=actor, via=via, action="operator.domain_removed",
                domain=before.domain,
                changes=and_primary(before.tenant_id, {"domain": (before.domain, None),
                                                       "is_primary": (before.is_primary, None)}),
            )  # fmt: skip
        _audit(
            domain.tenant, actor=actor, via=via, action="operator.domain_added",
            domain=domain.domain,
            changes=and_primary(domain.tenant_id, {"domain": (None, domain.domain),
                                                   "is_primary": (None, domain.is_primary)}),
        )  # fmt: skip
    return domain


def domain_remove(*, actor: object | None, domain: Domain, via: str = VIA_ADMIN) -> None:
    """Take a host from its city (``operator.domain_removed`` in the city's trail; when it
    was the primary one, ``primary_domain`` from it to none: no other is made primary).
    The platform's own hosts are refused (``ProvisioningInvalid``), as in ``domain_save``."""
    with transaction.atomic():
        before = Domain.objects.select_for_update().select_related("tenant").get(pk=domain.pk)
        if before.tenant.is_public:
            raise _platform_host_refused()
        primary_before = _primary_host(before.tenant_id)
        before.delete()
        changes: dict[str, tuple[object, object]] = {
            "domain": (before.domain, None), "is_primary": (before.is_primary, None),
        }  # fmt: skip
        if primary_before != (primary_after := _primary_host(before.tenant_id)):
            changes["primary_domain"] = (primary_before, primary_after)
        _audit(
            before.tenant, actor=actor, via=via, action="operator.domain_removed",
            domain=before.domain, changes=changes,
        )  # fmt: skip


def platform_ensure_public_tenant(*, domain: str | None = None) -> Municipality:
    """Make sure the platform row (schema ``public``) and its host ``BASE_DOMAIN`` exist.

    Runs after every migration of the public schema, so the operator host always routes.
    """
    domain = (domain or settings.BASE_DOMAIN).lower()
    public, _ = Municipality.objects.get_or_create(
        schema_name="public", defaults={"name": "Daicho 運用基盤"}
    )
    Domain.objects.get_or_create(domain=domain, defaults={"tenant": public, "is_primary": True})
    return public
