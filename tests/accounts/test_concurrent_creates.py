"""Two administrators creating the same username, or two designers the same ledger code,
at the same moment: both pass the check for a free name, and the second insert met the
unique index; a 500 with nothing said. The second is now told, as when the name was
taken before. Real threads on their own connections, in a city whose rows commit."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_tenants.utils import schema_context

from ledgers.access.staff import DirectoryInvalid, staff_create
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from ledgers.exceptions import DefinitionInvalid
from tests.conftest import FUCHU

User = get_user_model()
PASSWORD = "Concurrent-create-2026"
FIELDS = [{"key": "name", "label": "氏名", "type": "text"}]


def _admin() -> Any:
    return User.objects.get(username="admin")


def _first_holds_the_name(
    first: Callable[[], Any], second: Callable[[], Any]
) -> BaseException | None:
    """``first`` in a transaction of its own, kept open until ``second`` (on this thread)
    has checked the name and waits on the unique index; what ``second`` raised."""
    inserted, go = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with schema_context(FUCHU.slug), transaction.atomic():
                first()
                inserted.set()
                assert go.wait(timeout=10)
        finally:
            inserted.set()
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert inserted.wait(timeout=10)
    threading.Timer(0.5, go.set).start()  # while ``second`` waits on the index
    try:
        with schema_context(FUCHU.slug):
            second()
    except Exception as exc:
        return exc
    finally:
        holder.join(timeout=10)
    return None


def test_the_same_username_created_twice_at_once(fuchu: None, django_db_blocker: Any) -> None:
    username = f"dup{secrets.token_hex(3)}"
    with django_db_blocker.unblock():
        raised = _first_holds_the_name(
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
        raised = _first_holds_the_name(
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
