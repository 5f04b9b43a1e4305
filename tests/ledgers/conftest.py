"""Fixtures for the ledger engine: a city schema to work in, a clerk, a small ledger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from tests.conftest import City

BASIC_FIELDS: list[dict[str, Any]] = [
    {"key": "name", "label": "氏名", "type": "text", "required": True, "sensitivity": "personal"},
    {"key": "birth_date", "label": "生年月日", "type": "date", "sensitivity": "personal"},
    {"key": "note", "label": "備考", "type": "long_text"},
    {"key": "amount", "label": "金額", "type": "integer"},
]


@pytest.fixture
def in_mitaka(mitaka: City) -> Iterator[City]:
    """Run the test inside Mitaka's schema (rolled back with the test's transaction)."""
    with schema_context(mitaka.slug):
        yield mitaka


@pytest.fixture
def clerk(in_mitaka: City) -> Any:
    return get_user_model().objects.create_user(
        username="clerk", password="x" * 12, display_name="担当者"
    )


@pytest.fixture
def ledger(clerk: Any) -> Ledger:
    return ledger_create(
        actor=clerk, code="subsidy", name="補助金交付台帳", category="環境", retention_years=5,
        fields=BASIC_FIELDS,
        layout={"sections": [{"title": "基本", "rows": [["name", "birth_date"], ["amount"], ["note"]]}]},
    )  # fmt: skip
