"""Property-based run against /api/schema/: no 5xx, responses match the schema.

A bounded number of generated requests per operation, through the real WSGI application on
Mitaka's host with a city administrator's token (and the DV ledger in place).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.api.conftest import HOST


@pytest.fixture
def api_schema(city: dict[str, Any]) -> Iterator[Any]:
    # As Django's test client does: the test's transaction must survive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/schema/", get_wsgi_application(), headers={"Host": HOST}
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_api_answers_without_server_errors_and_as_documented(api_schema: Any, api: Any) -> None:
    headers = {"Host": HOST, "Authorization": f"Bearer {api('admin').token}"}
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5")),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        check()
