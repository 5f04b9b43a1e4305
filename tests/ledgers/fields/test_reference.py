"""他台帳の参照: {"ledger", "record"} as strings, optionally pinned to one ledger."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ledgers.fields.helpers import clean, error, fmt

PEOPLE = {"ledger": "people"}


@pytest.mark.parametrize(
    ("raw", "options", "expected"),
    [
        ({"ledger": "people", "record": "42"}, None, {"ledger": "people", "record": "42"}),
        ({"ledger": "people", "record": 42}, None, {"ledger": "people", "record": "42"}),
        ("people:42", None, {"ledger": "people", "record": "42"}),
        (" people : 42 ", None, {"ledger": "people", "record": "42"}),
        ("42", PEOPLE, {"ledger": "people", "record": "42"}),
        (42, PEOPLE, {"ledger": "people", "record": "42"}),
        ({"record": "42"}, PEOPLE, {"ledger": "people", "record": "42"}),
        ({"ledger": None, "record": "42"}, PEOPLE, {"ledger": "people", "record": "42"}),
        (
            {"ledger": "dv-support", "record": "0b9e7c1e-uuid"},
            None,
            {"ledger": "dv-support", "record": "0b9e7c1e-uuid"},
        ),
    ],
)
def test_reference_accepts(
    raw: Any, options: dict[str, str] | None, expected: dict[str, str]
) -> None:
    assert clean("reference", raw, options) == expected


@pytest.mark.parametrize(
    ("raw", "options", "message"),
    [
        ("42", None, "参照先の台帳が指定されていないか"),
        ({"record": "42"}, None, "参照先の台帳が指定されていないか"),
        ({"ledger": "people"}, None, "参照先の記録が指定されていないか"),
        ({"ledger": "people", "record": True}, None, "参照先の記録"),
        ({"ledger": "people", "record": "4 2"}, None, "参照先の記録"),
        ({"ledger": "people", "record": "1", "field": "x"}, None, "台帳と記録の組"),
        ("a:b:c", None, "参照先として読み取れません"),
        ("others:42", PEOPLE, "台帳「people」の記録しか参照できません（指定: 「others」）"),
        ([1], None, "台帳と記録の組"),
    ],
)
def test_reference_refuses(raw: Any, options: dict[str, str] | None, message: str) -> None:
    assert message in str(error("reference", raw, options))


def test_export_form_reads_back() -> None:
    value = {"ledger": "people", "record": "42"}
    assert fmt("reference", "format_export", value) == "people:42"
    assert clean("reference", fmt("reference", "format_export", value)) == value
