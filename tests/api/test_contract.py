"""The contract as clients of other systems (RPA robots, the resident-record system, BI
tools) meet it: what the OpenAPI schema does not describe is a 4xx in the error shape
naming what was wrong, never read as something else without a word."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import assert_documented, records_url


def assert_refused(response: Any, name: str, status: int = 400) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert body["code"].startswith("ERROR_")
    assert not body["message"].isascii()
    assert name in str(body["detail"]), body["detail"]


# --- yes-or-no query parameters: count=yes, deleted=on were read as false without a word


@pytest.mark.parametrize("name", ["count", "deleted"])
@pytest.mark.parametrize("value", ["yes", "on", "", "2", "ture", "t"])
def test_a_flag_that_is_no_true_or_false_is_400(api: Any, name: str, value: str) -> None:
    listed = api("clerk").get(records_url(), {name: value})
    assert_refused(listed, name)
    assert_documented(listed, "/api/v1/ledgers/{code}/records/", "get")


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "1"])
def test_count_in_each_spelling_of_true_counts(api: Any, value: str) -> None:
    listed = api("clerk").get(records_url(), {"count": value})
    assert listed.status_code == 200
    assert listed.json()["count"] == 1


@pytest.mark.parametrize("value", ["false", "False", "0"])
def test_count_false_adds_no_count(api: Any, value: str) -> None:
    listed = api("clerk").get(records_url(), {"count": value})
    assert listed.status_code == 200
    assert "count" not in listed.json()


def test_deleted_true_in_python_s_spelling_lists_deleted_records(api: Any, city: dict) -> None:
    clerk = api("clerk")
    record = city["record"]
    deleted = clerk.delete(records_url(record.pk), {"reason": "誤登録"}, HTTP_IF_MATCH='"1"')
    assert deleted.status_code == 200, deleted.content
    assert clerk.get(records_url()).json()["results"] == []
    for value in ("True", "true", "1"):
        listed = clerk.get(records_url(), {"deleted": value})
        assert [r["id"] for r in listed.json()["results"]] == [str(record.pk)]


def test_the_schema_documents_deleted_and_count(api: Any) -> None:
    document = (
        api("clerk").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )
    parameters = document["paths"]["/api/v1/ledgers/{code}/records/"]["get"]["parameters"]
    types = {p["name"]: p["schema"]["type"] for p in parameters}
    assert types["deleted"] == "boolean"
    assert types["count"] == "boolean"
