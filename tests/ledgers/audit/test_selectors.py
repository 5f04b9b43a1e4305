"""Auditors list a city's events by who, which ledger or record, what, and when."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from ledgers.audit.selectors import audit_events
from tenants.exceptions import TenantRequired
from tests.conftest import City
from tests.ledgers.audit.conftest import dated_by_hand

JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def events(clerk: Any) -> dict[str, Any]:
    other = get_user_model().objects.create_user(username="auditor", password="x" * 12)
    record = uuid.uuid4()
    rows = [
        (clerk, "record.view", "subsidy", record, datetime(2026, 10, 31, 23, 59, 59, tzinfo=JST)),
        (clerk, "record.update", "subsidy", record, datetime(2026, 11, 1, 0, 0, 0, tzinfo=JST)),
        (other, "record.view", "subsidy", None, datetime(2026, 11, 15, 12, 0, tzinfo=JST)),
        (clerk, "search.run", "dog", None, datetime(2026, 11, 30, 23, 59, 59, tzinfo=JST)),
        (other, "record.export", "dog", None, datetime(2026, 12, 1, 0, 0, 0, tzinfo=JST)),
    ]
    with dated_by_hand():
        made = [
            AuditEvent.objects.create(
                actor=actor, action=action, ledger_code=code, record_id=rid, at=at
            )
            for actor, action, code, rid, at in rows
        ]
    return {"clerk": clerk, "other": other, "record": record, "seqs": [e.seq for e in made]}


def _seqs(events: dict[str, Any], **filters: Any) -> list[int]:
    mine = set(events["seqs"])
    return [i for i, e in enumerate(events["seqs"]) if e in {
        x.seq for x in audit_events(**filters) if x.seq in mine
    }]  # fmt: skip


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [0, 1, 2, 3, 4]),
        ({"ledger_code": "dog"}, [3, 4]),
        ({"action": "record.view"}, [0, 2]),
        ({"action": "record."}, [0, 1, 2, 4]),
        ({"at_from": date(2026, 11, 1), "at_to": date(2026, 11, 30)}, [1, 2, 3]),
        ({"at_from": datetime(2026, 11, 15, 12, 0, tzinfo=JST)}, [2, 3, 4]),
        ({"at_to": datetime(2026, 11, 15, 12, 0, tzinfo=JST)}, [0, 1]),
        ({"ledger_code": "subsidy", "action": "record.view", "at_from": date(2026, 11, 1)}, [2]),
    ],
)
def test_filters_combine_and_results_come_in_seq_order(
    events: dict[str, Any], filters: dict[str, Any], expected: list[int]
) -> None:
    assert _seqs(events, **filters) == expected
    listed = list(audit_events(**filters).values_list("seq", flat=True))
    assert listed == sorted(listed)


def test_by_actor_as_user_or_id_and_by_record(events: dict[str, Any]) -> None:
    assert _seqs(events, actor=events["clerk"]) == [0, 1, 3]
    assert _seqs(events, actor=events["other"].pk) == [2, 4]
    assert _seqs(events, record_id=events["record"]) == [0, 1]
    assert _seqs(events, record_id=str(events["record"]), action="record.update") == [1]


def test_another_citys_events_are_not_listed(events: dict[str, Any], musashino: City) -> None:
    with schema_context("musashino"):
        assert not audit_events(record_id=events["record"]).exists()


def test_listing_is_refused_on_public(db: None) -> None:
    with pytest.raises(TenantRequired):
        audit_events()
