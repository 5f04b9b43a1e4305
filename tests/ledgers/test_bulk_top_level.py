"""A bulk create called outside any transaction (an import task, a bench) is still all or
nothing: its chunks go through psycopg's libpq connection, which opens the transaction
itself (psycopg would have opened it before its own first statement)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Role
from ledgers.definitions.services import ledger_create
from ledgers.exceptions import RecordInvalid
from ledgers.records import services
from ledgers.records.models import Record, RecordVersion
from tests.conftest import City, provision
from tests.ledgers.conftest import staff

# A city no other module provisions (its schema stays for the session).
SLUG = "kunitachi"


@pytest.fixture(scope="module")
def city(django_db_setup: None, django_db_blocker: Any) -> str:
    with django_db_blocker.unblock():
        provision(City(SLUG, "国立市", "132152", "kunitachi.localhost"))
        with schema_context(SLUG):
            department = Department.objects.create(code="soumu", name="総務課")
            actor = staff("importer", department, Role.LEDGER_ADMIN, valid_from=date(2020, 4, 1))
            ledger_create(
                actor=actor, code="imports", name="取込み",
                fields=[{"key": "name", "label": "氏名", "type": "text", "required": True},
                        {"key": "born", "label": "生年月日", "type": "date"}],
            )  # fmt: skip
        connection.set_schema_to_public()
    return SLUG


def _create(django_db_blocker: Any, values_list: list[dict[str, Any]]) -> list[Any]:
    from ledgers.definitions.models import Ledger

    with django_db_blocker.unblock(), schema_context(SLUG):
        assert connection.get_autocommit()  # no transaction around the call
        actor = get_user_model().objects.get(username="importer")
        ledger = Ledger.objects.get(code="imports")
        try:
            return services.record_bulk_create(actor=actor, ledger=ledger, values_list=values_list)
        finally:
            connection.set_schema_to_public()


def _counts(django_db_blocker: Any) -> tuple[int, int]:
    with django_db_blocker.unblock(), schema_context(SLUG):
        counts = (Record.objects.count(), RecordVersion.objects.count())
    connection.set_schema_to_public()
    return counts


@pytest.fixture
def chunks_of_four(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "COPY_CHUNK_MIN", 4)
    monkeypatch.setattr(services, "COPY_CHUNK_MAX", 4)


@pytest.mark.usefixtures("chunks_of_four")
def test_a_top_level_bulk_create_commits_every_chunk(city: str, django_db_blocker: Any) -> None:
    before = _counts(django_db_blocker)
    created = _create(django_db_blocker, [{"name": f"取込 {i}"} for i in range(30)])
    assert len(created) == 30
    assert _counts(django_db_blocker) == (before[0] + 30, before[1] + 30)


@pytest.mark.usefixtures("chunks_of_four")
def test_a_top_level_bulk_create_refused_after_sent_chunks_leaves_nothing(
    city: str, django_db_blocker: Any
) -> None:
    before = _counts(django_db_blocker)
    batch = [{"name": f"取込 {i}"} for i in range(30)] + [{"name": "誤", "born": "令和5年13月1日"}]
    with pytest.raises(RecordInvalid) as refused:
        _create(django_db_blocker, batch)
    assert set(refused.value.item_errors) == {30}
    # Seven chunks had gone to PostgreSQL: all rolled back with the transaction.
    assert _counts(django_db_blocker) == before
