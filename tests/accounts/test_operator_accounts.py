"""Operators' accounts in the operators' admin: who may change what of whose, and the record.

Django's ``UserAdmin`` let an operator with the "change user" permission change every
operator's account: set another's password, rename or deactivate them, and tick
「スーパーユーザー権限」, groups or permissions on their own account or anyone's; with
"change group" they gave their own group any permission; Django's admin log named the
fields changed, not to what. Now (``daicho.accounts.operators``): an operator who is no
superuser changes their own profile and, with the current one, their own password; a
superuser adds operators, sets others' passwords (which their owners must then change) and
changes rights, never leaving the platform without an active superuser; each change is in
the admin's log with its values, on the 「操作の記録」 page.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django import forms
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from daicho.accounts.operators import ADMINISTRATOR
from tests.conftest import queued_behind

User = get_user_model()
PASSWORD = "Unyou-kanri-2026"
NEW_PASSWORD = "Atarashii-kagi-2027"
#: What Sato, an operator who is no superuser, may do with operators' accounts and groups.
OPERATOR_PERMISSIONS = ["view_user", "change_user", "add_user", "view_group", "change_group",
                        "add_group", "delete_group"]  # fmt: skip


def _signed_in(username: str, password: str = PASSWORD) -> Client:
    client = Client(HTTP_HOST="localhost")
    assert client.login(username=username, password=password)
    return client


@pytest.fixture
def people(cities: dict, db: None) -> dict[str, Any]:
    """Sato and Suzuki, operators who are no superusers (Sato may change users and groups),
    Kanri, the only superuser, and the group 運用 with a permission."""
    sato = User.objects.create_user(
        username="sato", password=PASSWORD, is_staff=True, display_name="佐藤"
    )
    sato.user_permissions.set(Permission.objects.filter(codename__in=OPERATOR_PERMISSIONS))
    suzuki = User.objects.create_user(username="suzuki", password=PASSWORD, is_staff=True)
    kanri = User.objects.create_superuser(username="kanri", password=PASSWORD, email="")
    group = Group.objects.create(name="運用")
    group.permissions.set(Permission.objects.filter(codename="view_municipality"))
    return {"sato": sato, "suzuki": suzuki, "kanri": kanri, "group": group}


def _state(user: Any) -> dict[str, Any]:
    user = User.objects.get(pk=user.pk)
    return {
        **{name: getattr(user, name) for name in ("username", "email", "display_name",
                                                  "is_active", "is_staff", "is_superuser",
                                                  "password")},
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "permissions": sorted(user.user_permissions.values_list("codename", flat=True)),
    }  # fmt: skip


def _form_data(client: Client, user: Any, **changed: Any) -> dict[str, Any]:
    """The account's page as ``client`` sees it, as a browser would post it, then
    ``changed`` (None: the box unticked, the field left out)."""
    page = client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name)
        if field.disabled:
            continue
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(field, forms.ModelMultipleChoiceField):
            data[name] = [item.pk for item in value or []]
        else:
            data[name] = "" if value is None else value
    for name, value in changed.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def _log(user: Any) -> list[dict[str, Any]]:
    """The admin's log of ``user``'s account: who, and what (Django's JSON)."""
    return [
        {"by": entry.user.username, "flag": entry.action_flag,
         "message": json.loads(entry.change_message or "[]"), "shown": entry.get_change_message()}
        for entry in LogEntry.objects.filter(
            content_type__model="user", object_id=str(user.pk)
        ).order_by("pk")
    ]  # fmt: skip


# --- an operator who is no superuser ------------------------------------------------------


def test_an_operator_changes_their_own_profile(people: dict[str, Any]) -> None:
    sato_s = people["sato"]
    sato = _signed_in("sato")
    saved = sato.post(
        f"/admin/accounts/user/{sato_s.pk}/change/",
        _form_data(sato, sato_s, display_name="佐藤 一郎", email="sato@example.jp"),
    )
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert (_state(sato_s)["display_name"], _state(sato_s)["email"]) == (
        "佐藤 一郎", "sato@example.jp",
    )  # fmt: skip
    (entry,) = _log(sato_s)
    assert entry["by"] == "sato"
    assert entry["message"][0]["changed"]["values"] == {
        "display_name": {"from": "佐藤", "to": "佐藤 一郎"},
        "email": {"from": "", "to": "sato@example.jp"},
    }


@pytest.mark.parametrize(
    "raised",
    [{"is_superuser": "on"}, {"is_active": None}, {"is_staff": None}, {"username": "kanri2"},
     {"groups": "group"}, {"user_permissions": "all"}],
    ids=["superuser", "deactivated", "staff-taken", "renamed", "group", "permissions"],
)  # fmt: skip
def test_an_operator_cannot_change_their_own_rights(
    people: dict[str, Any], raised: dict[str, Any]
) -> None:
    """The classic footgun: ticking 「スーパーユーザー権限」 (or any permission) on one's own
    page. The page shows the rights read only, and a post naming them changes nothing."""
    sato_s = people["sato"]
    before = _state(sato_s)
    sato = _signed_in("sato")
    page = sato.get(f"/admin/accounts/user/{sato_s.pk}/change/")
    assert set(page.context["adminform"].form.fields) == {
        "password", "first_name", "last_name", "email", "display_name",
    }  # fmt: skip
    values = {
        name: [people["group"].pk] if value == "group"
        else list(Permission.objects.values_list("pk", flat=True)) if value == "all"
        else value
        for name, value in raised.items()
    }  # fmt: skip
    sato.post(f"/admin/accounts/user/{sato_s.pk}/change/", _form_data(sato, sato_s, **values))
    assert _state(sato_s) == before
    assert _log(sato_s) == []


@pytest.mark.parametrize("whose", ["suzuki", "kanri"])
@pytest.mark.parametrize(
    "change",
    [{"is_superuser": "on"}, {"is_active": None}, {"username": "taken-over"},
     {"email": "sato@example.jp"}, {"display_name": "偽"}],
    ids=["superuser", "deactivated", "renamed", "email", "display-name"],
)  # fmt: skip
def test_an_operator_cannot_change_another_operator(
    people: dict[str, Any], whose: str, change: dict[str, Any]
) -> None:
    other = people[whose]
    before = _state(other)
    sato = _signed_in("sato")
    page = sato.get(f"/admin/accounts/user/{other.pk}/change/")
    assert page.status_code == 200  # they see it, read only
    fields = page.context["adminform"].form.fields
    assert [name for name, field in fields.items() if not field.disabled] == []
    data = {"username": other.username, "email": other.email, "display_name": "",
            "first_name": "", "last_name": "", "is_active": "on", "is_staff": "on",
            "is_superuser": "on" if other.is_superuser else None, **change}  # fmt: skip
    answer = sato.post(
        f"/admin/accounts/user/{other.pk}/change/",
        {name: value for name, value in data.items() if value is not None},
    )
    assert answer.status_code == 403
    assert _state(other) == before
    assert _log(other) == []


@pytest.mark.parametrize("whose", ["suzuki", "kanri"])
def test_an_operator_cannot_set_another_operator_s_password(
    people: dict[str, Any], whose: str
) -> None:
    other = people[whose]
    sato = _signed_in("sato")
    assert sato.get(f"/admin/accounts/user/{other.pk}/password/").status_code == 403
    answer = sato.post(
        f"/admin/accounts/user/{other.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert answer.status_code == 403
    assert User.objects.get(pk=other.pk).check_password(PASSWORD)
    assert not Client(HTTP_HOST="localhost").login(username=whose, password=NEW_PASSWORD)


def test_an_operator_cannot_add_operators(people: dict[str, Any]) -> None:
    sato = _signed_in("sato")
    assert sato.get("/admin/accounts/user/add/").status_code == 403
    answer = sato.post(
        "/admin/accounts/user/add/",
        {"username": "planted", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
         "usable_password": "true"},
    )  # fmt: skip
    assert answer.status_code == 403
    assert not User.objects.filter(username="planted").exists()


def test_an_operator_cannot_give_a_group_permissions(people: dict[str, Any]) -> None:
    """A group's permissions are its members': with "change group", an operator in a group
    gave it every permission, their own rights raised unseen."""
    group, sato_s = people["group"], people["sato"]
    sato_s.groups.add(group)
    sato = _signed_in("sato")
    every = list(Permission.objects.values_list("pk", flat=True))
    changed = sato.post(
        f"/admin/auth/group/{group.pk}/change/", {"name": "運用", "permissions": every}
    )
    assert changed.status_code == 403
    added = sato.post("/admin/auth/group/add/", {"name": "全権", "permissions": every})
    assert added.status_code == 403
    deleted = sato.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert list(group.permissions.values_list("codename", flat=True)) == ["view_municipality"]
    assert not Group.objects.filter(name="全権").exists()
    assert not User.objects.get(pk=sato_s.pk).has_perm("tenants.change_municipality")


# --- one's own password -----------------------------------------------------------------


@pytest.mark.parametrize("who", ["sato", "kanri"])
def test_one_s_own_password_is_changed_with_the_current_one(
    people: dict[str, Any], who: str
) -> None:
    """The per-account password page set one's own password without the current one (a
    session left open was enough to take the account); it now sends one to the admin's
    password page, which asks for it."""
    operator = people[who]
    client = _signed_in(who)
    sent = client.get(f"/admin/accounts/user/{operator.pk}/password/")
    assert sent.status_code == 302
    assert sent["Location"] == "/admin/password_change/"
    client.post(
        f"/admin/accounts/user/{operator.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert User.objects.get(pk=operator.pk).check_password(PASSWORD)
    wrong = client.post(
        "/admin/password_change/",
        {"old_password": "not-the-password", "new_password1": NEW_PASSWORD,
         "new_password2": NEW_PASSWORD},
    )  # fmt: skip
    assert wrong.status_code == 200
    assert User.objects.get(pk=operator.pk).check_password(PASSWORD)
    changed = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert changed["Location"] == "/admin/password_change/done/"
    assert User.objects.get(pk=operator.pk).check_password(NEW_PASSWORD)
    assert client.get("/admin/").status_code == 200  # still signed in
    assert [entry["message"][0]["changed"]["values"] for entry in _log(operator)] == [
        {"password": {"set_by": "owner"}}
    ]


# --- a superuser --------------------------------------------------------------------------


def test_a_superuser_changes_rights_and_the_log_says_to_what(people: dict[str, Any]) -> None:
    sato_s, group = people["sato"], people["group"]
    kanri = _signed_in("kanri")
    permission = Permission.objects.get(codename="change_municipality")
    saved = kanri.post(
        f"/admin/accounts/user/{sato_s.pk}/change/",
        _form_data(kanri, sato_s, is_superuser="on", groups=[group.pk],
                   user_permissions=[permission.pk], username="sato-ichiro"),
    )  # fmt: skip
    assert saved.status_code == 302, saved.content.decode()[:3000]
    after = _state(sato_s)
    assert (after["username"], after["is_superuser"], after["groups"], after["permissions"]) == (
        "sato-ichiro", True, ["運用"], ["change_municipality"],
    )  # fmt: skip
    (entry,) = _log(sato_s)
    assert entry["by"] == "kanri"
    values = entry["message"][0]["changed"]["values"]
    assert values["is_superuser"] == {"from": False, "to": True}
    assert values["username"] == {"from": "sato", "to": "sato-ichiro"}
    assert values["groups"] == {"from": [], "to": ["運用"]}
    assert values["user_permissions"]["to"] == ["tenants.change_municipality"]
    assert set(values["user_permissions"]["from"]) == {
        f"{app}.{codename}" for app, codename in Permission.objects.filter(
            codename__in=OPERATOR_PERMISSIONS).values_list("content_type__app_label", "codename")
    }  # fmt: skip
    assert "スーパーユーザー権限（いいえ → はい）" in entry["shown"]
    # The account's history and the log's page show it, to a superuser.
    history = kanri.get(f"/admin/accounts/user/{sato_s.pk}/history/").content.decode()
    assert "スーパーユーザー権限（いいえ → はい）" in history
    log_page = kanri.get("/admin/admin/logentry/")
    assert log_page.status_code == 200
    assert "スーパーユーザー権限（いいえ → はい）" in log_page.content.decode()


def test_a_superuser_s_change_of_a_group_s_permissions_is_in_the_log(
    people: dict[str, Any],
) -> None:
    group = people["group"]
    kanri = _signed_in("kanri")
    permission = Permission.objects.get(codename="change_domain")
    saved = kanri.post(
        f"/admin/auth/group/{group.pk}/change/", {"name": "運用", "permissions": [permission.pk]}
    )
    assert saved.status_code == 302
    entry = LogEntry.objects.get(content_type__model="group", object_id=str(group.pk))
    (standard, ours) = json.loads(entry.change_message)
    assert standard == {"changed": {"fields": ["Permissions"]}}
    assert ours["changed"]["values"] == {"permissions": {
        "from": ["tenants.view_municipality"], "to": ["tenants.change_domain"],
    }}  # fmt: skip
    assert "追加: tenants.change_domain" in entry.get_change_message()
    assert "削除: tenants.view_municipality" in entry.get_change_message()


def test_the_log_is_read_only_and_the_superuser_s(people: dict[str, Any]) -> None:
    kanri = _signed_in("kanri")
    kanri.post(
        f"/admin/accounts/user/{people['suzuki'].pk}/change/",
        _form_data(kanri, people["suzuki"], is_active=None),
    )
    entry = LogEntry.objects.get(object_id=str(people["suzuki"].pk))
    assert kanri.get(f"/admin/admin/logentry/{entry.pk}/change/").status_code == 200
    assert kanri.post(f"/admin/admin/logentry/{entry.pk}/change/", {}).status_code == 403
    assert (
        kanri.post(f"/admin/admin/logentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert kanri.get("/admin/admin/logentry/add/").status_code == 403
    assert LogEntry.objects.filter(pk=entry.pk).exists()
    # An operator without "view log entry" does not read it.
    assert _signed_in("sato").get("/admin/admin/logentry/").status_code == 403


@pytest.mark.parametrize("taken", ["is_superuser", "is_staff", "is_active"])
def test_the_last_active_superuser_stays(people: dict[str, Any], taken: str) -> None:
    kanri_s = people["kanri"]
    before = _state(kanri_s)
    kanri = _signed_in("kanri")
    refused = kanri.post(
        f"/admin/accounts/user/{kanri_s.pk}/change/", _form_data(kanri, kanri_s, **{taken: None})
    )
    assert refused.status_code == 200
    assert "有効なスーパーユーザーが他にいないため" in refused.content.decode()
    assert _state(kanri_s) == before
    assert _log(kanri_s) == []
    # With another active superuser, one may step down.
    User.objects.create_superuser(username="kanri2", password=PASSWORD, email="")
    stepped_down = kanri.post(
        f"/admin/accounts/user/{kanri_s.pk}/change/", _form_data(kanri, kanri_s, **{taken: None})
    )
    assert stepped_down.status_code == 302
    assert not User.objects.filter(ADMINISTRATOR, pk=kanri_s.pk).exists()
    assert User.objects.filter(ADMINISTRATOR).count() == 1


def test_a_password_a_superuser_sets_must_be_changed_by_its_owner(people: dict[str, Any]) -> None:
    """A superuser who set another operator's password and signed in with it could act as
    them unseen. Now the owner must change it before anything else: whoever else signs in
    with it can only change it, which its owner notices, and the log names the setter."""
    sato_s = people["sato"]
    kanri = _signed_in("kanri")
    page = kanri.get(f"/admin/accounts/user/{sato_s.pk}/password/")
    assert page.status_code == 200
    assert "usable_password" not in page.context["form"].fields  # no switching it off
    set_ = kanri.post(
        f"/admin/accounts/user/{sato_s.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert set_.status_code == 302, set_.content.decode()[:3000]
    assert User.objects.get(pk=sato_s.pk).must_change_password
    assert [entry["message"][0]["changed"]["values"] for entry in _log(sato_s)] == [
        {"password": {"set_by": "superuser"}}
    ]
    assert not Client(HTTP_HOST="localhost").login(username="sato", password=PASSWORD)
    sato = _signed_in("sato", NEW_PASSWORD)
    for path in ("/admin/", "/admin/accounts/user/", f"/admin/accounts/user/{sato_s.pk}/change/",
                 "/admin/tenants/municipality/"):  # fmt: skip
        answer = sato.get(path)
        assert answer.status_code == 302, path
        assert answer["Location"] == "/admin/password_change/"
    kept = sato.post(
        "/admin/password_change/",
        {"old_password": NEW_PASSWORD, "new_password1": NEW_PASSWORD,
         "new_password2": NEW_PASSWORD},
    )  # fmt: skip
    assert kept.status_code == 200  # "changing" it to itself
    assert User.objects.get(pk=sato_s.pk).must_change_password
    changed = sato.post(
        "/admin/password_change/",
        {"old_password": NEW_PASSWORD, "new_password1": "Sato-no-kagi-2027",
         "new_password2": "Sato-no-kagi-2027"},
    )  # fmt: skip
    assert changed.status_code == 302
    assert not User.objects.get(pk=sato_s.pk).must_change_password
    assert sato.get("/admin/").status_code == 200


def test_a_superuser_adds_an_operator_who_changes_the_password_first(
    people: dict[str, Any],
) -> None:
    kanri = _signed_in("kanri")
    no_password = kanri.post(
        "/admin/accounts/user/add/", {"username": "tanaka", "usable_password": "false"}
    )
    assert no_password.status_code == 200
    assert not User.objects.filter(username="tanaka").exists()
    added = kanri.post(
        "/admin/accounts/user/add/",
        {"username": "tanaka", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    tanaka = User.objects.get(username="tanaka")
    assert tanaka.has_usable_password()
    assert tanaka.must_change_password
    assert (tanaka.is_staff, tanaka.is_superuser) == (False, False)
    assert [(entry["by"], entry["flag"]) for entry in _log(tanaka)] == [("kanri", ADDITION)]


def test_no_one_adds_a_device_to_another_operator_s_account(people: dict[str, Any]) -> None:
    """A superuser added a device of a key they typed to another operator's account (or
    handed theirs over): that operator's codes were theirs."""
    sato_s, kanri_s = people["sato"], people["kanri"]
    kanri = _signed_in("kanri")
    form = {"user": sato_s.pk, "name": "planted", "confirmed": "on",
            "key": "3132333435363738393031323334353637383930", "step": 30, "t0": 0,
            "digits": 6, "tolerance": 1, "drift": 0, "throttling_failure_count": 0}  # fmt: skip
    added = kanri.post("/admin/otp_totp/totpdevice/add/", form)
    assert added.status_code == 302, added.content.decode()[:3000]
    planted = TOTPDevice.objects.get(name="planted")
    assert planted.user_id == kanri_s.pk
    kanri.post(f"/admin/otp_totp/totpdevice/{planted.pk}/change/", {**form, "key": ""})
    planted.refresh_from_db()
    assert planted.user_id == kanri_s.pk
    assert not TOTPDevice.objects.filter(user=sato_s).exists()


# --- two superusers at once ---------------------------------------------------------------


def test_two_superusers_demoting_each_other_at_once_leave_one(
    fuchu: None, django_db_blocker: Any
) -> None:
    """Each checked that another superuser would remain, and both were demoted: no one left
    to administer the operators. The check reads the superusers under a lock, as committed
    by the change before it: one of the two is refused."""
    suffix = secrets.token_hex(3)
    names = {"a": f"race-a-{suffix}", "b": f"race-b-{suffix}"}
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        assert not User.objects.filter(ADMINISTRATOR).exists()  # committed: none before
        users = {
            who: User.objects.create_superuser(username=name, password=PASSWORD, email="")
            for who, name in names.items()
        }
        try:
            clients = {who: _signed_in(name) for who, name in names.items()}
            data = {
                who: _form_data(clients[who], users[other], is_superuser=None)
                for who, other in (("a", "b"), ("b", "a"))
            }

            def send(who: str, other: str) -> Callable[[], tuple[str, int]]:
                def request() -> tuple[str, int]:
                    url = f"/admin/accounts/user/{users[other].pk}/change/"
                    return who, clients[who].post(url, data[who]).status_code

                return request

            def hold() -> None:
                from django_tenants.utils import schema_context

                with schema_context("public"):
                    list(
                        User.objects.select_for_update().filter(
                            pk__in=[u.pk for u in users.values()]
                        )
                    )

            answers = dict(queued_behind(hold, [send("a", "b"), send("b", "a")]))
            connection.set_schema_to_public()
            assert sorted(answers.values()) == [200, 302], answers
            assert User.objects.filter(ADMINISTRATOR).count() == 1
        finally:
            connection.set_schema_to_public()
            User.objects.filter(username__in=names.values()).update(
                is_superuser=False, is_staff=False, is_active=False
            )


@pytest.mark.parametrize(
    "lookup", ["chosen_passwords__0__startswith", "chosen_passwords__icontains",
               "chosen_passwords__0", "password__startswith"],
)  # fmt: skip
def test_no_password_hash_is_read_through_the_list_s_filters(
    people: dict[str, Any], lookup: str
) -> None:
    """Django's ``UserAdmin`` refuses a filter of the list on ``password`` in the address
    (``?password__startswith=…``): the answer (listed or not) tells the hash a character at
    a time. ``chosen_passwords`` holds the hashes of passwords others chose, the current one
    included until its owner changes it, and ``?chosen_passwords__0__startswith=…`` was
    answered: an operator allowed to view accounts read another operator's password hash
    (a new account's, a reset one) and could crack it away from the lockout. Both refused."""
    suzuki = User.objects.get(pk=people["suzuki"].pk)
    suzuki.set_password_chosen_by_other(NEW_PASSWORD)
    suzuki.save()
    hashed = suzuki.password
    value = hashed if lookup.endswith("__0") else hashed[:12]
    for client in (_signed_in("sato"), _signed_in("kanri")):
        right = client.get("/admin/accounts/user/", {lookup: value})
        wrong = client.get("/admin/accounts/user/", {lookup: "zz"})
        assert (right.status_code, wrong.status_code) == (400, 400)


@pytest.mark.parametrize(
    ("lookup", "value"),
    [("api_tokens__isnull", "False"), ("api_tokens", "1"), ("api_tokens__in", "1,2")],
)
def test_a_list_filter_through_a_city_s_table_is_refused_not_a_server_error(
    people: dict[str, Any], lookup: str, value: str
) -> None:
    """The user model's API tokens live in each city's schema only: the public schema, where
    the operators' admin runs, has no table for them. Django's admin lets a list be
    filtered by one step along any relation (``?api_tokens__isnull=False``), and the query
    went to a table that is not there: a server error with the statement in the trace, for
    any operator allowed to view accounts. Refused as any other lookup the list does not
    offer (400)."""
    client = _signed_in("sato")
    client.raise_request_exception = False
    assert client.get("/admin/accounts/user/", {lookup: value}).status_code == 400


def test_a_deactivated_operator_s_sessions_do_not_come_back_with_a_reactivation(
    people: dict[str, Any],
) -> None:
    """Found by a race review (a city's staff had this, the operators' admin not): Django
    refuses an inactive account's session but keeps it, so reactivating an operator (a
    mistaken deactivation undone, someone back from leave) signed in again every browser
    that had been signed in as them, a cookie taken before the deactivation (perhaps its
    reason) with them. A change of ``is_active`` ends the operator's sessions."""
    sato_s = people["sato"]
    sato, kanri = _signed_in("sato"), _signed_in("kanri")
    assert sato.get("/admin/").status_code == 200
    change = f"/admin/accounts/user/{sato_s.pk}/change/"
    assert kanri.post(change, _form_data(kanri, sato_s, is_active=None)).status_code == 302
    assert sato.get("/admin/").status_code == 302
    assert kanri.post(change, _form_data(kanri, sato_s, is_active="on")).status_code == 302
    again = sato.get("/admin/")
    assert again.status_code == 302  # 200 on the code before: signed in again
    assert again["Location"].startswith("/admin/login/")
    assert _signed_in("sato").get("/admin/").status_code == 200
