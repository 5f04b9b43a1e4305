"""Ledger definitions: validation, versions, field changes that never erase old values."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.audit.models import AuditEvent
from ledgers.definitions.models import Ledger, LedgerVersion
from ledgers.definitions.services import (
    field_add,
    field_remove,
    field_update,
    layout_update,
    ledger_create,
    ledger_definition_replace,
    ledger_update,
)
from ledgers.exceptions import DefinitionInvalid
from tests.ledgers.conftest import BASIC_FIELDS


def test_creating_a_ledger_writes_version_one_and_an_audit_event(ledger: Ledger) -> None:
    assert ledger.definition_version == 1
    assert [f["key"] for f in ledger.fields()] == ["name", "birth_date", "note", "amount"]
    version = LedgerVersion.objects.get(ledger=ledger)
    assert version.version == 1
    assert version.definition == ledger.definition
    assert AuditEvent.objects.filter(action="ledger.create", ledger_code="subsidy").count() == 1
    assert ledger.retention_label == "5年"


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"code": "Subsidy"}, "code"),
        ({"code": "1abc"}, "code"),
        ({"name": ""}, "name"),
        ({"retention_years": 0}, "retention_years"),
        ({"sensitivity": "secret"}, "sensitivity"),
        ({"fields": [{"key": "Name", "label": "氏名", "type": "text"}]}, "fields[1]"),
        ({"fields": [{"key": "name", "label": "氏名", "type": "no_such_type"}]}, "fields[1]"),
        ({"fields": [{"key": "name", "label": "", "type": "text"}]}, "fields[1]"),
        (
            {"fields": [{"key": "name", "label": "氏名", "type": "text", "colour": "red"}]},
            "fields[1]",
        ),
        (
            {"fields": [{"key": "n", "label": "氏名", "type": "text", "sensitivity": "top"}]},
            "fields[1]",
        ),
        (
            {
                "fields": [
                    {"key": "n", "label": "a", "type": "text"},
                    {"key": "n", "label": "b", "type": "text"},
                ]
            },
            "fields[2]",
        ),
        ({"layout": {"sections": [{"title": "x", "rows": [["ghost"]]}]}}, "layout"),
        ({"layout": {"sections": [{"title": "x", "rows": [["name"], ["name"]]}]}}, "layout"),
    ],
)
def test_invalid_definitions_are_refused_and_create_nothing(
    clerk: Any, changes: dict, where: str
) -> None:
    arguments = {
        "actor": clerk,
        "code": "subsidy",
        "name": "補助金交付台帳",
        "fields": BASIC_FIELDS,
    } | changes
    with pytest.raises(DefinitionInvalid) as info:
        ledger_create(**arguments)
    assert any(key.startswith(where) for key in info.value.errors), info.value.errors
    assert not Ledger.objects.exists()
    assert not LedgerVersion.objects.exists()


def test_a_ledger_code_is_unique(ledger: Ledger, clerk: Any) -> None:
    with pytest.raises(DefinitionInvalid, match="既に使われています"):
        ledger_create(actor=clerk, code="subsidy", name="別の台帳")


def test_each_field_change_makes_a_new_version(ledger: Ledger, clerk: Any) -> None:
    ledger = field_add(
        actor=clerk, ledger=ledger, field={"key": "phone", "label": "電話番号", "type": "phone"}
    )
    assert ledger.definition_version == 2
    ledger = field_update(
        actor=clerk, ledger=ledger, key="phone", changes={"label": "日中の連絡先"}
    )
    assert ledger.definition_version == 3
    ledger = field_remove(actor=clerk, ledger=ledger, key="phone")
    assert ledger.definition_version == 4
    ledger = layout_update(
        actor=clerk, ledger=ledger, layout={"sections": [{"title": "全部", "rows": [["name"]]}]}
    )
    assert ledger.definition_version == 5
    versions = list(LedgerVersion.objects.filter(ledger=ledger).values_list("version", flat=True))
    assert versions == [1, 2, 3, 4, 5]
    labels = [
        next((f["label"] for f in v.definition["fields"] if f["key"] == "phone"), None)
        for v in LedgerVersion.objects.filter(ledger=ledger).order_by("version")
    ]
    assert labels == [None, "電話番号", "日中の連絡先", "日中の連絡先", "日中の連絡先"]
    assert AuditEvent.objects.filter(action="ledger.change", ledger_code="subsidy").count() == 4


def test_removing_a_field_hides_it_and_takes_it_out_of_the_layout(
    ledger: Ledger, clerk: Any
) -> None:
    ledger = field_remove(actor=clerk, ledger=ledger, key="birth_date")
    assert "birth_date" not in [f["key"] for f in ledger.fields()]
    removed = [f for f in ledger.fields(include_removed=True) if f["key"] == "birth_date"]
    assert removed[0]["removed"] is True
    assert ledger.definition["layout"]["sections"][0]["rows"][0] == ["name"]


def test_keys_and_types_are_fixed(ledger: Ledger, clerk: Any) -> None:
    with pytest.raises(DefinitionInvalid, match="変更できない"):
        field_update(actor=clerk, ledger=ledger, key="amount", changes={"type": "decimal"})
    with pytest.raises(DefinitionInvalid, match="既にある"):
        field_add(
            actor=clerk, ledger=ledger, field={"key": "amount", "label": "額", "type": "integer"}
        )
    ledger = field_remove(actor=clerk, ledger=ledger, key="note")
    with pytest.raises(DefinitionInvalid, match="再利用"):
        field_add(
            actor=clerk, ledger=ledger, field={"key": "note", "label": "備考", "type": "text"}
        )
    assert Ledger.objects.get(pk=ledger.pk).definition_version == 2


def test_replacing_the_document_keeps_missing_fields_as_removed(ledger: Ledger, clerk: Any) -> None:
    ledger = ledger_definition_replace(
        actor=clerk, ledger=ledger,
        document={"fields": [BASIC_FIELDS[0], {"key": "email", "label": "メール", "type": "email"}]},
    )  # fmt: skip
    assert [f["key"] for f in ledger.fields()] == ["name", "email"]
    assert {f["key"] for f in ledger.fields(include_removed=True)} == {
        "name", "email", "birth_date", "note", "amount",
    }  # fmt: skip
    with pytest.raises(DefinitionInvalid, match="型は変更できません"):
        ledger_definition_replace(
            actor=clerk, ledger=ledger,
            document={"fields": [{"key": "name", "label": "氏名", "type": "integer"}]},
        )  # fmt: skip


def test_ledger_metadata_update(ledger: Ledger, clerk: Any) -> None:
    ledger = ledger_update(
        actor=clerk, ledger=ledger, name="太陽光補助金台帳", retention_years=None
    )
    assert ledger.retention_label == "永年"
    with pytest.raises(DefinitionInvalid):
        ledger_update(actor=clerk, ledger=ledger, retention_years=500)
    assert Ledger.objects.get(pk=ledger.pk).name == "太陽光補助金台帳"


def test_a_group_field_takes_its_sub_fields_beside_its_type(clerk: Any) -> None:
    ledger = ledger_create(
        actor=clerk, code="dv", name="DV等支援措置台帳",
        fields=[{"key": "related", "label": "関係者", "type": "group", "fields": [
            {"key": "kana", "label": "カナ氏名", "type": "text"},
            {"key": "birth_date", "label": "生年月日", "type": "date"},
        ]}],
    )  # fmt: skip
    (field,) = ledger.fields()
    assert [f["key"] for f in field["options"]["fields"]] == ["kana", "birth_date"]


def test_a_removed_field_comes_back_only_by_a_whole_document_with_its_type(
    ledger: Ledger, clerk: Any
) -> None:
    """Its key is never another field's (``field_add`` refuses it); a document naming it
    again with the type it had undoes the removal, its stored values with it."""
    ledger = field_remove(actor=clerk, ledger=ledger, key="note")
    assert "note" not in [f["key"] for f in ledger.fields()]
    with pytest.raises(DefinitionInvalid, match="型は変更できません"):
        ledger_definition_replace(
            actor=clerk, ledger=ledger,
            document={"fields": [*BASIC_FIELDS[:3], {"key": "note", "label": "備考", "type": "integer"}]},
        )  # fmt: skip
    back = ledger_definition_replace(actor=clerk, ledger=ledger, document={"fields": BASIC_FIELDS})
    assert "note" in [f["key"] for f in back.fields()]
