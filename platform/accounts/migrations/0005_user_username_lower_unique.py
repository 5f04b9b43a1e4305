"""Usernames unique but for letter case: a unique index on ``lower(username)``.

It runs in every schema that has the table: ``public`` (operators) and each city's (its
staff). Accounts that already differ only by case (Tanaka beside tanaka, made before any
path refused them) would make the index build fail with a bare IntegrityError; the
migration looks for them first and, if it finds any, stops with a message that names the
schema and the accounts by primary key (never by username: usernames can be personal
data, and the message lands in deployment logs) and says what to do. Nothing of that
schema changes; schemas migrated before it keep their index, and a run after the fix goes
on from there.

The table is locked against writes (SHARE, which the index build takes anyway) before the
look, so that no account made meanwhile slips between the look and the build. Accounts
tables are small (a city's staff): the build is quick, and it rewrites nothing.
"""

from __future__ import annotations

from typing import Any

import django.db.models.functions.text
from django.core.management.base import CommandError
from django.db import migrations, models
from psycopg import sql

import daicho.accounts.models


def username_lookalikes(cursor: Any, table: str = "accounts_user") -> list[list[int]]:
    """The groups of accounts whose usernames are the same but for letter case (as
    ``lower()`` compares them, like the index), each as its primary keys in order, in the
    current schema."""
    cursor.execute(
        sql.SQL(
            "SELECT array_agg(id ORDER BY id) FROM {} GROUP BY lower(username)"
            " HAVING count(*) > 1 ORDER BY min(id)"
        ).format(sql.Identifier(table))
    )
    return [list(row[0]) for row in cursor.fetchall()]


def lookalikes_message(schema: str, groups: list[list[int]]) -> str:
    """What the operator reads when ``schema`` holds ``groups`` (``username_lookalikes``)."""
    listed = "".join(
        "\n    accounts " + ", ".join(str(pk) for pk in group[:-1]) + f" and {group[-1]}"
        for group in groups
    )
    if schema == "public":
        recorded = "in the admin's log"
        deactivate = "in the operators' admin (untick Active / 「有効」)"
    else:
        recorded = "in the city's audit trail"
        deactivate = (
            "by the city's administrator (DELETE /api/v1/staff/<username>/) once this release runs"
        )
    return (
        f'Schema "{schema}" has accounts whose usernames differ only by letter case '
        "(primary keys, one group per line):"
        f"{listed}\n"
        "Usernames must now be unique regardless of case "
        "(accounts.0005_user_username_lower_unique): such accounts read as the same person "
        "in the audit trail and on every screen. The migration of this schema stopped and "
        "changed nothing.\n"
        "For each group, keep the account its owner uses and give each of the others a "
        f"username of its own (recorded {recorded}):\n"
        f"    python manage.py rename_account --schema {schema} --id <id> --username <new>\n"
        f"An account no longer used may be renamed and then deactivated, {deactivate}. "
        "Tell the owner of a renamed account its new username. Then run the migration "
        "again: schemas already migrated are skipped."
    )


def refuse_lookalikes(apps: Any, schema_editor: Any) -> None:
    table = apps.get_model("accounts", "User")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        # Writes wait from here to the end of the migration's transaction.
        cursor.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(table)))
        groups = username_lookalikes(cursor, table)
        if groups:
            cursor.execute("SELECT current_schema()")
            raise CommandError(lookalikes_message(cursor.fetchone()[0], groups))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_user_chosen_passwords"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", daicho.accounts.models.UserManager()),
            ],
        ),
        migrations.RunPython(refuse_lookalikes, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("username"),
                name="user_username_lower_unique",
                violation_error_message="大文字と小文字の違いだけのユーザー名が既に使われています。",
            ),
        ),
    ]
