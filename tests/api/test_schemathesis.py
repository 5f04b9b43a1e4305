"""Property-based run against /api/schema/: no 5xx, answers as documented.

A bounded number of generated requests per operation, through the real WSGI application on
Mitaka's host (and the DV ledger in place), each as a city administrator, a 市民課 clerk (who
may read and write the DV records) or an auditor; about half of them aimed at things that
exist (the DV ledger, its record, a search screen, a field, a staff member) rather than at
made-up identifiers, which only reach the 404s. Each answer is checked for a server error,
its status, body, content type (an HTML page is no API answer) and documented headers.

A far larger run (hundreds of examples per operation, every check, negative data, stateful
links, the DV sample ledger loaded) is how the faults in docs/api.md's "Hostile input" were
found; it is too slow for every run of the suite.
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
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

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


def _existing(path: str, record_id: str) -> dict[str, Any]:
    """Path parameters naming things that exist (a staff member whose changes spare the
    tokens the run uses: zei)."""
    return {
        "code": "shimin" if path.startswith("/api/v1/departments/") else "dv",
        "record_id": record_id,
        "screen": "latest",
        "key": "name",
        "username": "zei",
        "generation": 1,
    }


def test_api_answers_without_server_errors_and_as_documented(
    api_schema: Any, api: Any, city: dict[str, Any]
) -> None:
    tokens = {who: api(who).token for who in ("admin", "clerk", "auditor")}
    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
    ]
    record_id = str(city["record"].pk)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:

        @given(
            case=operation.as_strategy(),
            who=st.sampled_from(sorted(tokens)),
            existing=st.booleans(),
        )
        @settings(
            max_examples=int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6")),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any, who: str, existing: bool) -> None:
            if existing:
                known = _existing(case.path, record_id)
                case.path_parameters = {
                    name: known.get(name, value) for name, value in case.path_parameters.items()
                }
                if case.headers and "If-Match" in case.headers:
                    case.headers = {**case.headers, "If-Match": '"1"'}
            headers = {"Host": HOST, "Authorization": f"Bearer {tokens[who]}"}
            case.call_and_validate(headers=headers, checks=checks)

        check()
