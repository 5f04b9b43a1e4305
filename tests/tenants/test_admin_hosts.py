"""Host names typed in the operators' admin are held to the rule provisioning holds them to,
and the platform's own host (where operators sign in) is no operator's to change.

Before, the domains' pages and the hosts on a city's page saved any text: a host in capitals
(never matched: a browser sends it in lower case), with a trailing dot, a space, kanji, a
port, ``www.`` (which the router drops), or the operators' own host; and they listed the
platform's host, which an operator could rename, move to a city (the operators' admin then
answered as that city) or delete, and let them add a host to the platform's row (the admin
opened on a name of their choosing). Every save goes through ``tenants.services.domain_save``,
which holds the name to ``domain_host_clean`` and refuses the platform's hosts; the forms
show the Japanese reason and nothing is saved or written to the city's trail.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Max
from django.test import Client
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from tenants.exceptions import ProvisioningInvalid
from tenants.models import Domain, Municipality
from tenants.services import domain_host_clean, domain_remove, domain_save
from tests.conftest import ADMIN_PASSWORD, City

User = get_user_model()
PASSWORD = "Unyou-kanri-2026"
PUBLIC_HOST = "localhost"  # BASE_DOMAIN under the test settings

# (typed, a part of the Japanese reason the form shows)
REFUSED = [
    ("mitaka2.localhost.", "末尾にドット"),
    ("mi taka.localhost", "英小文字・数字・ハイフン・ドット"),
    ("三鷹.localhost", "xn-- で始まる形"),
    ("ｍｉｔａｋａ.localhost", "半角英数字"),
    ("mitaka2.localhost:8000", "ポート番号"),
    ("www.mitaka2.localhost", "「www.」で始まる"),
    ("-mitaka.localhost", "英小文字・数字・ハイフン・ドット"),
    ("mitaka..localhost", "英小文字・数字・ハイフン・ドット"),
    (PUBLIC_HOST, "運用者用の公開ドメイン"),
    (" LocalHost ", "運用者用の公開ドメイン"),
]
REFUSED_IDS = ["trailing-dot", "space", "kanji", "full-width", "port", "www", "hyphen-first",
               "empty-label", "public-host", "public-host-in-capitals"]  # fmt: skip


def _hosts_operator() -> User:
    """An operator who is no superuser, allowed to manage cities and their hosts."""
    operator = User.objects.create_user(username="hosts", password=PASSWORD, is_staff=True)
    operator.user_permissions.set(
        Permission.objects.filter(content_type__app_label="tenants",
                                  codename__regex=r"_(municipality|domain)$")
    )  # fmt: skip
    return operator


@pytest.fixture(params=["superuser", "operator"])
def host_admin(request: Any, cities: dict, db: None) -> Client:
    """A superuser, and an operator who is no superuser, signed in to the operators' admin."""
    if request.param == "superuser":
        User.objects.create_superuser(username="kanri", password=PASSWORD, email="")
        username = "kanri"
    else:
        username = _hosts_operator().username
    client = Client(HTTP_HOST=PUBLIC_HOST)
    assert client.login(username=username, password=PASSWORD)
    return client


def _last_seq(slug: str) -> int:
    with schema_context(slug):
        return AuditEvent.objects.aggregate(last=Max("seq"))["last"] or 0


def _hosts() -> list[tuple[str, str]]:
    return sorted(Domain.objects.values_list("domain", "tenant__schema_name"))


def _inline_form(client: Client, municipality: Municipality, **changed: Any) -> dict[str, Any]:
    """The city's page as it shows it (name, its hosts), then ``changed``."""
    page = client.get(f"/admin/tenants/municipality/{municipality.pk}/change/")
    assert page.status_code == 200
    (inline,) = page.context["inline_admin_formsets"]
    formset = inline.formset
    data: dict[str, Any] = {"name": municipality.name, "suspended_reason": ""}
    data.update({f"domains-{k}": v for k, v in formset.management_form.initial.items()})
    for i, form in enumerate(formset.forms):
        data.update({f"domains-{i}-id": form.instance.pk, f"domains-{i}-tenant": municipality.pk,
                     f"domains-{i}-domain": form.instance.domain})  # fmt: skip
        if form.instance.is_primary:
            data[f"domains-{i}-is_primary"] = "on"
    data.update(changed)
    return data


def _refused(answer: Any, reason: str) -> None:
    assert answer.status_code == 200, answer.status_code  # the form again
    assert reason in answer.content.decode()


@pytest.mark.parametrize(("typed", "reason"), REFUSED, ids=REFUSED_IDS)
def test_the_domains_add_page_refuses_what_provisioning_refuses(
    host_admin: Client, mitaka: City, typed: str, reason: str
) -> None:
    before, since = _hosts(), _last_seq(mitaka.slug)
    answer = host_admin.post(
        "/admin/tenants/domain/add/", {"domain": typed, "tenant": mitaka.municipality.pk}
    )
    _refused(answer, reason)
    assert _hosts() == before
    assert _last_seq(mitaka.slug) == since


@pytest.mark.parametrize(("typed", "reason"), REFUSED, ids=REFUSED_IDS)
def test_the_domains_change_page_refuses_it(
    host_admin: Client, mitaka: City, typed: str, reason: str
) -> None:
    before, since = _hosts(), _last_seq(mitaka.slug)
    host = Domain.objects.get(domain=mitaka.domain)
    answer = host_admin.post(
        f"/admin/tenants/domain/{host.pk}/change/",
        {"domain": typed, "tenant": mitaka.municipality.pk, "is_primary": "on"},
    )
    _refused(answer, reason)
    assert _hosts() == before
    assert _last_seq(mitaka.slug) == since


@pytest.mark.parametrize(("typed", "reason"), REFUSED, ids=REFUSED_IDS)
@pytest.mark.parametrize("how", ["added", "renamed"])
def test_a_city_s_page_refuses_it_for_its_hosts(
    host_admin: Client, mitaka: City, typed: str, reason: str, how: str
) -> None:
    before, since = _hosts(), _last_seq(mitaka.slug)
    municipality = mitaka.municipality
    edit = (
        {"domains-1-domain": typed, "domains-1-tenant": municipality.pk,
         "domains-TOTAL_FORMS": "2", "name": "三鷹市役所"}
        if how == "added" else {"domains-0-domain": typed, "name": "三鷹市役所"}
    )  # fmt: skip
    answer = host_admin.post(
        f"/admin/tenants/municipality/{municipality.pk}/change/",
        _inline_form(host_admin, municipality, **edit),
    )
    _refused(answer, reason)
    assert _hosts() == before
    assert Municipality.objects.get(pk=municipality.pk).name == "三鷹市"
    assert _last_seq(mitaka.slug) == since


@pytest.mark.parametrize("page", ["domain", "city"])
def test_a_host_in_capitals_is_stored_in_lower_case(
    host_admin: Client, mitaka: City, page: str
) -> None:
    """As provisioning stores it: a browser sends the host in lower case, and a host stored
    in capitals was never matched."""
    municipality = mitaka.municipality
    if page == "domain":
        answer = host_admin.post(
            "/admin/tenants/domain/add/", {"domain": " EXTRA.Localhost ", "tenant": municipality.pk}
        )
    else:
        answer = host_admin.post(
            f"/admin/tenants/municipality/{municipality.pk}/change/",
            _inline_form(host_admin, municipality, **{
                "domains-1-domain": " EXTRA.Localhost ", "domains-1-tenant": municipality.pk,
                "domains-TOTAL_FORMS": "2"}),
        )  # fmt: skip
    assert answer.status_code == 302, answer.content.decode()[:3000]
    assert Domain.objects.get(domain="extra.localhost").tenant_id == municipality.pk
    assert not Domain.objects.filter(domain__contains="EXTRA").exists()
    assert Client().get("/accounts/login/", HTTP_HOST="extra.localhost").status_code == 200


def test_a_host_in_capitals_another_city_holds_is_refused(
    host_admin: Client, mitaka: City, musashino: City
) -> None:
    """The form's uniqueness check reads the name as it will be stored."""
    before = _hosts()
    answer = host_admin.post(
        "/admin/tenants/domain/add/",
        {"domain": musashino.domain.upper(), "tenant": mitaka.municipality.pk},
    )
    assert answer.status_code == 200
    assert _hosts() == before


def _platform_host() -> Domain:
    return Domain.objects.get(domain=PUBLIC_HOST)


def _admin_still_opens(client: Client) -> None:
    assert Domain.objects.get(domain=PUBLIC_HOST).tenant.schema_name == "public"
    assert client.get("/admin/").status_code == 200


def test_the_platform_s_host_is_not_listed(host_admin: Client, mitaka: City) -> None:
    listed = host_admin.get("/admin/tenants/domain/")
    assert listed.status_code == 200
    assert mitaka.domain in listed.content.decode()
    assert [h.domain for h in listed.context["cl"].result_list if h.domain == PUBLIC_HOST] == []
    searched = host_admin.get("/admin/tenants/domain/", {"q": "運用基盤"})  # the row's name
    assert list(searched.context["cl"].result_list) == []


@pytest.mark.parametrize(
    "edit",
    [
        {"domain": "evil.example"},
        {"domain": PUBLIC_HOST, "to_city": True},
        {"domain": "evil.example", "to_city": True},
    ],
    ids=["renamed", "moved-to-a-city", "renamed-and-moved"],
)
def test_the_platform_s_host_cannot_be_renamed_or_moved(
    host_admin: Client, mitaka: City, edit: dict[str, Any]
) -> None:
    host = _platform_host()
    tenant = mitaka.municipality.pk if edit.get("to_city") else host.tenant_id
    answer = host_admin.post(
        f"/admin/tenants/domain/{host.pk}/change/",
        {"domain": edit["domain"], "tenant": tenant, "is_primary": "on"},
    )
    # Django's admin sends an object it does not find back to the index.
    assert answer.status_code == 302
    assert answer["Location"] == "/admin/"
    host.refresh_from_db()
    assert (host.domain, host.tenant.schema_name) == (PUBLIC_HOST, "public")
    _admin_still_opens(host_admin)


def test_the_platform_s_host_cannot_be_deleted(host_admin: Client, mitaka: City) -> None:
    host = _platform_host()
    page = host_admin.post(f"/admin/tenants/domain/{host.pk}/delete/", {"post": "yes"})
    assert page.status_code == 302
    assert page["Location"] == "/admin/"
    mitaka_s = Domain.objects.get(domain=mitaka.domain)
    action = host_admin.post(
        "/admin/tenants/domain/",
        {"action": "delete_selected", "post": "yes", "_selected_action": [host.pk, mitaka_s.pk]},
    )
    assert action.status_code == 302
    assert Domain.objects.filter(pk=host.pk).exists()
    assert not Domain.objects.filter(pk=mitaka_s.pk).exists()  # the city's: gone
    _admin_still_opens(host_admin)


def test_no_host_can_be_added_to_the_platform(host_admin: Client, cities: dict) -> None:
    platform = Municipality.objects.get(schema_name="public")
    page = host_admin.get("/admin/tenants/domain/add/")
    choices = [value for value, _label in page.context["adminform"].form.fields["tenant"].choices]
    assert platform.pk not in [getattr(v, "value", v) for v in choices]
    answer = host_admin.post(
        "/admin/tenants/domain/add/", {"domain": "second-admin.example", "tenant": platform.pk}
    )
    assert answer.status_code == 200
    assert not Domain.objects.filter(domain="second-admin.example").exists()
    assert Client().get("/admin/login/", HTTP_HOST="second-admin.example").status_code == 404


@pytest.mark.parametrize(("typed", "reason"), REFUSED[:6], ids=REFUSED_IDS[:6])
def test_provisioning_refuses_the_same_hosts(
    operator_client: Client, typed: str, reason: str
) -> None:
    answer = operator_client.post(
        "/admin/tenants/municipality/add/",
        {"name": "調布市", "code": "132080", "slug": "chofu", "domain": typed,
         "admin_username": "admin", "admin_password": ADMIN_PASSWORD},
    )  # fmt: skip
    _refused(answer, reason)
    assert not Municipality.objects.filter(schema_name="chofu").exists()


def test_the_services_refuse_the_platform_s_hosts_and_bad_names(mitaka: City) -> None:
    """For every caller, not the admin's forms only: nothing saved."""
    host = _platform_host()
    host.domain = "evil.example"
    with pytest.raises(ProvisioningInvalid):
        domain_save(actor=None, domain=host)
    moved = _platform_host()
    moved.tenant = mitaka.municipality
    with pytest.raises(ProvisioningInvalid):
        domain_save(actor=None, domain=moved)
    with pytest.raises(ProvisioningInvalid):
        domain_save(actor=None, domain=Domain(domain="x.example", tenant=host.tenant))
    with pytest.raises(ProvisioningInvalid):
        domain_remove(actor=None, domain=_platform_host())
    with pytest.raises(ProvisioningInvalid):
        domain_save(actor=None, domain=Domain(domain="x.localhost.", tenant=mitaka.municipality))
    assert _platform_host().tenant.schema_name == "public"
    assert not Domain.objects.filter(domain__in=["evil.example", "x.example"]).exists()
    assert domain_host_clean(" X.Example ") == "x.example"
