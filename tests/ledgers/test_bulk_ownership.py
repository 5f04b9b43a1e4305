"""Bulk writes merge their GIN pending entries as the tables' owner; a role that does not
own them skips the merge instead of failing the write."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from ledgers.records import services
from tests.conftest import City, provision

# A city no other module provisions (its schema stays for the session).
SLUG = "koganei"


@pytest.fixture(scope="module")
def city(django_db_setup: None, django_db_blocker: Any) -> str:
    """A city of its own, committed (the role below is granted its schema)."""
    with django_db_blocker.unblock():
        provision(City(SLUG, "小金井市", "132101", f"{SLUG}.localhost"))
        connection.set_schema_to_public()
    return SLUG


def test_a_role_that_does_not_own_the_index_leaves_the_merge_to_autovacuum(
    city: str, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Merging pending index entries needs the index's owner: another role skips it and
    raises nothing (the merge would fail: "must be owner of index")."""
    monkeypatch.setattr(services, "_MERGE_ALLOWED", {})  # asked again, as the new role
    with django_db_blocker.unblock(), schema_context(SLUG):
        with connection.cursor() as cursor:
            cursor.execute("CREATE ROLE daicho_test_reader NOLOGIN")
            cursor.execute(f"GRANT USAGE ON SCHEMA {SLUG} TO daicho_test_reader")
            cursor.execute("SET ROLE daicho_test_reader")
        try:
            with connection.cursor() as cursor:
                services._merge_pending_index_entries(
                    cursor, "record_search_keys_gin", services.MERGE_MIN_ROWS
                )
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")
                cursor.execute(f"REVOKE USAGE ON SCHEMA {SLUG} FROM daicho_test_reader")
                cursor.execute("DROP ROLE daicho_test_reader")
    connection.set_schema_to_public()
    assert services._MERGE_ALLOWED == {(SLUG, "record_search_keys_gin"): False}
