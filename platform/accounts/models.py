"""User accounts.

The table exists in every schema: in ``public`` it holds the vendor's operators (who sign in
to the operator admin on the public host), in each city's schema that city's staff. A city's
staff therefore exist only in its schema, and an operator account cannot sign in on a city's
host, nor a city's staff on the public host.

Usernames are unique in a schema but for letter case (``user_username_lower_unique``):
Tanaka beside tanaka would read as the same person in the audit trail and on every screen
that names who did what. Every path that creates or renames an account claims its
username first (``daicho.accounts.services.username_claim``) and answers a taken one as
such; the constraint holds against the rest.
"""

from typing import Any

from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower


class UserManager(DjangoUserManager):
    """Django's, but ``create_user`` and ``create_superuser`` (``manage.py createsuperuser``,
    ``create_tenant_superuser``, ``demo_setup``) refuse a username another account holds
    but for letter case: ``UsernameTaken``, a ``ValidationError`` the commands report as
    their own, and nothing is created, also when another create of it commits meanwhile."""

    def _create_user(self, username: Any, email: Any, password: Any, **extra_fields: Any) -> "User":
        from daicho.accounts.services import username_claimed

        user = self._create_user_object(username, email, password, **extra_fields)  # type: ignore[attr-defined]
        with username_claimed(user.username):
            user.save(using=self._db)
        return user


class User(AbstractUser):
    display_name = models.CharField("表示名", max_length=150, blank=True)
    # The city's own administrator (in a city schema); roles per department come with
    # memberships. Meaningless in the public schema, where operators use is_staff.
    is_city_admin = models.BooleanField("自治体管理者", default=False)
    # Set when someone else chose the password (the operator at provisioning, a city
    # administrator creating or resetting an account): until its owner changes it, a
    # signed-in session reaches only the password page and no API token is issued.
    must_change_password = models.BooleanField("パスワードの変更が必要", default=False)
    # The hashes of every password someone else chose, kept after its owner changed it:
    # changing it away and back again (P → Q → P) must not give whoever chose it a password
    # the owner still uses, with nothing left to change. Every one, not the last: with only
    # the last, a second reset (P → Q, reset to R, R → P) made P the owner's again.
    chosen_passwords = ArrayField(
        models.CharField(max_length=128),
        verbose_name="他者が設定したパスワード（ハッシュ）",
        default=list,
        blank=True,
        editable=False,
    )

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        verbose_name = "利用者"
        verbose_name_plural = "利用者"
        constraints = [
            # Tanaka beside tanaka: one person to whoever reads the trail. lower() as
            # selectors.username_holder compares; the migration that adds it stops on
            # accounts that already differ only by case (docs/operations.md).
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_lower_unique",
                violation_error_message="大文字と小文字の違いだけのユーザー名が既に使われています。",
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    def set_password_chosen_by_other(self, raw_password: str) -> None:
        """Set a password someone else chose (the operator, a city administrator): its owner
        must change it, and may never change to it, nor to any earlier one chosen for them
        (not saved here)."""
        self.set_password(raw_password)
        self.mark_password_chosen_by_other()

    def mark_password_chosen_by_other(self) -> None:
        """The password just set (``password``, by Django's ``changepassword`` at the
        server's console) is someone else's choice, as ``set_password_chosen_by_other``'s
        (not saved here)."""
        self.must_change_password = True
        self.chosen_passwords = [*self.chosen_passwords, self.password]

    def is_password_chosen_by_other(self, raw_password: str) -> bool:
        """True if ``raw_password`` is the current password while someone else's choice, or
        any password someone else ever chose for this account (one hash check each: resets
        are rare, and an account's list grows only with them)."""
        if self.must_change_password and self.check_password(raw_password):
            return True
        return any(check_password(raw_password, chosen) for chosen in self.chosen_passwords)


class Role(models.TextChoices):
    """What a member may do in a department; grants are capped by it."""

    VIEWER = "viewer", "閲覧者"
    EDITOR = "editor", "担当者"
    APPROVER = "approver", "決裁者"
    LEDGER_ADMIN = "ledger_admin", "台帳管理者"
    AUDITOR = "auditor", "監査担当"
    CITY_ADMIN = "city_admin", "自治体管理者"


class Department(models.Model):
    """A department (課) of the city."""

    code = models.SlugField("課コード", max_length=64, unique=True)
    name = models.CharField("課名", max_length=100)
    active = models.BooleanField("有効", default=True)
    created_at = models.DateTimeField("作成日時", auto_now_add=True)

    class Meta:
        verbose_name = "課"
        verbose_name_plural = "課"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A staff member's assignment to a department with a role, for a period.

    Staff rotate every April (人事異動): an assignment starts and ends on given days, and an
    old and a new holder may overlap for a handover. ``valid_to`` is the last day, inclusive.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField("役割", max_length=16, choices=Role.choices)
    valid_from = models.DateField("開始日")
    valid_to = models.DateField("終了日", null=True, blank=True)
    created_at = models.DateTimeField("作成日時", auto_now_add=True)

    class Meta:
        verbose_name = "所属"
        verbose_name_plural = "所属"
        ordering = ["user", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True)
                | models.Q(valid_to__gte=models.F("valid_from")),
                name="membership_period_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.department} {self.role}"


DEFAULT_SESSION_TIMEOUT_MINUTES = 30


class CitySecuritySettings(models.Model):
    """The city's own sign-in rules: one row in its schema (サインインの設定).

    The table exists in ``public`` too (the app is shared) but stays empty there: the
    operators' rules are settings (``OPERATOR_REQUIRE_2FA``,
    ``OPERATOR_SESSION_TIMEOUT_MINUTES``). Read it with ``security_settings_get()``, which
    answers the defaults while no row exists; change it with ``security_settings_update()``.
    """

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    require_2fa = models.BooleanField(
        "二要素認証を必須にする",
        default=False,
        help_text="オンにすると、二要素認証を設定していない職員は設定を済ませるまで他の画面を使えません。",
    )
    session_timeout_minutes = models.PositiveIntegerField(
        "無操作タイムアウト（分）",
        default=DEFAULT_SESSION_TIMEOUT_MINUTES,
        help_text="この時間操作がないと自動的にログアウトします。",
    )
    updated_at = models.DateTimeField("更新日時", auto_now=True)

    class Meta:
        verbose_name = "サインインの設定"
        verbose_name_plural = "サインインの設定"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(id=1), name="city_security_settings_singleton"
            ),
            models.CheckConstraint(
                condition=models.Q(session_timeout_minutes__gte=1),
                name="city_security_settings_timeout_positive",
            ),
        ]

    def __str__(self) -> str:
        return "サインインの設定"
