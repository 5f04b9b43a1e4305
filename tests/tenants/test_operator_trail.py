"""What operators do to a city itself (its row and its hosts in the public schema) is in the
city's own audit trail, where its administrators and auditors read it.

Before, only the operators' commands issue_api_token and revoke_api_tokens left anything
there: an operator could add a host to a city, take one away, rename the city, suspend
and resume it, open it, and nothing of it reached the city. Every operator's write to a
``Municipality`` or a ``Domain`` now goes through ``tenants.services``, which leaves an
``operator.…`` event (no actor; the operator as the public schema knows them; from → to)
in the change's transaction (``ledgers.audit.services.audit_operator_change``).
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Max
from django.test import Client
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from daicho.accounts.models import Department, Membership, Role
from ledgers.api.tokens.services import token_issue
from ledgers.audit.models import AuditEvent
from ledgers.audit.services import audit_verify
from tenants.models import Domain, Municipality
from tests.conftest import ADMIN_PASSWORD, City

User = get_user_model()


def _operator() -> dict[str, Any]:
    """How the trail names the operator of ``operator_client``: the public identity."""
    with schema_context("public"):  # a request on a city's host leaves the connection there
        operator = User.objects.get(username="operator")
    return {"id": operator.pk, "username": "operator"}


def _last_seq(slug: str) -> int:
    with schema_context(slug):
        return AuditEvent.objects.aggregate(last=Max("seq"))["last"] or 0


def _readers(city: City) -> dict[str, APIClient]:
    """The city's administrator and a 監査担当 of its 総務課, each with an audit:read token,
    on a host of the city's own (the operator may have taken its usual one away)."""
    host = f"kansa.{city.slug}.localhost"
    with schema_context("public"):
        Domain.objects.get_or_create(
            domain=host, defaults={"tenant": city.municipality, "is_primary": False}
        )
    with schema_context(city.slug):
        admin = User.objects.get(username="admin")
        auditor = User.objects.filter(username="kansa").first()
        if auditor is None:
            auditor = User.objects.create_user(username="kansa", password="Kansa-no-pass-2026")
            Membership.objects.create(
                user=auditor, department=Department.objects.create(code="soumu", name="総務課"),
                role=Role.AUDITOR, valid_from=date(2026, 4, 1),
            )  # fmt: skip
        tokens = {
            who: token_issue(actor=user, user=user, scopes=["audit:read"]).token
            for who, user in (("admin", admin), ("auditor", auditor))
        }
    return {
        who: APIClient(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {token}")
        for who, token in tokens.items()
    }


def _read(city: City, since: int) -> list[tuple[Any, str, dict[str, Any]]]:
    """The operator's events after ``since`` as the city's administrator and its auditor
    read them (GET /api/v1/audit/events/?action=operator.), the same for both."""
    seen = []
    for client in _readers(city).values():
        answer = client.get("/api/v1/audit/events/", {"action": "operator."})
        assert answer.status_code == 200, answer.content
        seen.append([
            (e["actor"], e["action"], e["details"])
            for e in answer.json()["results"] if e["seq"] > since
        ])  # fmt: skip
    administrator_s, auditor_s = seen
    assert administrator_s == auditor_s
    return administrator_s


def _intact(*cities: City) -> None:
    for city in cities:
        assert audit_verify(schema=city.slug).ok


def _change_form(client: Client, municipality: Municipality, **changed: Any) -> dict[str, Any]:
    """The admin's change form of ``municipality`` as the page shows it, then ``changed``."""
    page = client.get(f"/admin/tenants/municipality/{municipality.pk}/change/")
    assert page.status_code == 200
    data: dict[str, Any] = {"name": municipality.name,
                            "suspended_reason": municipality.suspended_reason}  # fmt: skip
    (inline,) = page.context["inline_admin_formsets"]
    formset = inline.formset
    prefix = formset.prefix
    data.update(
        {f"{prefix}-{key}": value for key, value in formset.management_form.initial.items()}
    )
    for i, form in enumerate(formset.forms):
        data.update({
            f"{prefix}-{i}-id": form.instance.pk, f"{prefix}-{i}-tenant": municipality.pk,
            f"{prefix}-{i}-domain": form.instance.domain,
        })  # fmt: skip
        if form.instance.is_primary:
            data[f"{prefix}-{i}-is_primary"] = "on"
    data.update(changed)
    return data


def _host(city: City) -> Domain:
    return Domain.objects.get(domain=city.domain)


def test_renaming_a_city_is_in_its_trail(operator_client: Client, mitaka: City) -> None:
    since, elsewhere = _last_seq(mitaka.slug), _last_seq("musashino")
    municipality = mitaka.municipality
    saved = operator_client.post(
        f"/admin/tenants/municipality/{municipality.pk}/change/",
        _change_form(operator_client, municipality, name="三鷹市役所"),
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert Municipality.objects.get(pk=municipality.pk).name == "三鷹市役所"
    assert _read(mitaka, since) == [(None, "operator.municipality_changed", {
        "operator": _operator(), "via": "admin",
        "changes": {"name": {"from": "三鷹市", "to": "三鷹市役所"}},
    })]  # fmt: skip
    assert _last_seq("musashino") == elsewhere  # the other city's trail has nothing of it
    # Saving the form again unchanged changes nothing and says nothing.
    again = operator_client.post(
        f"/admin/tenants/municipality/{municipality.pk}/change/",
        _change_form(operator_client, Municipality.objects.get(pk=municipality.pk)),
    )
    assert again.status_code == 302
    assert len(_read(mitaka, since)) == 1
    _intact(mitaka)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"domains-1-domain": "daicho.city.mitaka.lg.jp", "domains-TOTAL_FORMS": "2"},
         ("operator.domain_added", {"domain": "daicho.city.mitaka.lg.jp", "changes": {
             "domain": {"from": None, "to": "daicho.city.mitaka.lg.jp"},
             "is_primary": {"from": None, "to": False}}})),
        ({"domains-1-domain": "daicho.city.mitaka.lg.jp", "domains-1-is_primary": "on",
          "domains-TOTAL_FORMS": "2"},
         ("operator.domain_added", {"domain": "daicho.city.mitaka.lg.jp", "changes": {
             "domain": {"from": None, "to": "daicho.city.mitaka.lg.jp"},
             "is_primary": {"from": None, "to": True},
             "primary_domain": {"from": "mitaka.localhost", "to": "daicho.city.mitaka.lg.jp"}}})),
        ({"domains-0-domain": "mitaka2.localhost"},
         ("operator.domain_changed", {"domain": "mitaka2.localhost", "changes": {
             "domain": {"from": "mitaka.localhost", "to": "mitaka2.localhost"},
             "primary_domain": {"from": "mitaka.localhost", "to": "mitaka2.localhost"}}})),
        ({"domains-0-DELETE": "on"},
         ("operator.domain_removed", {"domain": "mitaka.localhost", "changes": {
             "domain": {"from": "mitaka.localhost", "to": None},
             "is_primary": {"from": True, "to": None},
             "primary_domain": {"from": "mitaka.localhost", "to": None}}})),
    ],
    ids=["added", "added-as-primary", "renamed", "removed"],
)  # fmt: skip
def test_a_city_s_hosts_changed_on_its_page_are_in_its_trail(
    operator_client: Client, mitaka: City, edit: dict[str, str], expected: tuple[str, dict]
) -> None:
    since = _last_seq(mitaka.slug)
    municipality = mitaka.municipality
    data = _change_form(operator_client, municipality, **edit)
    data.setdefault("domains-1-tenant", municipality.pk)
    saved = operator_client.post(f"/admin/tenants/municipality/{municipality.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    action, details = expected
    assert _read(mitaka, since) == [
        (None, action, {"operator": _operator(), "via": "admin", **details})
    ]
    _intact(mitaka)


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"name": "三鷹\u200b市"}, "自治体名に目に見えない文字（U+200B ゼロ幅スペース）"),
        ({"suspended_reason": "\u202e契約終了"}, "停止理由に文字の表示順を入れ替える制御文字"),
    ],
)
def test_a_city_s_name_or_reason_with_an_unseen_character_is_refused(
    operator_client: Client, mitaka: City, changed: dict[str, str], message: str
) -> None:
    """The stored-text rule held for every name the city's staff type, not for the city's
    own, which an operator types (or pastes from a web page) and which its first
    administrator's display name is made of: refused on the page, nothing changed and
    nothing in the trail. A name stored before the rule does not block the page."""
    since = _last_seq(mitaka.slug)
    municipality = mitaka.municipality
    data = _change_form(operator_client, municipality, **changed)
    refused = operator_client.post(f"/admin/tenants/municipality/{municipality.pk}/change/", data)
    assert refused.status_code == 200  # the form again, with the error
    assert message in refused.content.decode()
    stored = Municipality.objects.get(pk=municipality.pk)
    assert (stored.name, stored.suspended_reason) == ("三鷹市", "")
    assert _read(mitaka, since) == []

    Municipality.objects.filter(pk=municipality.pk).update(**changed)  # written before it
    other = {"suspended_reason": "点検のため"} if "name" in changed else {"name": "三鷹市役所"}
    data = _change_form(operator_client, Municipality.objects.get(pk=municipality.pk), **other)
    saved = operator_client.post(f"/admin/tenants/municipality/{municipality.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    ((_actor, action, details),) = _read(mitaka, since)
    assert (action, list(details["changes"])) == ("operator.municipality_changed", list(other))


def test_a_host_another_city_holds_is_refused_and_leaves_nothing(
    operator_client: Client, mitaka: City, musashino: City
) -> None:
    since = _last_seq(mitaka.slug)
    municipality = mitaka.municipality
    data = _change_form(
        operator_client, municipality, **{"domains-1-domain": musashino.domain,
                                          "domains-1-tenant": municipality.pk,
                                          "domains-TOTAL_FORMS": "2", "name": "三鷹市役所"},
    )  # fmt: skip
    refused = operator_client.post(f"/admin/tenants/municipality/{municipality.pk}/change/", data)
    assert refused.status_code == 200  # the form again, with the error
    assert Municipality.objects.get(pk=municipality.pk).name == "三鷹市"
    assert _read(mitaka, since) == []


def test_the_domains_page_moves_and_deletes_hosts_in_the_cities_trails(
    operator_client: Client, mitaka: City, musashino: City
) -> None:
    since = {city.slug: _last_seq(city.slug) for city in (mitaka, musashino)}
    added = operator_client.post(
        "/admin/tenants/domain/add/",
        {"domain": "extra.localhost", "tenant": mitaka.municipality.pk},
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    extra = Domain.objects.get(domain="extra.localhost")
    moved = operator_client.post(
        f"/admin/tenants/domain/{extra.pk}/change/",
        {"domain": "extra.localhost", "tenant": musashino.municipality.pk},
    )
    assert moved.status_code == 302, moved.content.decode()[:3000]
    deleted = operator_client.post(f"/admin/tenants/domain/{extra.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not Domain.objects.filter(domain="extra.localhost").exists()
    by = {"operator": _operator(), "via": "admin", "domain": "extra.localhost"}
    # Each city saw the host come and go: added to Mitaka, then moved (removed there, added
    # to Musashino), then deleted (removed from Musashino).
    came_and_went = [
        (None, "operator.domain_added", {**by, "changes": {
            "domain": {"from": None, "to": "extra.localhost"},
            "is_primary": {"from": None, "to": False}}}),
        (None, "operator.domain_removed", {**by, "changes": {
            "domain": {"from": "extra.localhost", "to": None},
            "is_primary": {"from": False, "to": None}}}),
    ]  # fmt: skip
    assert _read(mitaka, since["mitaka"]) == came_and_went
    assert _read(musashino, since["musashino"]) == came_and_went
    _intact(mitaka, musashino)


def test_the_domains_list_s_delete_action_is_in_each_city_s_trail(
    operator_client: Client, mitaka: City, musashino: City
) -> None:
    since = {city.slug: _last_seq(city.slug) for city in (mitaka, musashino)}
    hosts = [_host(mitaka), _host(musashino)]
    confirmed = operator_client.post(
        "/admin/tenants/domain/",
        {"action": "delete_selected", "_selected_action": [h.pk for h in hosts], "post": "yes"},
    )
    assert confirmed.status_code == 302
    assert not Domain.objects.filter(pk__in=[h.pk for h in hosts]).exists()
    for city in (mitaka, musashino):
        assert [(action, details["domain"], details["changes"]["domain"])
                for _actor, action, details in _read(city, since[city.slug])] == [
            ("operator.domain_removed", city.domain, {"from": city.domain, "to": None})
        ]  # fmt: skip
    _intact(mitaka, musashino)


def test_suspending_and_resuming_are_in_the_city_s_trail(
    operator_client: Client, musashino: City
) -> None:
    since = _last_seq(musashino.slug)
    pk = musashino.municipality.pk
    for action in ("suspend", "resume"):
        operator_client.post(
            "/admin/tenants/municipality/", {"action": action, "_selected_action": [pk]}
        )
    by = {"operator": _operator(), "via": "admin"}
    assert _read(musashino, since) == [
        (None, "operator.municipality_suspended", {**by, "changes": {
            "status": {"from": "active", "to": "suspended"},
            "suspended_reason": {"from": "", "to": "運用者による停止"}}}),
        (None, "operator.municipality_resumed", {**by, "changes": {
            "status": {"from": "suspended", "to": "active"},
            "suspended_reason": {"from": "運用者による停止", "to": ""}}}),
    ]  # fmt: skip
    _intact(musashino)


CHOFU = City("chofu", "調布市", "132080", "chofu.localhost")
OPENING = {"name": {"from": None, "to": "調布市"}, "code": {"from": None, "to": "132080"},
           "domain": {"from": None, "to": "chofu.localhost"},
           "admin_username": {"from": None, "to": "admin"}}  # fmt: skip


def test_the_trail_of_a_city_opened_in_the_admin_starts_with_who_opened_it(
    operator_client: Client,
) -> None:
    opened = operator_client.post(
        "/admin/tenants/municipality/add/",
        {"name": "調布市", "code": "132080", "slug": "chofu", "domain": CHOFU.domain,
         "admin_username": "admin", "admin_password": ADMIN_PASSWORD},
    )  # fmt: skip
    assert opened.status_code == 302, opened.content.decode()[:2000]
    with schema_context("chofu"):
        User.objects.filter(username="admin").update(must_change_password=False)
        (event,) = AuditEvent.objects.all()
    assert ADMIN_PASSWORD not in json.dumps(event.details, ensure_ascii=False)
    assert _read(CHOFU, 0) == [(None, "operator.municipality_provisioned", {
        "operator": _operator(), "via": "admin", "changes": OPENING,
    })]  # fmt: skip
    _intact(CHOFU)


def test_a_city_opened_by_the_command_names_the_command(cities: dict, db: None) -> None:
    def provision_chofu() -> None:
        call_command(
            "provision_tenant", "--slug", "chofu", "--name", "調布市", "--code", "132080",
            "--domain", CHOFU.domain, "--admin-username", "admin",
            "--admin-password", ADMIN_PASSWORD, stdout=io.StringIO(),
        )  # fmt: skip

    provision_chofu()
    with schema_context("chofu"):
        User.objects.filter(username="admin").update(must_change_password=False)
    assert _read(CHOFU, 0) == [(None, "operator.municipality_provisioned", {
        "operator": None, "via": "manage.py provision_tenant", "changes": OPENING,
    })]  # fmt: skip
    provision_chofu()  # again with the same values: nothing opened, nothing more in the trail
    with schema_context("chofu"):
        assert AuditEvent.objects.filter(action__startswith="operator.").count() == 1
    _intact(CHOFU)
