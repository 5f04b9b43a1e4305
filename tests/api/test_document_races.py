"""Two administrators writing one administrative document at the same moment, each with the
``ETag`` they read: one is written, the other is 412 and writes nothing.

Real requests on threads of their own connections, in a city whose rows commit (Fuchu).
The two writers are sent while a third transaction holds the lock the write takes (the
ledger's row, or the city's staff-directory lock), which it lets go once both wait on it:
a check of the ``If-Match`` made before the lock, which both would pass, fails this test
every time, not only when the threads happen to meet.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.access import staff
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from tests.conftest import FUCHU, fuchu_client, queued_behind

User = get_user_model()


def _city_admins(suffix: str) -> tuple[Any, Any]:
    with schema_context(FUCHU.slug):
        other = User.objects.create_user(
            username=f"admin-{suffix}", password="x" * 12, is_city_admin=True
        )
        return User.objects.get(username="admin"), other


@dataclass(frozen=True)
class Case:
    """A write of one document: its URL (``{suffix}`` names the test's own things), the
    change made with a value, where the answer shows it, and whether the write takes the
    city's staff-directory lock (else the ledger's row)."""

    url: str
    method: str
    body: Callable[[str], Any]
    shown: Callable[[Any], Any]
    directory: bool = False


CASES = {
    "ledger": Case(
        "/api/v1/ledgers/race_{suffix}/", "patch",
        lambda value: {"description": value}, lambda answer: answer["description"],
    ),
    "field": Case(
        "/api/v1/ledgers/race_{suffix}/fields/n/", "patch",
        lambda value: {"label": value}, lambda answer: answer["label"],
    ),
    "grants": Case(
        "/api/v1/ledgers/race_{suffix}/grants/", "put",
        lambda value: [{"department": "shimin", "capabilities": ["view"], "clearance": value}],
        lambda answer: answer[0]["clearance"],
    ),
    "department": Case(
        "/api/v1/departments/ka-{suffix}/", "patch",
        lambda value: {"name": value}, lambda answer: answer["name"], directory=True,
    ),
    "staff": Case(
        "/api/v1/staff/member-{suffix}/", "patch",
        lambda value: {"display_name": value}, lambda answer: answer["display_name"],
        directory=True,
    ),
}  # fmt: skip
#: What each writer writes (a clearance, for the grants; as good a text as any elsewhere).
VALUES = {"first": "internal", "second": "personal"}


@pytest.mark.parametrize("document", list(CASES))
def test_two_writers_with_the_same_etag_one_wins(
    fuchu: None, django_db_blocker: Any, document: str
) -> None:
    case, suffix = CASES[document], secrets.token_hex(3)
    url = case.url.format(suffix=suffix)
    with django_db_blocker.unblock():
        first, second = _city_admins(suffix)
        with schema_context(FUCHU.slug):
            Department.objects.create(code=f"ka-{suffix}", name="企画課")
            member = User.objects.create_user(username=f"member-{suffix}", password="x" * 12)
            Membership.objects.create(
                user=member, department=Department.objects.get(code="shimin"),
                role=Role.EDITOR, valid_from=date(2026, 4, 1),
            )  # fmt: skip
            ledger_create(
                actor=first, code=f"race_{suffix}", name="競合",
                fields=[{"key": "n", "label": "n", "type": "integer"}],
            )  # fmt: skip
        clients = {"first": fuchu_client(first), "second": fuchu_client(second)}
        etags = {who: client.get(url)["ETag"] for who, client in clients.items()}

        def send(who: str) -> Callable[[], tuple[str, int]]:
            def request() -> tuple[str, int]:
                answer = getattr(clients[who], case.method)(
                    url, case.body(VALUES[who]), format="json", HTTP_IF_MATCH=etags[who]
                )
                return who, answer.status_code

            return request

        def hold() -> None:
            if case.directory:
                staff._lock_directory()
            else:
                Ledger.objects.select_for_update().get(code=f"race_{suffix}")

        answers = dict(queued_behind(hold, [send("first"), send("second")]))
        assert sorted(answers.values()) == [200, 412], answers
        (winner,) = [who for who, status in answers.items() if status == 200]
        assert case.shown(clients["first"].get(url).json()) == VALUES[winner]
        connection.set_schema_to_public()


def test_without_if_match_a_write_after_anothers_goes_through_as_before(api: Any) -> None:
    """The header is optional on these documents (no 428, unlike a record's): clients
    written before it keep working, last writer winning, as they did. (This test asks for
    ``db``, which also has pytest-django set the database up when the module runs alone.)"""
    designer, admin = api("designer"), api("admin")
    etag = admin.get("/api/v1/ledgers/dv/")["ETag"]
    changed = admin.patch("/api/v1/ledgers/dv/", {"description": "先"}, HTTP_IF_MATCH=etag)
    assert changed.status_code == 200
    after = designer.patch("/api/v1/ledgers/dv/", {"description": "後"})
    assert after.status_code == 200
    assert after.json()["description"] == "後"
