"""A field removed from the definition, above the reader's clearance: its values stay in the
records written before the removal (until their next change), and no output tells the reader
which records those are (found by the review of existence and value oracles, 2026-11-30)."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import field_add, field_remove
from ledgers.records.services import record_create
from tests.api.conftest import records_url

BOTH = {"shimin": True, "shiminzei": True}


def _shelter_removed(city: dict[str, Any]) -> tuple[Any, Any]:
    """保護施設 (special care) added, one record written with it and one without, then the
    field removed: 市民税課 (personal data) may read neither record's 保護施設."""
    people = city["people"]
    with schema_context("mitaka"):
        ledger = field_add(
            actor=people["designer"], ledger=city["ledger"],
            field={"key": "shelter", "label": "保護施設", "type": "text", "sensitivity": "special_care"},
        )  # fmt: skip
        filled = record_create(
            actor=people["clerk"], ledger=ledger,
            values={"name": {"kanji": "甲 一", "kana": "コウ イチ"}, "shelter": "みたか荘",
                    "disclosure": BOTH},
        )  # fmt: skip
        empty = record_create(
            actor=people["clerk"], ledger=ledger,
            values={"name": {"kanji": "乙 二", "kana": "オツ ニ"}, "disclosure": BOTH},
        )  # fmt: skip
        field_remove(
            actor=people["designer"], ledger=Ledger.objects.get(pk=ledger.pk), key="shelter"
        )
    return filled, empty


def test_a_removed_field_above_the_clearance_is_named_for_no_record(
    api: Any, city: dict[str, Any]
) -> None:
    """It was named masked in the records that held a value and left out of the others: a
    marker only where a value is, which every live field's complete mask is there to avoid
    (which DV records named a shelter, say)."""
    filled, empty = _shelter_removed(city)
    zei = api("zei")
    for record in (filled, empty):
        values = zei.get(records_url(record.pk)).json()["values"]
        assert "shelter" not in values, values
    listed = zei.get(records_url(), {"name__contains": "一"}).json()["results"]
    assert [r["id"] for r in listed] == [str(filled.pk)]
    assert "shelter" not in listed[0]["values"]
    assert "みたか荘" not in str(listed)


def test_a_reader_cleared_for_it_still_reads_the_value_kept(api: Any, city: dict[str, Any]) -> None:
    filled, empty = _shelter_removed(city)
    clerk = api("clerk")
    assert clerk.get(records_url(filled.pk)).json()["values"]["shelter"] == "みたか荘"
    assert "shelter" not in clerk.get(records_url(empty.pk)).json()["values"]


def test_its_old_generations_show_it_masked_filled_or_not(api: Any, city: dict[str, Any]) -> None:
    """A generation written while the field was live shows it as its definition then did:
    masked for both records alike (a complete mask), as before."""
    filled, empty = _shelter_removed(city)
    zei = api("zei")
    for record in (filled, empty):
        shown = zei.get(records_url(record.pk, "versions/1/")).json()["values"]
        assert shown["shelter"] == {"masked": True}
