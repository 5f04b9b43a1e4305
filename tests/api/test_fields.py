"""/api/v1/ledgers/{code}/fields/ and …/fields/{key}/."""

from typing import Any


def test_add_change_remove_a_field(api: Any) -> None:
    designer = api("designer")
    added = designer.post(
        "/api/v1/ledgers/dv/fields/", {"key": "phone", "label": "日中の連絡先", "type": "phone"}
    )
    assert added.status_code == 201
    changed = designer.patch("/api/v1/ledgers/dv/fields/phone/", {"label": "連絡先"})
    assert changed.json()["label"] == "連絡先"
    assert designer.delete("/api/v1/ledgers/dv/fields/phone/").status_code == 204
    keys = [f["key"] for f in designer.get("/api/v1/ledgers/dv/fields/").json()["results"]]
    assert "phone" not in keys
    again = designer.post(
        "/api/v1/ledgers/dv/fields/", {"key": "phone", "label": "x", "type": "text"}
    )
    assert again.status_code == 400


def test_a_clerk_cannot_change_fields(api: Any) -> None:
    assert (
        api("clerk")
        .post("/api/v1/ledgers/dv/fields/", {"key": "x", "label": "x", "type": "text"})
        .status_code
        == 403
    )


def test_a_new_field_cannot_be_added_as_removed(api: Any, city: dict[str, Any]) -> None:
    """POST a field with "removed": true wrote it (the key burnt for good, a version and an
    event) and then answered a server error (the view looked for a live field)."""
    from django_tenants.utils import schema_context

    from ledgers.definitions.models import Ledger

    designer = api("designer")
    designer.client.raise_request_exception = False
    response = designer.post(
        "/api/v1/ledgers/dv/fields/",
        {"key": "phone", "label": "連絡先", "type": "phone", "removed": True},
    )
    assert response.status_code == 400, response.content
    with schema_context("mitaka"):
        ledger = Ledger.objects.get(code="dv")
        assert ledger.definition_version == 1
        assert "phone" not in [f["key"] for f in ledger.fields()]
