"""Migration 0004 computes every record's stored keys again, current and past."""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import apps

from ledgers.definitions.models import Ledger
from ledgers.records.models import Record
from ledgers.records.services import record_create, record_update
from ledgers.search.models import SearchValue

reindex = importlib.import_module("ledgers.migrations.0004_integer_search_keys").reindex


def test_reindex_restores_the_keys_the_services_wrote(ledger: Ledger, clerk: Any) -> None:
    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田 花子", "amount": 1})
    record_update(actor=clerk, record=record, values={"name": "佐藤 花子"}, expected_generation=1)
    written = Record.objects.get(pk=record.pk).search_keys
    past = SearchValue.objects.get(record_id=record.pk).keys
    assert written
    assert past
    Record.objects.filter(pk=record.pk).update(search_keys=[])
    SearchValue.objects.filter(record_id=record.pk).update(keys=[])

    reindex(apps, None)

    assert set(Record.objects.get(pk=record.pk).search_keys) == set(written)
    assert set(SearchValue.objects.get(record_id=record.pk).keys) == set(past)
