"""Two transactions update the same record with the same expected generation: one wins."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.definitions.services import ledger_create
from ledgers.exceptions import GenerationConflict
from ledgers.records.models import Record, RecordVersion
from ledgers.records.services import record_create, record_restore, record_update
from tests.conftest import City, provision

SLUG = "hachioji"


@pytest.fixture(scope="module")
def committed_record(django_db_setup: None, django_db_blocker: Any) -> str:
    """A city of its own with a committed record (the other tests roll back; this cannot)."""
    with django_db_blocker.unblock():
        provision(City(SLUG, "八王子市", "132012", "hachioji.localhost"))
        with schema_context(SLUG):
            actor = get_user_model().objects.create_user(username="racer", password="x" * 12)
            department = Department.objects.create(code="soumu", name="総務課")
            Membership.objects.create(
                user=actor,
                department=department,
                role=Role.LEDGER_ADMIN,
                valid_from=date(2020, 4, 1),
            )
            ledger = ledger_create(
                actor=actor, code="race", name="競合試験",
                fields=[{"key": "note", "label": "備考", "type": "text"}],
            )  # fmt: skip
            record = record_create(actor=actor, ledger=ledger, values={"note": "初期"})
        connection.set_schema_to_public()
        return str(record.pk)


def test_exactly_one_of_two_concurrent_updates_wins(
    committed_record: str, django_db_blocker: Any
) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def update(note: str) -> None:
        with django_db_blocker.unblock():
            try:
                with schema_context(SLUG):
                    record = Record.objects.get(pk=committed_record)
                    actor = get_user_model().objects.get(username="racer")
                    barrier.wait(timeout=10)
                    try:
                        record_update(
                            actor=actor, record=record, values={"note": note}, expected_generation=1
                        )
                        outcomes.append("won")
                    except GenerationConflict:
                        outcomes.append("conflict")
            finally:
                connection.close()

    threads = [threading.Thread(target=update, args=(note,)) for note in ("甲", "乙")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "won"]
    with django_db_blocker.unblock(), schema_context(SLUG):
        record = Record.objects.get(pk=committed_record)
        assert record.generation == 2
        assert RecordVersion.objects.filter(record=record).count() == 2
        assert record.data["note"] in {"甲", "乙"}
    connection.set_schema_to_public()


def test_a_restore_and_a_change_of_the_same_generation_one_wins(
    committed_record: str, django_db_blocker: Any
) -> None:
    """A restore locks the row and a change updates it only at the generation it read: run
    together from the same generation, one is written and the other is a conflict (no lost
    update, generations strictly one after the other). Checked by the review of the write
    paths (2026-11-30)."""
    with django_db_blocker.unblock(), schema_context(SLUG):
        start = Record.objects.get(pk=committed_record).generation
    barrier = threading.Barrier(2)
    outcomes: list[tuple[str, str]] = []

    def write(kind: str) -> None:
        with django_db_blocker.unblock():
            try:
                with schema_context(SLUG):
                    record = Record.objects.get(pk=committed_record)
                    actor = get_user_model().objects.get(username="racer")
                    barrier.wait(timeout=10)
                    try:
                        if kind == "restore":
                            record_restore(
                                actor=actor, record=record, generation=1,
                                expected_generation=start,
                            )  # fmt: skip
                        else:
                            record_update(
                                actor=actor, record=record, values={"note": "丙"},
                                expected_generation=start,
                            )  # fmt: skip
                        outcomes.append((kind, "won"))
                    except GenerationConflict:
                        outcomes.append((kind, "conflict"))
            finally:
                connection.close()

    threads = [threading.Thread(target=write, args=(kind,)) for kind in ("restore", "update")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcome for _kind, outcome in outcomes) == ["conflict", "won"]
    [(winner, _)] = [o for o in outcomes if o[1] == "won"]
    with django_db_blocker.unblock(), schema_context(SLUG):
        record = Record.objects.get(pk=committed_record)
        assert record.generation == start + 1
        generations = list(
            RecordVersion.objects.filter(record=record)
            .order_by("generation")
            .values_list("generation", flat=True)
        )
        assert generations == list(range(1, start + 2))
        assert record.data["note"] == ("初期" if winner == "restore" else "丙")
