"""Answers of the API carry personal data (a DV victim's address): no cache may keep them.

Without ``Cache-Control`` a 200 with an ``ETag`` is heuristically cacheable: the browser
of a shared counter PC wrote the record to its disk cache (the API also answers a signed-in
session), and a caching proxy on the way could keep it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import records_url


def _no_store(response: Any) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return "no-store" in directives


@pytest.mark.parametrize("suffix", ["", "versions/", "versions/1/", "diff/?from=1&to=1"])
def test_record_reads_are_not_stored_by_any_cache(
    api: Any, city: dict[str, Any], suffix: str
) -> None:
    response = api("clerk").get(records_url(city["record"].pk, suffix))
    assert response.status_code in {200, 400}
    assert _no_store(response), response.get("Cache-Control")


def test_lists_searches_and_errors_are_not_stored_by_any_cache(api: Any) -> None:
    clerk = api("clerk")
    listed = clerk.get(records_url(), {"name__contains": "山田"})
    assert listed.status_code == 200
    found = clerk.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"name": "山田"}, "reason": "住民票の写しの交付請求に対する照会のため"},
    )
    assert found.status_code == 200
    missing = clerk.get(records_url("00000000-0000-4000-8000-000000000000"))
    assert missing.status_code == 404
    for response in (listed, found, missing):
        assert _no_store(response), response.get("Cache-Control")
