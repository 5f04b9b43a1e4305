"""A ledger designer whose ``design`` another designer is taking away, changing the grants
or the definition at the same moment. Real threads on their own connections, in a city
whose rows commit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.access.models import Grant
from ledgers.access.services import grants_replace
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import field_add, ledger_create
from ledgers.exceptions import AccessDenied
from tests.conftest import FUCHU

FULL = ["create", "delete", "design", "export", "print", "search", "update", "view"]


def _designer(username: str, department: str) -> Any:
    user = get_user_model().objects.create_user(username=username, password="x" * 12)
    Membership.objects.create(
        user=user,
        department=Department.objects.get_or_create(code=department, name=department)[0],
        role=Role.LEDGER_ADMIN,
        valid_from=date(2020, 4, 1),
    )
    return user


def _grants(*departments: str) -> list[dict[str, Any]]:
    return [
        {"department": d, "capabilities": FULL, "clearance": "special_care"} for d in departments
    ]


@pytest.mark.parametrize("act", ["grants", "field"])
def test_a_designer_whose_design_was_taken_away_meanwhile_changes_nothing(
    fuchu: None, django_db_blocker: Any, act: str
) -> None:
    """Found by a race review: grants_replace and the definition services checked the
    actor's ``design`` before taking the ledger's lock. A designer being demoted by another
    (whose change held the lock) passed the check on the grants as they were, waited, and
    then wrote: its own grants back over the demotion (it replaces the whole list), or a
    change of the definition it no longer had the right to make."""
    code = f"race_{act}"
    with django_db_blocker.unblock():
        with schema_context(FUCHU.slug):
            keeper = _designer(f"keeper-{act}", f"kikaku-{act}")
            leaver = _designer(f"leaver-{act}", f"jouhou-{act}")
            ledger = ledger_create(
                actor=keeper, code=code, name="競合",
                fields=[{"key": "n", "label": "n", "type": "integer"}],
            )  # fmt: skip
            grants_replace(
                actor=keeper, ledger=ledger, grants=_grants(f"kikaku-{act}", f"jouhou-{act}")
            )
        connection.set_schema_to_public()
        done, go, outcome = threading.Event(), threading.Event(), []

        def demote() -> None:
            try:
                with schema_context(FUCHU.slug), transaction.atomic():
                    grants_replace(
                        actor=keeper, ledger=Ledger.objects.get(code=code),
                        grants=_grants(f"kikaku-{act}"),
                    )  # fmt: skip
                    done.set()
                    assert go.wait(timeout=10)
            finally:
                done.set()
                connection.close()

        def change() -> None:
            try:
                with schema_context(FUCHU.slug):
                    ledger = Ledger.objects.get(code=code)
                    if act == "grants":
                        grants_replace(
                            actor=leaver, ledger=ledger,
                            grants=_grants(f"kikaku-{act}", f"jouhou-{act}"),
                        )  # fmt: skip
                    else:
                        field_add(
                            actor=leaver, ledger=ledger,
                            field={"key": "m", "label": "m", "type": "integer"},
                        )  # fmt: skip
                outcome.append("written")
            except AccessDenied:
                outcome.append("refused")
            finally:
                connection.close()

        demoting = _start(demote)
        assert done.wait(timeout=10)
        changing = _start(change)
        changing.join(timeout=2)  # checked the grants as they were; waits for the lock
        go.set()
        demoting.join(timeout=10)
        changing.join(timeout=10)
        with schema_context(FUCHU.slug):
            granted = set(
                Grant.objects.filter(ledger__code=code).values_list("department__code", flat=True)
            )
            fields = [f["key"] for f in Ledger.objects.get(code=code).fields()]
        connection.set_schema_to_public()
    assert outcome == ["refused"]
    assert granted == {f"kikaku-{act}"}
    assert fields == ["n"]


def _start(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_a_designer_still_changes_grants_and_fields(mitaka: Any) -> None:
    """The check under the lock refuses only a design taken away meanwhile."""
    with schema_context(mitaka.slug):
        designer = _designer("designer-ok", "kikaku")
        ledger = ledger_create(
            actor=designer,
            code="ok",
            name="可",
            fields=[{"key": "n", "label": "n", "type": "integer"}],
        )
        grants_replace(actor=designer, ledger=ledger, grants=_grants("kikaku"))
        ledger = field_add(
            actor=designer, ledger=ledger, field={"key": "m", "label": "m", "type": "integer"}
        )
        assert [f["key"] for f in ledger.fields()] == ["n", "m"]
