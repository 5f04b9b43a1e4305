"""Fixtures for the ledger engine: a city schema to work in, a clerk, a small ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
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


def staff(username: str, department: Department, role: str, **membership: Any) -> Any:
    """A staff account with one membership (from 2026-04-01 unless told otherwise)."""
    user = get_user_model().objects.create_user(
        username=username, password="x" * 12, display_name=username
    )
    Membership.objects.create(
        user=user, department=department, role=role,
        valid_from=membership.get("valid_from", date(2026, 4, 1)),
        valid_to=membership.get("valid_to"),
    )  # fmt: skip
    return user


@pytest.fixture
def kankyo(in_mitaka: City) -> Department:
    return Department.objects.create(code="kankyo", name="環境政策課")


@pytest.fixture
def clerk(kankyo: Department) -> Any:
    """A ledger administrator of 環境政策課: its ledgers grant the department everything."""
    return staff("clerk", kankyo, Role.LEDGER_ADMIN)


@pytest.fixture
def ledger(clerk: Any) -> Ledger:
    return ledger_create(
        actor=clerk, code="subsidy", name="補助金交付台帳", category="環境", retention_years=5,
        fields=BASIC_FIELDS,
        layout={"sections": [{"title": "基本", "rows": [["name", "birth_date"], ["amount"], ["note"]]}]},
    )  # fmt: skip
