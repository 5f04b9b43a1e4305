"""The records service's write statements are prepared once per connection, as written:
Django turns psycopg's prepared statements off, which made psycopg ignore even an
explicit ``prepare=True`` (daicho.db.base)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, connections

from daicho.db.base import EXPLICIT_ONLY
from ledgers.definitions.models import Ledger
from ledgers.records.services import record_create, record_update

pytestmark = pytest.mark.django_db


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_write_statement_is_prepared_once_and_an_orm_query_never(
    ledger: Ledger, clerk: Any
) -> None:
    record = record_create(actor=clerk, ledger=ledger, values={"name": "一"})
    for _ in range(20):  # an ORM query, many times: never prepared on its own
        assert Ledger.objects.filter(pk=ledger.pk).exists()
    record_create(actor=clerk, ledger=ledger, values={"name": "二"})
    record_update(actor=clerk, record=record, values={"name": "三"}, expected_generation=1)
    prepared = _prepared()
    assert len([s for s in prepared if "INSERT INTO ledgers_record (" in s]) == 1
    assert len([s for s in prepared if "UPDATE ledgers_record SET data" in s]) == 1
    assert not [s for s in prepared if "ledgers_ledger" in s and "UPDATE" not in s]
    assert connection.connection.prepare_threshold == EXPLICIT_ONLY


def test_a_record_read_is_prepared_once_per_visibility_and_logged_like_a_query(
    ledger: Ledger, clerk: Any
) -> None:
    from django.test.utils import CaptureQueriesContext

    from ledgers.access.policy import policy_for

    policy = policy_for(clerk, ledger)
    records = [record_create(actor=clerk, ledger=ledger, values={"name": n}) for n in "一二三"]
    with CaptureQueriesContext(connection) as queries:
        for record in records:
            assert policy.view_record(record.pk, actor=clerk).data == record.data
    reads = [s for s in _prepared() if "INSERT INTO ledgers_auditevent" in s and "WITH r AS" in s]
    assert len(reads) == 1
    assert [q["sql"][:16] for q in queries.captured_queries] == ["WITH r AS (SELECT"[:16]] * 3


def test_a_deployment_can_still_turn_prepared_statements_off() -> None:
    settings = dict(connection.settings_dict)
    settings["OPTIONS"] = {**settings.get("OPTIONS", {}), "prepare_threshold": None}
    other = type(connections["default"])(settings)
    assert other.get_connection_params()["prepare_threshold"] is None
    assert connection.get_connection_params()["prepare_threshold"] == EXPLICIT_ONLY


@pytest.mark.parametrize(("value", "expected"), [("0", "None"), ("1", "absent")])
def test_the_environment_turns_prepared_statements_off(value: str, expected: str) -> None:
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup(); from django.conf import settings;"
        " o = settings.DATABASES['default']['OPTIONS'];"
        " print(o['prepare_threshold'] if 'prepare_threshold' in o else 'absent')"
    )
    from django.conf import settings

    # The servers this test run uses (a fresh machine's embedded ones are started once).
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "daicho.settings.test",
           "DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL,
           "DB_PREPARED_STATEMENTS": value}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
