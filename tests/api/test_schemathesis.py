"""Property-based run against /api/schema/: no 5xx, answers as documented.

A bounded number of generated requests per operation, through the real WSGI application on
Mitaka's host (and the DV ledger in place), each as a city administrator, a 市民課 clerk (who
may read and write the DV records) or an auditor; about half of them aimed at things that
exist (the DV ledger, its record, a search screen, a field, a staff member, a webhook, a
token) rather than at made-up identifiers, which only reach the 404s, and those send the
``If-Match`` the server answers now (a record's generation, a document's ETag) rather than
one that is only ever stale (412). Each answer is checked for a server error, its status,
body, content type (an HTML page is no API answer) and documented headers (the ETag
included), and every successful answer is asked again without credentials and with made-up
ones, which must be refused (``ignored_auth``). No request but the token endpoint's may be a
401: the run's own tokens get every request past authentication.

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
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import HOST


@pytest.fixture
def known(city: dict[str, Any], api: Any) -> dict[str, Any]:
    """What the run's path parameters may name besides the DV ledger's definition: its
    record, a webhook of it, and a token of zei's (made before ``api_schema``: a request of
    Django's test client connects ``close_old_connections`` again)."""
    webhook = api("designer").post(
        "/api/v1/ledgers/dv/webhooks/",
        {"url": "http://127.0.0.1:9/hook", "events": ["record.created"]},
    )
    assert webhook.status_code == 201
    return {
        "record_id": str(city["record"].pk),
        "webhook_id": webhook.json()["id"],
        "prefix": api("zei").token.split("_")[1],
    }


@pytest.fixture
def api_schema(known: dict[str, Any]) -> Iterator[Any]:
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


def _existing(path: str, known: dict[str, Any]) -> dict[str, Any]:
    """Path parameters naming things that exist (a staff member, and a token of theirs,
    whose changes and revocation spare the tokens the run uses: zei)."""
    return {
        "code": "shimin" if path.startswith("/api/v1/departments/") else "dv",
        "screen": "latest",
        "key": "name",
        "username": "zei",
        "generation": 1,
        **known,
    }


def _current_if_match(case: Any, api_schema: Any, tokens: dict[str, str]) -> str | None:
    """The ``If-Match`` that names what the path holds now: the ETag a GET of it (of the
    record, for a restore) answers, read by the clerk for a record and by the administrator
    for a document; None when there is none to read."""
    path = case.path.removesuffix("restore/")
    who = "clerk" if "/records/" in path else "admin"
    read = api_schema[path]["GET"].Case(
        path_parameters={k: v for k, v in case.path_parameters.items() if f"{{{k}}}" in path}
    )
    answer = read.call(headers={"Host": HOST, "Authorization": f"Bearer {tokens[who]}"})
    tags = answer.headers.get("etag") if answer.status_code == 200 else None
    return tags[0] if tags else None


def test_api_answers_without_server_errors_and_as_documented(
    api_schema: Any, api: Any, known: dict[str, Any]
) -> None:
    tokens = {who: api(who).token for who in ("admin", "clerk", "auditor")}
    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        ignored_auth,
    ]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    documented = [
        method
        for item in api_schema.raw_schema["paths"].values()
        for method in item
        if method in {"get", "put", "patch", "post", "delete"}
    ]
    assert len(operations) == len(documented) >= 48
    unauthenticated: list[str] = []
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
                named = _existing(case.path, known)
                case.path_parameters = {
                    name: named.get(name, value) for name, value in case.path_parameters.items()
                }
                if case.headers and "If-Match" in case.headers:
                    current = _current_if_match(case, api_schema, tokens)
                    if current is not None:
                        case.headers = {**case.headers, "If-Match": current}
            headers = {"Host": HOST, "Authorization": f"Bearer {tokens[who]}"}
            response = case.call_and_validate(headers=headers, checks=checks)
            if response.status_code == 401 and case.path != "/api/v1/auth/token/":
                unauthenticated.append(f"{case.method} {case.formatted_path} as {who}")

        check()
    assert unauthenticated == []
