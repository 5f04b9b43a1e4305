"""A bulk create that grows the records table analyses it once committed, so searches
right after an import are planned on statistics of the new rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.definitions.services import ledger_create
from ledgers.records import services
from ledgers.records.services import record_bulk_create
from tenants.services import municipality_provision
from tests.conftest import ADMIN_PASSWORD

SLUG = "tachikawa"


def _reltuples() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'ledgers_record'::regclass")
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def city_ledger(django_db_setup: None, django_db_blocker: Any) -> Any:
    """A city of its own whose writes commit (the other tests roll back; this cannot)."""
    with django_db_blocker.unblock():
        municipality_provision(
            actor=None, slug=SLUG, name="立川市", code="132021", domain="tachikawa.localhost",
            admin_username="admin", admin_password=ADMIN_PASSWORD,
        )  # fmt: skip
        with schema_context(SLUG):
            actor = get_user_model().objects.create_user(username="importer", password="x" * 12)
            department = Department.objects.create(code="shimin", name="市民課")
            Membership.objects.create(
                user=actor, department=department, role=Role.LEDGER_ADMIN,
                valid_from=date(2020, 4, 1),
            )  # fmt: skip
            ledger = ledger_create(
                actor=actor, code="imports", name="取込み",
                fields=[{"key": "name", "label": "氏名", "type": "text", "required": True}],
            )  # fmt: skip
        connection.set_schema_to_public()
        return actor, ledger


def _size() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size('ledgers_record')")
        return cursor.fetchone()[0]


def test_statistics_follow_the_table_as_it_doubles(
    city_ledger: Any, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor, ledger = city_ledger

    def load(count: int, name: str) -> None:
        record_bulk_create(actor=actor, ledger=ledger, values_list=[{"name": name}] * count)

    with django_db_blocker.unblock(), schema_context(SLUG):
        assert _reltuples() <= 0  # never analysed
        load(300, "佐藤")
        first = _size()
        assert _reltuples() <= 0  # under the least size (1 MB): left to autovacuum
        monkeypatch.setattr(services, "ANALYSE_AFTER_BYTES", first + 1)
        load(300, "鈴木")
        # ANALYZE's row count is an estimate (exact on a quiet small table, not always).
        analysed = _reltuples()
        assert analysed == pytest.approx(600, rel=0.02)  # analysed: past the least size
        load(100, "高橋")
        assert _reltuples() == analysed  # not again until the table has doubled
        load(700, "田中")
        assert _reltuples() == pytest.approx(1400, rel=0.02)  # twice the size analysed at
    connection.set_schema_to_public()


def test_a_role_that_does_not_own_the_table_leaves_it_to_autovacuum(
    city_ledger: Any, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Merging pending index entries and ANALYZE need the table's owner: another role
    attempts neither and raises nothing (the merge would fail: "must be owner")."""
    monkeypatch.setattr(services, "ANALYSE_AFTER_BYTES", 0)  # any size would qualify
    monkeypatch.setattr(services, "_MERGE_ALLOWED", {})  # asked again, as the new role
    with django_db_blocker.unblock(), schema_context(SLUG):
        before = _reltuples()
        with connection.cursor() as cursor:
            cursor.execute("CREATE ROLE daicho_test_reader NOLOGIN")
            cursor.execute(f"GRANT USAGE ON SCHEMA {SLUG} TO daicho_test_reader")
            cursor.execute("SET ROLE daicho_test_reader")
        try:
            services._analyse_if_grown()
            with connection.cursor() as cursor:
                services._merge_pending_index_entries(cursor, "record_search_keys_gin")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")
                cursor.execute(f"REVOKE USAGE ON SCHEMA {SLUG} FROM daicho_test_reader")
                cursor.execute("DROP ROLE daicho_test_reader")
        assert _reltuples() == before
    connection.set_schema_to_public()
