"""GET /api/v1/audit/events/ and POST /api/v1/audit/verify/."""

from typing import Any

from tests.api.conftest import records_url


def test_auditors_read_events_with_filters(api: Any, city: dict[str, Any]) -> None:
    api("clerk").get(records_url(city["record"].pk))
    auditor = api("auditor")
    response = auditor.get("/api/v1/audit/events/", {"action": "record.view", "actor": "clerk"})
    assert response.status_code == 200
    events = response.json()["results"]
    assert [(e["action"], e["actor"], e["record_id"]) for e in events] == [
        ("record.view", "clerk", str(city["record"].pk))
    ]
    by_record = auditor.get("/api/v1/audit/events/", {"record": str(city["record"].pk)}).json()[
        "results"
    ]
    assert {e["action"] for e in by_record} >= {"record.create", "record.view"}
    assert api("clerk").get("/api/v1/audit/events/").status_code == 403


def test_verify_answers_ok_for_an_untouched_chain(api: Any) -> None:
    response = api("auditor").post("/api/v1/audit/verify/")
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response.json()["events"] > 0
