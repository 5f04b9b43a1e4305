"""POST /api/v1/ledgers/{code}/records/bulk/: all or nothing."""

from typing import Any

from django_tenants.utils import schema_context

from ledgers.records.models import Record, RecordVersion
from tests.api.conftest import records_url


def test_bulk_creates_every_record_with_history(api: Any) -> None:
    items = [{"values": {"name": f"鈴木 {i}", "disclosure": {"shimin": True}}} for i in range(20)]
    response = api("clerk").post(records_url(suffix="") + "bulk/", {"records": items})
    assert response.status_code == 201, response.json()
    results = response.json()["results"]
    assert len(results) == 20
    assert {r["generation"] for r in results} == {1}
    with schema_context("mitaka"):
        assert RecordVersion.objects.filter(record_id__in=[r["id"] for r in results]).count() == 20


def test_one_bad_item_creates_none_and_names_it(api: Any) -> None:
    with schema_context("mitaka"):
        before = Record.objects.count()
    items = [
        {"values": {"name": "鈴木 一"}},
        {"values": {"birth_date": "2020-02-30"}},
        {"values": {"name": "鈴木 三"}},
    ]
    response = api("clerk").post("/api/v1/ledgers/dv/records/bulk/", {"records": items})
    assert response.status_code == 400
    assert set(response.json()["detail"]["items"]) == {"1"}
    with schema_context("mitaka"):
        assert Record.objects.count() == before


def test_more_than_a_thousand_is_refused(api: Any) -> None:
    items = [{"values": {"name": "x"}}] * 1001
    assert (
        api("clerk").post("/api/v1/ledgers/dv/records/bulk/", {"records": items}).status_code == 400
    )


def test_values_that_are_not_an_object_are_refused_and_nothing_is_written(api: Any) -> None:
    with schema_context("mitaka"):
        before = Record.objects.count()
    items = [{"values": {"name": "鈴木 一"}}, {"values": ["鈴木 二"]}, {"values": "鈴木 三"}]
    response = api("clerk").post("/api/v1/ledgers/dv/records/bulk/", {"records": items})
    assert response.status_code == 400
    body = response.json()
    assert body["code"].startswith("ERROR_")
    assert "records" in str(body["detail"])
    with schema_context("mitaka"):
        assert Record.objects.count() == before


def test_items_that_are_not_objects_are_named_with_drf_s_errors_and_nothing_is_written(
    api: Any,
) -> None:
    """Good items take a short way past the serializer; a bad one still gets DRF's own
    error at its position (and the good ones none)."""
    with schema_context("mitaka"):
        before = Record.objects.count()
    items = [{"values": {"name": "鈴木 一"}}, "鈴木 二", {"name": "鈴木 三"}, {"values": None}]
    response = api("clerk").post("/api/v1/ledgers/dv/records/bulk/", {"records": items})
    assert response.status_code == 400
    errors = response.json()["detail"]["records"]
    assert set(errors) == {"1", "2", "3"}  # by position; the good item has none
    assert errors["1"]["non_field_errors"]
    assert errors["2"]["values"]
    assert errors["3"]["values"]
    with schema_context("mitaka"):
        assert Record.objects.count() == before


def test_an_item_s_other_keys_are_ignored_as_before(api: Any) -> None:
    items = [{"values": {"name": "鈴木 一"}, "note": "ignored"}]
    response = api("clerk").post("/api/v1/ledgers/dv/records/bulk/", {"records": items})
    assert response.status_code == 201, response.json()
    assert len(response.json()["results"]) == 1
