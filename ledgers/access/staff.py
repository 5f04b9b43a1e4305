"""Departments (課) and staff accounts of a city, managed by its city administrators."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from daicho.accounts.exceptions import UsernameTaken
from daicho.accounts.models import Department, Membership, Role
from daicho.accounts.services import sessions_end, username_claimed
from daicho.tenancy.guard import require_tenant
from ledgers.access.policy import is_city_admin, valid_memberships
from ledgers.audit.services import audit_record
from ledgers.exceptions import AccessDenied, LedgerError
from ledgers.fields.normalize import text_problem
from ledgers.tags import content_tag, tag_require

User = get_user_model()
_ROLES = {r.value for r in Role}


#: One's own new password without the current one checked against the stored one.
OWN_CHANGE_UNCHECKED = (
    "自分のパスワードを変更するには、現在のパスワード（current_password）を正しく指定してください。"
)


class DirectoryInvalid(LedgerError):
    code = "ERROR_DIRECTORY_INVALID"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        lines = [f"{k}: {m}" for k, msgs in errors.items() for m in msgs]
        super().__init__(
            "入力内容に誤りがあります。\n" + "\n".join(lines), detail={"errors": errors}
        )
        self.errors = errors


def _name_errors(
    errors: dict[str, list[str]], field: str, text: str | None, *, stored: str | None = None
) -> None:
    """A department's or a staff member's name is shown in every list, the audit trail and
    print: it may hold nothing ``text_problem`` refuses (a NUL, a line break, an invisible
    or bidirectional character: two staff named alike on screen, or a name shown
    backwards). The name already ``stored`` passes, written before the rule: a change of
    memberships that sends it back must not fail on it."""
    if text is None or text == stored:
        return
    problem = text_problem(text, allow_newlines=False)
    if problem is not None:
        errors.setdefault(field, []).append(f"{problem}。")


def require_city_admin(
    actor: Any,
    *,
    attempted: str,
    message: str = "課と職員を管理できるのは自治体管理者です。",
    **target: str,
) -> None:
    """Refuse (``AccessDenied``) anyone but a city administrator a read or change of the
    directory, and leave ``directory.refused`` first: who tried ``attempted``
    (``staff.update``, …) on whom (``target``: the username or department code as given,
    cut to the field's length; never a password or the body). A colleague who tried to
    give themself a role (a perpetrator in another department joining the support team)
    or to list the staff was answered 403 and the auditors never saw it. Written outside
    the refused change's transaction: it stays."""
    require_tenant()
    if is_city_admin(actor):
        return
    audit_record(
        actor=actor, action="directory.refused",
        details={"attempted": attempted, **{key: str(value)[:150] for key, value in target.items()}},
    )  # fmt: skip
    raise AccessDenied(message)


def department_describe(department: Department) -> dict[str, Any]:
    """A department as ``GET /api/v1/departments/{code}/`` answers it."""
    return {"code": department.code, "name": department.name, "active": department.active}


def department_tag(department: Department) -> str:
    """The version tag (ETag) of a department: a digest of ``department_describe``."""
    return content_tag(department_describe(department))


def staff_describe(user: Any) -> dict[str, Any]:
    """A staff member as ``GET /api/v1/staff/{username}/`` answers it."""
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("department")
        .order_by("valid_from", "pk")
    )
    return {
        "username": user.username,
        "display_name": user.display_name,
        "active": user.is_active,
        "memberships": [
            {
                "department": m.department.code,
                "role": m.role,
                "valid_from": m.valid_from,
                "valid_to": m.valid_to,
            }
            for m in memberships
        ],
    }


def staff_tag(described: Mapping[str, Any]) -> str:
    """The version tag (ETag) of a staff member as ``staff_describe`` reads them."""
    return content_tag(described)


def department_create(*, actor: Any, code: str, name: str, active: bool = True) -> Department:
    """Create a department, switched off from the start with ``active=False`` (the API's
    ``"active": false`` was ignored, and the department created switched on)."""
    require_city_admin(actor, attempted="department.create", code=code)
    errors: dict[str, list[str]] = {}
    if (
        not code
        or not code.replace("_", "").replace("-", "").isalnum()
        or not code.isascii()
        or len(code) > 64
    ):
        errors["code"] = ["課コードは半角英数字・_・- の64文字以内にしてください。"]
    if not (name or "").strip() or len(name) > 100:
        errors["name"] = ["課名を100文字以内で入力してください。"]
    _name_errors(errors, "name", name)
    if errors:
        raise DirectoryInvalid(errors)
    try:
        with transaction.atomic():
            department = Department.objects.create(code=code, name=name.strip(), active=active)
            details: dict[str, Any] = {"code": code, "name": department.name}
            if not active:
                details["active"] = False
            audit_record(actor=actor, action="department.create", details=details)
    except IntegrityError:
        raise DirectoryInvalid({"code": [f"課コード「{code}」は既にあります。"]}) from None
    return department


def department_update(
    *,
    actor: Any,
    department: Department,
    name: str | None = None,
    active: bool | None = None,
    expected_tags: Collection[str] | None = None,
) -> Department:
    """Rename a department or switch it on or off; with ``expected_tags`` (the caller's
    ``If-Match``), only the version the caller read (``department_tag``, under the lock)."""
    require_city_admin(actor, attempted="department.update", code=department.code)
    errors: dict[str, list[str]] = {}
    if name is not None and (not name.strip() or len(name) > 100):
        errors["name"] = ["課名を100文字以内で入力してください。"]
    _name_errors(errors, "name", name, stored=department.name)
    if errors:
        raise DirectoryInvalid(errors)
    with transaction.atomic():
        # The row as it is now, locked until the change commits: the request's copy, read
        # before and saved whole, switched back on a department another administrator had
        # switched off meanwhile (and with it every membership in it).
        _lock_directory()
        department = Department.objects.select_for_update(no_key=True).get(pk=department.pk)
        tag_require(expected_tags, department_tag(department), document="department")
        before = {"name": department.name, "active": department.active}
        if name is not None:
            department.name = name.strip()
        if active is not None:
            department.active = active
        department.save()
        _require_a_city_admin_left()
        audit_record(
            actor=actor, action="department.update",
            details={"code": department.code, "before": before,
                     "after": {"name": department.name, "active": department.active}},
        )  # fmt: skip
    return department


def _memberships_of(user: Any) -> list[dict[str, Any]]:
    """A user's memberships as the audit trail records them (before/after a change)."""
    return [
        {
            "department": m.department.code,
            "role": m.role,
            "valid_from": m.valid_from.isoformat(),
            "valid_to": m.valid_to.isoformat() if m.valid_to else None,
        }
        for m in Membership.objects.filter(user=user).select_related("department").order_by("pk")
    ]


#: The advisory lock class of a city's staff directory ("STFD"), the schema's oid below it.
_DIRECTORY_LOCK_CLASS = 0x53544644


def _lock_directory() -> None:
    """Take the city's staff-directory lock for the rest of the transaction: a change of an
    account or a department first locks its own row, then every administrator's
    (``_require_a_city_admin_left``). Two administrators changing each other's accounts at
    once each held one and waited for the other's: PostgreSQL broke the deadlock with a
    server error (noticed by a race review). Changes of a city's directory are rare and
    short; they now queue up."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock((%s::bigint << 32)"
            " | (SELECT oid::bigint FROM pg_namespace WHERE nspname = current_schema()))",
            [_DIRECTORY_LOCK_CLASS],
        )


def _require_a_city_admin_left() -> None:
    """Refuse (inside the caller's transaction, rolled back) a change after which no active
    account administers the city: nobody could manage its staff, departments or tokens
    until an operator stepped in. Self-deactivation was refused; demoting oneself, or
    switching off the department of one's city_admin membership, was not."""
    # is_city_admin's rule for every active account in one statement (the flag, or a
    # city_admin membership valid today in an active department), locking the accounts it
    # finds so that two concurrent demotions cannot both pass. One query, not one per user.
    administering = valid_memberships().filter(role=Role.CITY_ADMIN)
    admins = (
        User.objects.select_for_update()
        .filter(is_active=True)
        .filter(Q(is_city_admin=True) | Q(pk__in=administering.values("user_id")))
    )
    if not list(admins.values_list("pk", flat=True)):
        raise DirectoryInvalid(
            {
                "city_admin": [
                    "この変更で自治体管理者が一人もいなくなります。先に別の管理者を置いてください。"
                ]
            }
        )


def _membership_rows(user: Any, memberships: Iterable[Mapping[str, Any]]) -> list[Membership]:
    departments = {d.code: d for d in Department.objects.all()}
    errors: dict[str, list[str]] = {}
    rows: list[Membership] = []
    placed: list[tuple[int, Membership]] = []
    for index, spec in enumerate(memberships, start=1):
        where = f"memberships[{index}]"
        problems = []
        department = departments.get(spec.get("department", ""))
        if department is None:
            problems.append(f"課「{spec.get('department')}」はありません。")
        if spec.get("role") not in _ROLES:
            problems.append(f"役割は {', '.join(sorted(_ROLES))} のいずれかにしてください。")
        valid_from, valid_to = spec.get("valid_from"), spec.get("valid_to")
        if not isinstance(valid_from, date):
            problems.append("開始日（valid_from）を指定してください。")
        elif valid_to is not None and (not isinstance(valid_to, date) or valid_to < valid_from):
            problems.append("終了日は開始日以降にしてください。")
        if problems:
            errors[where] = problems
            continue
        row = Membership(
            user=user, department=department, role=spec["role"],
            valid_from=valid_from, valid_to=valid_to,
        )  # fmt: skip
        placed.append((index, row))
        rows.append(row)
    errors.update(_overlaps(placed))
    if errors:
        raise DirectoryInvalid(errors)
    return rows


def _overlaps(placed: list[tuple[int, Membership]]) -> dict[str, list[str]]:
    """The entries (by their position) of one department and role with a day in common
    with an earlier-starting one (``valid_to`` inclusive), each naming the other.

    The same department and role twice on a common day says one thing twice: an edit of
    one entry (its end brought forward) left the role in force through the other.
    Handovers (one ends, the next begins the day after) and two roles stay allowed. Sorted
    per department and role by start, an entry starting by the latest end so far overlaps
    the entry reaching it: n log n, whatever the length of the list."""
    groups: dict[tuple[int, str], list[tuple[date, int, Membership]]] = defaultdict(list)
    for index, row in placed:
        groups[(row.department_id, row.role)].append((row.valid_from, index, row))
    errors: dict[str, list[str]] = {}
    for entries in groups.values():
        entries.sort(key=lambda entry: entry[:2])
        reach: tuple[date | None, int] | None = None  # the latest end so far (None: open)
        for start, index, row in entries:
            if reach is not None and (reach[0] is None or start <= reach[0]):
                first, later = sorted((reach[1], index))
                errors[f"memberships[{later}]"] = [
                    f"memberships[{first}] と同じ課・役割で、期間が重なっています。"
                ]
            if reach is None or (
                reach[0] is not None and (row.valid_to is None or row.valid_to > reach[0])
            ):
                reach = (row.valid_to, index)
    return errors


def staff_create(
    *,
    actor: Any,
    username: str,
    password: str,
    display_name: str = "",
    memberships: Iterable[Mapping[str, Any]] = (),
    active: bool = True,
) -> Any:
    """Create a staff account in this city with its memberships (人事異動 dates included);
    with ``active=False`` one that cannot sign in until switched on (the API's
    ``"active": false`` was ignored, and the account created able to sign in)."""
    require_city_admin(actor, attempted="staff.create", username=username)
    errors: dict[str, list[str]] = {}
    # As Django's create_user does (NFKC): ｔａｎａｋａ is tanaka, not a second account.
    username = User.normalize_username(username) if isinstance(username, str) else username
    try:
        UnicodeUsernameValidator()(username or "")
        if not username or len(username) > 150:
            raise ValidationError("ユーザー名を150文字以内で入力してください。")
    except ValidationError as exc:
        errors["username"] = list(exc.messages)
    try:
        validate_password(password or "", User(username=username))
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    _name_errors(errors, "display_name", display_name)
    if errors:
        raise DirectoryInvalid(errors)
    try:
        # Case aside too: Tanaka beside tanaka reads as the same person in the audit trail
        # and on every screen that names who did what. Claimed in the transaction that
        # inserts: another administrator's create of Tanaka or tanaka waits for this one,
        # then is refused (the unique index refuses what took no claim).
        with username_claimed(username):
            # The administrator chose the password: its owner changes it at first sign-in.
            user = User(
                username=username, display_name=(display_name or "")[:150], is_active=active
            )
            user.set_password_chosen_by_other(password)
            user.save()
            Membership.objects.bulk_create(_membership_rows(user, memberships))
            # Who the account is and is shown as: the trail keeps what a later rename changes.
            details: dict[str, Any] = {
                "user": user.pk, "username": user.username, "display_name": user.display_name,
                "memberships": _memberships_of(user),
            }  # fmt: skip
            if not active:
                details["active"] = False
            audit_record(actor=actor, action="staff.create", details=details)
    except UsernameTaken as taken:
        raise DirectoryInvalid({"username": taken.messages}) from None
    return user


def _tokens_end(actor: Any, user: Any) -> int:
    """Revoke every live API token of ``user`` (``actor`` None: a server operator's
    command); the number revoked."""
    from ledgers.api.tokens.services import token_revoke, tokens_of

    live = list(tokens_of(user).filter(revoked_at__isnull=True))
    for token in live:
        token_revoke(actor=actor, token=token)
    return len(live)


def staff_created_by_command(*, user: Any, via: str) -> None:
    """A server operator's command (``via``: ``manage.py createsuperuser`` or
    ``create_tenant_superuser`` run on the city) has just made ``user``: ``staff.create``
    with no actor, as a city administrator's creation but for the actor, naming the
    account (an interactive run's username is typed after the run's ``operator.command``,
    which then names none).

    A password the run set (typed at its prompt, or ``DJANGO_SUPERUSER_PASSWORD``) is the
    server operator's choice for an account of the city, as ``changepassword``'s is
    (``staff_password_set_by_command``): its owner must change it at the first sign-in and
    may never change back to it; the event says so (``must_change_password``). Before, it
    was the account's to keep, and whoever typed it could use it unnoticed. A run that set
    none (``--noinput`` without the variable: no password to sign in with) changes nothing."""
    require_tenant()
    with transaction.atomic():
        if user.has_usable_password():
            user = User.objects.select_for_update(no_key=True).get(pk=user.pk)
            user.mark_password_chosen_by_other()
            user.save(update_fields=["must_change_password", "chosen_passwords"])
        audit_record(
            actor=None, action="staff.create",
            details={"user": user.pk, "username": user.username, "memberships": [],
                     "is_superuser": user.is_superuser,
                     "must_change_password": user.must_change_password, "via": via},
        )  # fmt: skip


def staff_password_set_by_command(*, user: Any, via: str) -> None:
    """A server operator's command (``via``: ``manage.py changepassword`` run on the city)
    has just set ``user``'s password, inside the caller's transaction: it is someone else's
    choice, as a city administrator's reset (``staff_update``) is. Its owner must change it
    at the next sign-in and may never change back to it, the account's API tokens end, and
    ``staff.update`` (no actor, ``via``) says so, with ``must_change_password``.

    Before, a password typed at the server's console was the account's to keep: whoever
    typed it could sign in with it unnoticed, and the tokens of a taken-over account
    (issued by whoever took it) kept working."""
    require_tenant()
    with transaction.atomic():
        user = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        user.mark_password_chosen_by_other()
        user.save(update_fields=["must_change_password", "chosen_passwords"])
        revoked = _tokens_end(None, user)
        audit_record(
            actor=None, action="staff.update",
            details={"user": user.pk, "changed": ["password"], "must_change_password": True,
                     "tokens_revoked": revoked, "via": via},
        )  # fmt: skip


def staff_update(
    *,
    actor: Any,
    user: Any,
    display_name: str | None = None,
    password: str | None = None,
    memberships: Iterable[Mapping[str, Any]] | None = None,
    active: bool | None = None,
    expected_tags: Collection[str] | None = None,
    own_password_checked: str | None = None,
) -> Any:
    """Change a staff account; ``memberships`` replaces them all (audited before/after).
    With ``expected_tags`` (the caller's ``If-Match``), only the version the caller read
    (``staff_tag``, under the directory's lock): memberships are replaced whole, and a list
    made from those read before another administrator's change undid it unseen.

    One's own ``password`` needs ``own_password_checked``: the stored hash the caller's
    current password was checked against (the API's ``current_password``, through
    ``authenticate()``), still the stored one under the lock. Without it, a captured token
    of a city administrator set its owner's password (the account for good, the owner shut
    out); and a reset committed after the check was written over, as the screen's
    ``PasswordChangedMeanwhile`` prevents."""
    require_city_admin(actor, attempted="staff.update", username=user.username)
    errors: dict[str, list[str]] = {}
    _name_errors(errors, "display_name", display_name, stored=user.display_name)
    if errors:
        raise DirectoryInvalid(errors)
    own = user.pk == getattr(actor, "pk", None)
    with transaction.atomic():
        # The account as it is now, locked until the change commits: the request's copy,
        # read before and saved whole, undid what another administrator changed meanwhile
        # (a deactivated account came back active; a reset's chosen password was dropped
        # from those its owner may not go back to). FOR NO KEY UPDATE: rows that merely name
        # the account (its records' writer) are not held up.
        _lock_directory()
        user = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        if expected_tags is not None:  # reading the memberships is a query
            tag_require(expected_tags, staff_tag(staff_describe(user)), document="staff")
        if (
            password is not None
            and own
            and (own_password_checked is None or own_password_checked != user.password)
        ):
            raise DirectoryInvalid({"current_password": [OWN_CHANGE_UNCHECKED]})
        if password is not None:
            try:
                validate_password(password, user)
                if own and user.is_password_chosen_by_other(password):
                    # Back to a password someone else chose: they could still use it unnoticed.
                    raise ValidationError("他の人が設定したパスワードには戻せません。")
            except ValidationError as exc:
                raise DirectoryInvalid({"password": list(exc.messages)}) from None
        changed = []
        named = user.display_name
        if display_name is not None:
            user.display_name = display_name[:150]
            changed.append("display_name")
        if password is not None:
            if own:
                user.set_password(password)
                user.must_change_password = False
            else:
                # Set by someone else (a reset): its owner changes it at the next sign-in.
                user.set_password_chosen_by_other(password)
            changed.append("password")
        was_active = user.is_active
        if active is not None:
            if not active and user.pk == getattr(actor, "pk", None):
                raise DirectoryInvalid({"active": ["自分自身を無効にはできません。"]})
            user.is_active = active
            changed.append("is_active")
        user.save()
        details: dict[str, Any] = {"user": user.pk, "changed": changed}
        if display_name is not None:
            # What every screen names the person by: "changed" alone lost who they had been.
            details["display_name"] = {"before": named, "after": user.display_name}
        if memberships is not None:
            rows = _membership_rows(user, memberships)
            details["memberships"] = {"before": _memberships_of(user)}
            Membership.objects.filter(user=user).delete()
            Membership.objects.bulk_create(rows)
            details["memberships"]["after"] = _memberships_of(user)
            changed.append("memberships")
        if active is not None:
            details["active"] = {"before": was_active, "after": user.is_active}
        reset = password is not None and not own
        if (was_active and not user.is_active) or reset:
            # Its tokens end with it: a token leaked before the deactivation (perhaps its
            # reason) must not come back with a later reactivation. So with a reset by an
            # administrator, the answer to a taken-over account: its sessions end with the
            # old password (Django's session hash), and the tokens whoever took it issued
            # must end too. Its owner issues new ones after choosing a password.
            revoked = _tokens_end(actor, user)
            if reset:
                details["tokens_revoked"] = revoked
        if was_active != user.is_active:
            # Its sessions too: Django refuses an inactive account's session but keeps it,
            # and the reactivation signed it in again (a reset ends them by the password).
            # Ended again when it comes back: an inactive account signs in nowhere, so a
            # session it has then is one a sign-in saved after the deactivation had ended
            # the others (it had checked the password before, and the session row is
            # written when its answer leaves).
            details["sessions_ended"] = sessions_end(user)
        _require_a_city_admin_left()
        audit_record(actor=actor, action="staff.update", details=details)
    return user
