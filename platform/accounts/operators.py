"""Operators' accounts (the public schema): who may change what of whose, and the record of it.

Django's ``UserAdmin`` let any operator with the "change user" permission edit every
operator's account: set their password, rename them, deactivate them, and make anyone,
themself included, a superuser or give them any permission or group. The rules now
(docs/operations.md, 「運用者のアカウント」):

- an operator who is no superuser changes their own profile only (``PROFILE_FIELDS``, with
  the "change user" permission) and their own password on the admin's password page, which
  asks for the current one;
- only a superuser adds an operator, sets another operator's password, renames an account,
  deactivates one, and grants or takes away staff and superuser status, groups and
  permissions, their own included;
- no change leaves the platform without an active superuser who can open the admin
  (``ADMINISTRATOR``): the last one cannot be deactivated or demoted, by themself or anyone.

Every change is an entry of Django's admin log (``LogEntry``) of the account, in the change's
transaction, naming each field's before → after (groups and permissions: what was added and
taken away), never a password; the admin's 「操作の記録」 lists them. A password that someone
else set (a new account's, a superuser's reset) must be changed by its owner before anything
else (``User.must_change_password``, ``OperatorAdminSite``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Model, Q
from django.db.models.signals import post_save
from django.http import HttpRequest

from daicho.accounts.exceptions import OperatorChangeRefused, UsernameTaken
from daicho.accounts.models import User
from daicho.accounts.selectors import on_public_schema
from daicho.accounts.services import (
    account_sessions_end,
    own_password_set,
    sign_in_address_lock_lift,
    sign_in_event_record,
    username_claimed,
)

#: What an operator may change of their own account.
PROFILE_FIELDS = frozenset({"first_name", "last_name", "email", "display_name"})
#: What only a superuser changes, on any account.
RIGHTS_FIELDS = frozenset(
    {"username", "is_active", "is_staff", "is_superuser", "groups", "user_permissions"}
)
_FLAGS = ("is_superuser", "is_staff", "is_active")
_RELATIONS = frozenset({"groups", "user_permissions"})
#: An operator who can open the admin and change every account.
ADMINISTRATOR = Q(is_active=True, is_staff=True, is_superuser=True)


def _is_administrator(user: User | None) -> bool:
    return user is not None and user.is_active and user.is_staff and user.is_superuser


def _label(name: str, model: type[Model] = User) -> str:
    if name == "password":
        return "パスワード"
    return str(getattr(model._meta.get_field(name), "verbose_name", name))


def _shown(value: object) -> str:
    if value is True:
        return "はい"
    if value is False:
        return "いいえ"
    return str(value) if value not in (None, "") else "（なし）"


def _state(user: User) -> dict[str, Any]:
    """What the log compares of an account: its fields, its groups and permissions by name."""
    state: dict[str, Any] = {name: getattr(user, name) for name in sorted(PROFILE_FIELDS)}
    state.update({name: getattr(user, name) for name in ("username", *_FLAGS)})
    state["groups"] = sorted(user.groups.values_list("name", flat=True))
    state["user_permissions"] = sorted(
        f"{app_label}.{codename}"
        for app_label, codename in user.user_permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    return state


def change_message(
    changes: Mapping[str, tuple[Any, Any]], model: type[Model] = User
) -> list[dict[str, Any]]:
    """An admin log message (Django's JSON form) naming each change of a ``model`` (an
    operator's account, a group) and its values.

    Django shows ``fields`` (here 「スーパーユーザー権限（いいえ → はい）」, 「グループ（追加: 運用）」)
    on an object's history and the log's pages, and keeps ``values`` (from → to) as data."""
    fields, values = [], {}
    for name, (was, now) in changes.items():
        if isinstance(was, list | tuple) or isinstance(now, list | tuple):
            was, now = list(was or []), list(now or [])
            added = [item for item in now if item not in was]
            removed = [item for item in was if item not in now]
            parts = [*([f"追加: {'、'.join(added)}"] if added else []),
                     *([f"削除: {'、'.join(removed)}"] if removed else [])]  # fmt: skip
            fields.append(f"{_label(name, model)}（{'／'.join(parts)}）")
        else:
            fields.append(f"{_label(name, model)}（{_shown(was)} → {_shown(now)}）")
        values[name] = {"from": was, "to": now}
    return [{"changed": {"fields": fields, "values": values}}]


def _record(actor: User, operator: User, flag: int, message: list[dict[str, Any]]) -> None:
    LogEntry.objects.log_actions(
        user_id=actor.pk, queryset=[operator], action_flag=flag,
        change_message=json.dumps(message, ensure_ascii=False, default=str),
        single_object=True,
    )  # fmt: skip


def _locked(actor: User, operator_pk: int | None) -> tuple[User | None, User | None, list[User]]:
    """The actor's and the operator's rows and every administrator's, as committed, locked
    until the transaction ends (one statement, in key order: two changes lock in the same
    order and queue instead of deadlocking). A change that waited reads what the one before
    it committed: two superusers demoting each other at once leave one superuser."""
    if not on_public_schema():
        raise OperatorChangeRefused(
            {None: ["運用者のアカウントは公開ドメインでのみ変更できます。"]}
        )
    keys = {actor.pk} | ({operator_pk} if operator_pk is not None else set())
    rows = list(
        User.objects.select_for_update(no_key=True)
        .filter(Q(pk__in=keys) | ADMINISTRATOR)
        .order_by("pk")
    )
    by_pk = {row.pk: row for row in rows}
    administrators = [row for row in rows if _is_administrator(row)]
    return by_pk.get(actor.pk), by_pk.get(operator_pk) if operator_pk else None, administrators


def _check(*, actor: User, operator: User, values: Mapping[str, object]) -> User:
    actor_now, stored, administrators = _locked(actor, operator.pk)
    if stored is None:
        raise OperatorChangeRefused({None: ["この運用者のアカウントはありません。"]})
    errors: dict[str | None, list[str]] = {}
    if not _is_administrator(actor_now):
        if stored.pk != actor.pk:
            errors[None] = ["他の運用者のアカウントは、スーパーユーザーだけが変更できます。"]
        for name in sorted(set(values) - PROFILE_FIELDS):
            errors[name] = [f"「{_label(name)}」は、スーパーユーザーだけが変更できます。"]
    if _is_administrator(stored):
        taken = [name for name in _FLAGS if name in values and not values[name]]
        if taken and not [row for row in administrators if row.pk != stored.pk]:
            errors.setdefault(taken[0], []).append(
                "有効なスーパーユーザーが他にいないため、外せません。先に別の運用者を"
                "スーパーユーザー（有効・スタッフ権限あり）にしてください。"
            )
    if errors:
        raise OperatorChangeRefused(errors)
    return stored


def operator_change_check(*, actor: User, operator: User, values: Mapping[str, object]) -> None:
    """Raise ``OperatorChangeRefused`` unless ``actor`` may give ``operator`` ``values``
    (field → new value; ``groups`` and ``user_permissions`` as the whole new set). It locks
    what it reads until the caller's transaction ends: a form checking in the transaction
    that saves (the admin's change page) keeps what it checked true until it is saved."""
    with transaction.atomic():
        _check(actor=actor, operator=operator, values=values)


def operator_update(
    *,
    actor: User,
    operator: User,
    fields: Collection[str],
    groups: Iterable[Group] | None = None,
    permissions: Iterable[Permission] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Save ``fields`` of ``operator`` as set on it, and its groups and permissions when
    given (the whole new set), if ``actor`` may (``operator_change_check``); record what
    changed, from → to, in the admin's log. The changes; nothing when refused."""
    saved = [name for name in fields if name in PROFILE_FIELDS | RIGHTS_FIELDS - _RELATIONS]
    values: dict[str, object] = {name: getattr(operator, name) for name in saved}
    if groups is not None:
        values["groups"] = groups = list(groups)
    if permissions is not None:
        values["user_permissions"] = permissions = list(permissions)
    # A new username is claimed before the rows are locked, as the admin's change form
    # claims it while it validates: Tanaka is refused beside tanaka, also at the same moment.
    written: AbstractContextManager[Any] = (
        username_claimed(operator.username, account=operator.pk)
        if "username" in saved
        else transaction.atomic()
    )
    try:
        with written:
            before = _state(_check(actor=actor, operator=operator, values=values))
            if saved:
                operator.save(update_fields=saved)
            if groups is not None:
                operator.groups.set(groups)
            if permissions is not None:
                operator.user_permissions.set(permissions)
            after = _state(User.objects.get(pk=operator.pk))
            changes = {
                name: (before[name], after[name]) for name in after if before[name] != after[name]
            }
            if "is_active" in changes:
                # Django refuses an inactive account's session but keeps it: a reactivation
                # signed every browser signed in as the operator in again, a cookie taken
                # before the deactivation (perhaps its reason) with them. Ended both ways:
                # one an inactive account has is a sign-in's that checked the password
                # before the deactivation and saved its session after it.
                account_sessions_end(operator)
            if changes:
                _record(actor, operator, CHANGE, change_message(changes))
    except UsernameTaken as taken:
        raise OperatorChangeRefused({"username": taken.messages}) from None
    return changes


def operator_create(*, actor: User, username: str, password: str) -> User:
    """A new operator's account, added by a superuser (``OperatorChangeRefused`` otherwise),
    with no rights (staff status, groups and permissions are granted on its page). Its
    password is the superuser's choice: its owner changes it at the first sign-in."""
    operator = User(username=User.normalize_username(username))
    try:
        # The username first, then the rows (as the admin's forms claim it while they
        # validate): Tanaka is refused beside tanaka, also when added at the same moment.
        with username_claimed(operator.username):
            actor_now, _stored, _administrators = _locked(actor, None)
            if not _is_administrator(actor_now):
                raise OperatorChangeRefused(
                    {None: ["運用者は、スーパーユーザーだけが追加できます。"]}
                )
            operator.set_password_chosen_by_other(password)
            operator.save()
            _record(actor, operator, ADDITION, [{"added": {}}])
    except UsernameTaken as taken:
        raise OperatorChangeRefused({"username": taken.messages}) from None
    return operator


def operator_password_set(*, actor: User, operator: User, password: str) -> None:
    """A superuser sets another operator's password (a forgotten one, an account taken over).
    It is someone else's choice: its owner must change it before anything else, and may
    never change back to it; their sessions end. One's own password is changed with the
    current one (``operator_password_change``), never here."""
    with transaction.atomic():
        actor_now, stored, _administrators = _locked(actor, operator.pk)
        if not _is_administrator(actor_now) or stored is None or stored.pk == actor.pk:
            raise OperatorChangeRefused({None: [
                "他の運用者のパスワードは、スーパーユーザーだけが設定できます"
                "（自分のパスワードは「パスワードの変更」で変更します）。"
            ]})  # fmt: skip
        stored.set_password_chosen_by_other(password)
        stored.save(update_fields=["password", "must_change_password", "chosen_passwords"])
        _record(actor, stored, CHANGE, [{"changed": {
            "fields": ["パスワード（スーパーユーザーが設定。本人が次のログインで変更します）"],
            "values": {"password": {"set_by": "superuser"}},
        }}])  # fmt: skip
    operator.refresh_from_db()


def operator_password_change(*, actor: User, new_password: str, request: HttpRequest) -> None:
    """The operator's own new password (the form checked the current one and refused one
    someone else chose): the flag that someone else chose the old one is cleared, the
    session stays signed in, and the change is in the admin's log.

    If the stored password differs from the one the request signed in with (a superuser's
    reset committed meanwhile) or the account was deactivated, nothing changes
    (``PasswordChangedMeanwhile``): saving over the reset would give the account back to
    whoever it was meant to shut out."""
    with transaction.atomic():
        own_password_set(actor, new_password)
        _record(actor, actor, CHANGE, [{"changed": {
            "fields": ["パスワード（本人が変更）"], "values": {"password": {"set_by": "owner"}},
        }}])  # fmt: skip
        sign_in_event_record(request=request, action="auth.password_changed", user=actor)
    update_session_auth_hash(request, actor)


#: What the admin's log calls a lifted lock of the operators' sign-ins from an address.
ADDRESS_LOCK = "ログインの接続元のロック"


def operator_address_release(*, actor: User, address: str) -> str:
    """A superuser lifts the lock on a client address of the operators' sign-ins (public
    schema: too many usernames failed from it) before its cool-off ends, as a city's
    administrators lift their city's (``sign_in_address_lock_lift``, the same keys of the
    public schema); ``OperatorChangeRefused`` for anyone else.

    The public schema has no audit trail: the admin's log keeps who lifted which address,
    in the lift's transaction, a deletion of no stored object (no content type; the
    address names it, 「ログインの接続元のロック “<address>” を削除しました。」). An address
    is no resident's data. Before, nobody could see or lift these locks: axes' pages show
    axes' per-username records only."""
    if not on_public_schema():
        raise OperatorChangeRefused(
            {None: ["運用者の接続元のロックは公開ドメインでのみ解除できます。"]}
        )
    if not _is_administrator(actor):
        raise OperatorChangeRefused(
            {None: ["接続元のロックは、スーパーユーザーだけが解除できます。"]}
        )

    def logged(label: str) -> None:
        message = [{"deleted": {"name": ADDRESS_LOCK, "object": label, "address": label}}]
        LogEntry.objects.create(
            user_id=actor.pk, content_type=None, object_id=None,
            object_repr=f"{ADDRESS_LOCK} {label}"[:200], action_flag=DELETION,
            change_message=json.dumps(message, ensure_ascii=False),
        )  # fmt: skip

    return sign_in_address_lock_lift(address=address, record=logged)


@contextmanager
def operator_command_recorded(*, command: str) -> Iterator[None]:
    """Record in the admin's log each operator's account that a server command (``command``,
    ``manage.py createsuperuser``, ``manage.py changepassword``) adds or whose password it
    sets while in this block, in the same transaction as the change.

    Whoever runs the command at the server's shell has no account here: Django's log wants
    one, so the entry's 「ユーザー」 is the account itself, and its message names the command
    (``"command"`` in the data). An addition names what the account was given (username,
    email, staff and superuser status); a password is named as set by the command, never
    its value. Before, these changes left nothing in the log the admin's changes are in.

    A password the command sets is someone else's choice, as a superuser's reset
    (``operator_password_set``): its owner must change it at the next sign-in
    (``OperatorAdminSite.admin_view``) and may never change back to it; the entry says so.
    Before, it was the account's to keep, and whoever typed it could use it unnoticed."""
    saved: list[tuple[User, bool]] = []

    def collect(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
        saved.append((instance, created))

    with transaction.atomic():
        post_save.connect(collect, sender=User, weak=False, dispatch_uid=id(saved))
        try:
            yield
        finally:
            post_save.disconnect(sender=User, dispatch_uid=id(saved))
        for operator, created in saved:
            if created:
                after = _state(operator)
                changes = {
                    name: (False if name in _FLAGS else None, after[name])
                    for name in ("username", "email", *_FLAGS)
                }
                message = [{"added": {}}, *change_message(changes)]
                flag = ADDITION
            else:
                # The receiver is gone: this save is no second change to record.
                operator.mark_password_chosen_by_other()
                operator.save(update_fields=["must_change_password", "chosen_passwords"])
                message = [{"changed": {
                    "fields": ["パスワード（サーバーのコマンドで設定。本人が次のログインで変更します）"],
                    "values": {"password": {"set_by": "command"}},
                }}]  # fmt: skip
                flag = CHANGE
            _command_record(operator, flag, message, command)


def _command_record(operator: User, flag: int, message: list[dict[str, Any]], command: str) -> None:
    """An entry of the admin's log for what a server command did to ``operator``: the
    entry's user is the account itself (the shell has none), and the message names the
    command first."""
    shown = message[-1]["changed"]
    shown["fields"].insert(0, f"実行: {command}（サーバーのシェル）")
    shown["command"] = command
    _record(operator, operator, flag, message)


def operator_rename_record(*, operator: User, before: str, command: str) -> None:
    """Record in the admin's log that a server command (``rename_account``) renamed
    ``operator`` from ``before``, in the rename's transaction."""
    _command_record(
        operator, CHANGE, change_message({"username": (before, operator.username)}), command
    )
