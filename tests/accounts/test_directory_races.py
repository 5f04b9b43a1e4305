"""A city's staff directory and ledgers changed by two people at the same moment.

Two creates of the same username or ledger code both passed the check for a free name,
and the second insert met the unique index (a 500 with nothing said); two administrators
changing each other's accounts deadlocked. Real threads on their own connections, in a
city whose rows commit."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_tenants.utils import schema_context

from ledgers.access import staff
from ledgers.access.staff import DirectoryInvalid, staff_create, staff_update
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from ledgers.exceptions import DefinitionInvalid
from tests.conftest import FUCHU, first_holds

User = get_user_model()
PASSWORD = "Concurrent-create-2026"
FIELDS = [{"key": "name", "label": "氏名", "type": "text"}]


def _admin() -> Any:
    return User.objects.get(username="admin")


def test_the_same_username_created_twice_at_once(fuchu: None, django_db_blocker: Any) -> None:
    username = f"dup{secrets.token_hex(3)}"
    with django_db_blocker.unblock():
        raised = first_holds(
            FUCHU.slug,
            lambda: staff_create(actor=_admin(), username=username, password=PASSWORD),
            lambda: staff_create(actor=_admin(), username=username, password=PASSWORD),
        )
        assert isinstance(raised, DirectoryInvalid), repr(raised)
        assert raised.errors == {"username": [f"ユーザー名「{username}」は既に使われています。"]}
        with schema_context(FUCHU.slug):
            assert User.objects.filter(username=username).count() == 1


def test_the_same_ledger_code_created_twice_at_once(fuchu: None, django_db_blocker: Any) -> None:
    code = f"dup{secrets.token_hex(3)}"
    with django_db_blocker.unblock():
        raised = first_holds(
            FUCHU.slug,
            lambda: ledger_create(actor=_admin(), code=code, name="先の台帳", fields=FIELDS),
            lambda: ledger_create(actor=_admin(), code=code, name="後の台帳", fields=FIELDS),
        )
        assert isinstance(raised, DefinitionInvalid), repr(raised)
        assert raised.errors == {"code": [f"台帳コード「{code}」は既に使われています。"]}
        with schema_context(FUCHU.slug):
            assert list(Ledger.objects.filter(code=code).values_list("name", flat=True)) == [
                "先の台帳"
            ]


def test_a_name_taken_before_gets_the_same_answer(fuchu: None, db: None) -> None:
    """The answer the concurrent case now gives is the one a taken name always got. (This
    test asks for ``db``, which also has pytest-django set the database up when the module
    runs alone.)"""
    with schema_context(FUCHU.slug):
        with pytest.raises(DirectoryInvalid) as staff:
            staff_create(actor=_admin(), username="admin", password=PASSWORD)
        ledger_create(actor=_admin(), code="taken", name="先の台帳", fields=FIELDS)
        with pytest.raises(DefinitionInvalid) as ledger:
            ledger_create(actor=_admin(), code="taken", name="後の台帳", fields=FIELDS)
    assert staff.value.errors == {"username": ["ユーザー名「admin」は既に使われています。"]}
    assert ledger.value.errors == {"code": ["台帳コード「taken」は既に使われています。"]}


def test_two_administrators_changing_each_other_at_once(
    fuchu: None, django_db_blocker: Any
) -> None:
    """Found by a race review: a change of an account locks its row, then every
    administrator's (none may be the last to go); two administrators changing each other's
    accounts at once each held one row and waited for the other: a deadlock, one of them a
    server error. The city's staff directory is now locked first (``_lock_directory``):
    the second change waits for the first, then goes through."""
    suffix = secrets.token_hex(3)
    with django_db_blocker.unblock():
        with schema_context(FUCHU.slug):
            one, two = (
                User.objects.create_user(
                    username=f"{name}{suffix}", password=PASSWORD, is_city_admin=True
                )
                for name in ("kanri", "hosa")
            )
        locked, go, raised = threading.Event(), threading.Event(), []

        def first_half_then_check() -> None:
            # What staff_update(user=two) does before its last step, held open: the
            # directory, then its row; then the check of the administrators left.
            try:
                with schema_context(FUCHU.slug), transaction.atomic():
                    staff._lock_directory()
                    User.objects.select_for_update(no_key=True).get(pk=two.pk)
                    locked.set()
                    assert go.wait(timeout=10)
                    staff._require_a_city_admin_left()
            except Exception as exc:
                raised.append(exc)
            finally:
                locked.set()
                connection.close()

        def change_of_one() -> None:
            try:
                with schema_context(FUCHU.slug):
                    staff_update(actor=two, user=one, display_name="管理者")
            except Exception as exc:
                raised.append(exc)
            finally:
                connection.close()

        holder = threading.Thread(target=first_half_then_check)
        holder.start()
        assert locked.wait(timeout=10)
        changing = threading.Thread(target=change_of_one)
        changing.start()
        changing.join(timeout=1)  # it waits (for the directory; before, for two's row)
        go.set()
        holder.join(timeout=10)
        changing.join(timeout=10)
        assert raised == []
        with schema_context(FUCHU.slug):
            assert User.objects.get(pk=one.pk).display_name == "管理者"
