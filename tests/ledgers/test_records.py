"""Records and generations (世代): every change is a new full snapshot, kept for ever."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgers.audit.models import AuditEvent
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import field_add, field_remove, ledger_create
from ledgers.exceptions import GenerationConflict, RecordInvalid, RecordStateError, VersionNotFound
from ledgers.records import services
from ledgers.records.models import Record, RecordVersion
from ledgers.records.selectors import (
    record_as_of,
    record_diff,
    record_get_version,
    record_versions,
    version_definition,
)
from ledgers.records.services import (
    LedgerSchema,
    record_bulk_create,
    record_bulk_update,
    record_create,
    record_delete,
    record_restore,
    record_update,
    values_clean,
)
from ledgers.search.keys import stored_key


def _counts() -> tuple[int, int, int]:
    return Record.objects.count(), RecordVersion.objects.count(), AuditEvent.objects.count()


def test_create_writes_generation_one_its_snapshot_and_an_audit_event(
    ledger: Ledger, clerk: Any
) -> None:
    record = record_create(
        actor=clerk, ledger=ledger,
        values={"name": "山田 花子", "birth_date": "昭和60年3月3日", "amount": "１２０,０００"},
    )  # fmt: skip
    assert record.generation == 1
    assert record.data == {"name": "山田 花子", "birth_date": "1985-03-03", "amount": 120000}
    assert record.definition_version == 1
    (version,) = record_versions(record=record)
    assert (version.generation, version.action, version.data) == (1, "create", record.data)
    assert version.diff is None  # a create's diff is its snapshot, not stored twice
    assert version.changes == {
        "amount": [None, 120000], "birth_date": [None, "1985-03-03"], "name": [None, "山田 花子"]
    }  # fmt: skip
    event = AuditEvent.objects.get(action="record.create")
    assert (event.record_id, event.generation, event.actor_id) == (record.id, 1, clerk.pk)
    assert stored_key(f"{ledger.pk}:name|=山田花子") in record.search_keys
    assert stored_key(f"{ledger.pk}:birth_date|=1985-03-03") in record.search_keys


def test_record_ids_are_opaque(ledger: Ledger, clerk: Any) -> None:
    first = record_create(actor=clerk, ledger=ledger, values={"name": "一"})
    second = record_create(actor=clerk, ledger=ledger, values={"name": "二"})
    assert first.id.version == 4
    assert first.id.int + 1 != second.id.int


@pytest.mark.parametrize(
    ("values", "key", "message"),
    [
        ({"name": "山田", "ghost": "x"}, "ghost", "ない項目"),
        ({"birth_date": "1990-01-01"}, "name", "必須"),
        ({"name": "山田", "birth_date": "令和5年13月1日"}, "birth_date", "月"),
        ({"name": "山田", "birth_date": "昭和70年1月1日"}, "birth_date", "昭和"),
        ({"name": "山田", "amount": "たくさん"}, "amount", ""),
    ],
)
def test_invalid_values_are_refused_and_nothing_is_written(
    ledger: Ledger, clerk: Any, values: dict, key: str, message: str
) -> None:
    before = _counts()
    with pytest.raises(RecordInvalid) as info:
        record_create(actor=clerk, ledger=ledger, values=values)
    assert key in info.value.errors
    assert message in info.value.errors[key][0]
    assert _counts() == before


def test_update_makes_a_new_generation_with_its_diff(ledger: Ledger, clerk: Any) -> None:
    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田 花子", "amount": 100})
    record = record_update(
        actor=clerk, record=record, values={"name": "佐藤 花子", "amount": None},
        expected_generation=1, reason="婚姻による氏の変更",
    )  # fmt: skip
    assert record.generation == 2
    assert record.data == {"name": "佐藤 花子"}
    version = record_get_version(record=record, generation=2)
    assert version.diff == {"amount": [100, None], "name": ["山田 花子", "佐藤 花子"]}
    assert version.changes == version.diff
    assert version.reason == "婚姻による氏の変更"
    assert record_get_version(record=record, generation=1).data == {
        "name": "山田 花子",
        "amount": 100,
    }
    assert record_diff(record=record, from_generation=1, to_generation=2) == {
        "amount": {"from": 100, "to": None},
        "name": {"from": "山田 花子", "to": "佐藤 花子"},
    }
    event = AuditEvent.objects.get(action="record.update")
    assert event.details == {"fields": ["amount", "name"]}


def test_a_stale_update_writes_nothing(ledger: Ledger, clerk: Any) -> None:
    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田"})
    record_update(actor=clerk, record=record, values={"name": "佐藤"}, expected_generation=1)
    before = _counts()
    with pytest.raises(GenerationConflict) as info:
        record_update(actor=clerk, record=record, values={"name": "鈴木"}, expected_generation=1)
    assert info.value.detail == {"expected_generation": 1, "current_generation": 2}
    assert _counts() == before
    assert Record.objects.get(pk=record.pk).data == {"name": "佐藤"}


def test_an_update_that_changes_nothing_makes_no_generation(ledger: Ledger, clerk: Any) -> None:
    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田", "amount": 5})
    record = record_update(
        actor=clerk, record=record, values={"amount": "５"}, expected_generation=1
    )
    assert record.generation == 1
    assert RecordVersion.objects.filter(record=record).count() == 1


def test_delete_and_restore_are_generations_too(ledger: Ledger, clerk: Any) -> None:
    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田"})
    with pytest.raises(RecordInvalid):
        record_delete(actor=clerk, record=record, reason="  ")
    record = record_delete(actor=clerk, record=record, reason="重複登録", expected_generation=1)
    assert (record.generation, record.is_deleted) == (2, True)
    assert record_get_version(record=record, generation=2).deleted is True
    with pytest.raises(RecordStateError):
        record_update(actor=clerk, record=record, values={"name": "x"}, expected_generation=2)
    with pytest.raises(RecordStateError):
        record_delete(actor=clerk, record=record, reason="もう一度")
    record = record_restore(actor=clerk, record=record, expected_generation=2)
    assert (record.generation, record.is_deleted, record.data) == (3, False, {"name": "山田"})
    actions = list(record_versions(record=record).values_list("action", flat=True))
    assert actions == ["create", "delete", "restore"]
    assert AuditEvent.objects.filter(record_id=record.id).count() == 3


def test_restoring_an_older_generation_brings_its_values_back_as_a_new_one(
    ledger: Ledger, clerk: Any
) -> None:
    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田", "amount": 1})
    record = record_update(
        actor=clerk, record=record, values={"name": "佐藤"}, expected_generation=1
    )
    record = record_update(actor=clerk, record=record, values={"amount": 3}, expected_generation=2)
    record = record_restore(actor=clerk, record=record, generation=1, expected_generation=3)
    assert record.generation == 4
    assert record.data == {"name": "山田", "amount": 1}
    assert record_get_version(record=record, generation=4).reason == "第1世代を復元"
    with pytest.raises(VersionNotFound):
        record_restore(actor=clerk, record=record, generation=9)
    with pytest.raises(RecordStateError):
        record_restore(actor=clerk, record=record)


def test_a_removed_field_still_shows_in_its_old_generation(ledger: Ledger, clerk: Any) -> None:
    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田", "note": "要配慮"})
    ledger = field_remove(actor=clerk, ledger=ledger, key="note")
    record = record_update(
        actor=clerk, record=record, values={"name": "佐藤"}, expected_generation=1
    )
    old = record_get_version(record=record, generation=1)
    assert old.data["note"] == "要配慮"
    old_fields = {f["key"]: f for f in version_definition(version=old)["fields"]}
    assert old_fields["note"]["label"] == "備考"
    assert not old_fields["note"].get("removed")
    new = record_get_version(record=record, generation=2)
    assert "note" not in new.data
    assert "note" not in [
        f["key"] for f in version_definition(version=new)["fields"] if not f.get("removed")
    ]
    with pytest.raises(RecordInvalid, match="削除された項目"):
        record_update(actor=clerk, record=record, values={"note": "x"}, expected_generation=2)


def test_record_as_of(ledger: Ledger, clerk: Any) -> None:
    before_creation = timezone.now() - timedelta(seconds=1)
    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田"})
    after_first = timezone.now()
    record = record_update(
        actor=clerk, record=record, values={"name": "佐藤"}, expected_generation=1
    )
    assert record_as_of(record=record, at=before_creation) is None
    assert record_as_of(record=record, at=after_first).data == {"name": "山田"}
    assert record_as_of(record=record, at=timezone.now()).data == {"name": "佐藤"}


NAMES = st.sampled_from(["山田 花子", "佐藤 花子", "鈴木 一郎", "髙橋 次郎", "ﾔﾏﾀﾞ ﾊﾅｺ"])
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("update"),
            st.fixed_dictionaries(
                {"name": NAMES}, optional={"amount": st.integers(0, 10**6) | st.none()}
            ),
        ),
        st.tuples(st.just("delete"), st.just({})),
        st.tuples(st.just("restore"), st.integers(min_value=1, max_value=8)),
    ),
    max_size=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_history_invariants(ledger: Ledger, clerk: Any, operations: list) -> None:
    """One version per change; generations 1..n; snapshot n is the record after change n."""
    record = record_create(actor=clerk, ledger=ledger, values={"name": "初期 値"})
    states = [(record.generation, dict(record.data), record.is_deleted)]
    for operation, argument in operations:
        try:
            if operation == "update":
                record = record_update(
                    actor=clerk,
                    record=record,
                    values=argument,
                    expected_generation=record.generation,
                )
            elif operation == "delete":
                record = record_delete(
                    actor=clerk,
                    record=record,
                    reason="テスト",
                    expected_generation=record.generation,
                )
            else:
                record = record_restore(
                    actor=clerk,
                    record=record,
                    generation=min(argument, record.generation),
                    expected_generation=record.generation,
                )
        except RecordStateError:
            continue
        if record.generation != states[-1][0]:
            states.append((record.generation, dict(record.data), record.is_deleted))
    versions = list(record_versions(record=record))
    assert [v.generation for v in versions] == list(range(1, record.generation + 1))
    assert [(v.generation, v.data, v.deleted) for v in versions] == states
    # A stale write after all that still writes nothing.
    with pytest.raises((GenerationConflict, RecordStateError)):
        record_update(
            actor=clerk,
            record=record,
            values={"name": "x"},
            expected_generation=record.generation - 1 or 99,
        )
    for version in versions:
        assert record_as_of(record=record, at=version.at).generation >= version.generation


def test_bulk_create_is_all_or_nothing(ledger: Ledger, clerk: Any) -> None:
    before = _counts()
    with pytest.raises(RecordInvalid) as info:
        record_bulk_create(
            actor=clerk, ledger=ledger,
            values_list=[{"name": "山田"}, {"birth_date": "2020-01-01"}, {"name": "佐藤"}, {"name": "x", "amount": "abc"}],
        )  # fmt: skip
    assert sorted(info.value.item_errors) == [1, 3]
    assert "name" in info.value.item_errors[1]
    assert _counts() == before


def test_bulk_create_writes_history_search_keys_and_audit(ledger: Ledger, clerk: Any) -> None:
    results = record_bulk_create(
        actor=clerk, ledger=ledger,
        values_list=[{"name": f"山田 {i}", "birth_date": "R5.4.1", "amount": i} for i in range(50)],
    )  # fmt: skip
    assert len(results) == 50
    assert {generation for _, generation in results} == {1}
    records = Record.objects.filter(pk__in=[record_id for record_id, _ in results])
    assert records.count() == 50
    sample = records.get(data__amount=7)
    assert sample.data == {"name": "山田 7", "birth_date": "2023-04-01", "amount": 7}
    assert stored_key(f"{ledger.pk}:name|=山田7") in sample.search_keys
    version = record_get_version(record=sample, generation=1)
    assert (version.action, version.data, version.actor_id) == ("create", sample.data, clerk.pk)
    assert AuditEvent.objects.filter(action="record.create", record_id=sample.id).count() == 1
    # The bulk rows behave as any record afterwards.
    updated = record_update(actor=clerk, record=sample, values={"amount": 8}, expected_generation=1)
    assert updated.generation == 2


def test_bulk_update_makes_new_generations_all_or_nothing(ledger: Ledger, clerk: Any) -> None:
    created = record_bulk_create(
        actor=clerk,
        ledger=ledger,
        values_list=[{"name": f"山田 {i}", "amount": i} for i in range(5)],
    )
    ids = [record_id for record_id, _ in created]
    stale = [
        (ids[0], 1, {"amount": 100}),
        (ids[1], 2, {"amount": 101}),
        (ids[2], 1, {"amount": "abc"}),
    ]
    before = _counts()
    with pytest.raises(RecordInvalid) as info:
        record_bulk_update(actor=clerk, ledger=ledger, changes=stale)
    assert sorted(info.value.item_errors) == [1, 2]
    assert "generation" in info.value.item_errors[1]
    assert _counts() == before
    assert Record.objects.get(pk=ids[0]).data["amount"] == 0

    results = record_bulk_update(
        actor=clerk, ledger=ledger, reason="再取り込み",
        changes=[(ids[0], 1, {"amount": 100}), (ids[1], 1, {"amount": 1}), (ids[2], 1, {"name": "佐藤 2"})],
    )  # fmt: skip
    assert results == [(ids[0], 2), (ids[1], 1), (ids[2], 2)]
    record = Record.objects.get(pk=ids[0])
    assert (record.generation, record.data["amount"]) == (2, 100)
    version = record_get_version(record=record, generation=2)
    assert (version.action, version.reason, version.diff) == (
        "update",
        "再取り込み",
        {"amount": [0, 100]},
    )
    assert (
        AuditEvent.objects.filter(action="record.update", record_id=ids[2], generation=2).count()
        == 1
    )
    assert RecordVersion.objects.filter(record_id=ids[1]).count() == 1


def test_an_update_validated_against_a_superseded_definition_is_validated_again(
    ledger: Ledger, clerk: Any
) -> None:
    """The form was read before a field was removed: the change is checked against the
    definition in force, not the one the caller holds."""
    from ledgers.access.policy import policy_for

    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田 花子", "note": "メモ"})
    stale_policy = policy_for(clerk, ledger)
    field_remove(actor=clerk, ledger=Ledger.objects.get(pk=ledger.pk), key="note")
    with pytest.raises(RecordInvalid) as refused:
        record_update(
            actor=clerk, record=record, values={"note": "変更"}, expected_generation=1,
            policy=stale_policy,
        )  # fmt: skip
    assert "note" in refused.value.errors
    assert Record.objects.get(pk=record.pk).generation == 1
    updated = record_update(
        actor=clerk, record=record, values={"amount": 5}, expected_generation=1,
        policy=stale_policy,
    )  # fmt: skip
    assert updated.generation == 2
    assert updated.definition_version == Ledger.objects.get(pk=ledger.pk).definition_version
    # The removed field's value stays in generation 1 only.
    assert "note" not in Record.objects.get(pk=record.pk).data
    assert record_get_version(record=record, generation=1).data["note"] == "メモ"


def test_search_keys_are_per_ledger(ledger: Ledger, clerk: Any) -> None:
    """Two ledgers with a field of the same key and value share no index entry: a search
    in one never walks the other's records."""
    from ledgers.definitions.services import ledger_create

    other = ledger_create(actor=clerk, code="other", name="別台帳", fields=[
        {"key": "name", "label": "氏名", "type": "text"}])  # fmt: skip
    here = record_create(actor=clerk, ledger=ledger, values={"name": "山田 花子"})
    there = record_create(actor=clerk, ledger=other, values={"name": "山田 花子"})
    assert set(here.search_keys).isdisjoint(there.search_keys)


def test_a_write_lands_in_the_city_in_force_when_the_connection_last_served_another(
    ledger: Ledger, clerk: Any, musashino: Any
) -> None:
    """The prepared write statements run on the raw connection: the city's search_path
    must be set first even when nothing else queried since the schema changed."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from ledgers.access.policy import policy_for

    policy = policy_for(clerk, ledger)
    record = record_create(actor=clerk, ledger=ledger, values={"name": "一"}, policy=policy)
    # The connection now serves 武蔵野市.
    with schema_context(musashino.slug), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    # Back in 三鷹市 (the fixture's schema); the writes are the first statements here.
    created = record_create(actor=clerk, ledger=ledger, values={"name": "二"}, policy=policy)
    with schema_context(musashino.slug), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    updated = record_update(
        actor=clerk, record=record, values={"name": "三"}, expected_generation=1, policy=policy
    )
    assert Record.objects.filter(pk__in=[created.pk, updated.pk]).count() == 2
    assert Record.objects.get(pk=record.pk).generation == 2
    with schema_context(musashino.slug):
        assert not Record.objects.filter(pk__in=[created.pk, record.pk]).exists()


def test_a_read_runs_in_the_city_in_force_when_the_connection_last_served_another(
    ledger: Ledger, clerk: Any, musashino: Any
) -> None:
    """The record read is a prepared statement too (one per visibility, the same text in
    every city): run in 武蔵野市 it reads 武蔵野市's tables, back in 三鷹市 三鷹市's, and
    the audit event goes where the record was read."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from ledgers.access.policy import policy_for
    from ledgers.exceptions import RecordNotFound

    policy = policy_for(clerk, ledger)
    record = record_create(actor=clerk, ledger=ledger, values={"name": "一"}, policy=policy)
    assert policy.view_record(record.pk, actor=clerk).data == {"name": "一"}
    with schema_context(musashino.slug):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        with pytest.raises(RecordNotFound):
            policy.view_record(record.pk, actor=clerk)
        assert not AuditEvent.objects.filter(record_id=record.pk).exists()
    # Back in 三鷹市: the prepared read is the first statement since the schema changed.
    assert policy.view_record(record.pk, actor=clerk).data == {"name": "一"}
    assert AuditEvent.objects.filter(record_id=record.pk, action="record.view").count() == 2


def test_bulk_create_leaves_garbage_collection_as_it_found_it(ledger: Ledger, clerk: Any) -> None:
    import gc

    record_bulk_create(actor=clerk, ledger=ledger, values_list=[{"name": "一"}])
    assert gc.isenabled()
    with pytest.raises(RecordInvalid):
        record_bulk_create(actor=clerk, ledger=ledger, values_list=[{"name": ""}])
    assert gc.isenabled()
    gc.disable()
    try:
        record_bulk_create(actor=clerk, ledger=ledger, values_list=[{"name": "二"}])
        assert not gc.isenabled()
    finally:
        gc.enable()


RICH_FIELDS: list[dict[str, Any]] = [
    {"key": "name", "label": "氏名", "type": "person_name", "required": True},
    {"key": "birth_date", "label": "生年月日", "type": "date"},
    {"key": "phone", "label": "電話番号", "type": "phone"},
    {"key": "amount", "label": "金額", "type": "integer"},
    {"key": "ratio", "label": "割合", "type": "decimal", "options": {"decimal_places": 2}},
    {"key": "active", "label": "有効", "type": "boolean"},
    {"key": "note", "label": "備考", "type": "long_text"},
    {"key": "tags", "label": "区分", "type": "multi_choice", "options": {"choices": ["甲", "乙"]}},
    {"key": "family", "label": "世帯員", "type": "group", "fields": [
        {"key": "name", "label": "氏名", "type": "person_name"},
        {"key": "relation", "label": "続柄", "type": "text"}]},
]  # fmt: skip
RICH_VALUES: list[dict[str, Any]] = [
    {"name": {"kanji": "髙橋 一郎", "kana": "ﾀｶﾊｼ ｲﾁﾛｳ"}, "birth_date": "S60.3.3", "phone": "０４２２-４５-１１１１",
     "amount": 1200, "ratio": "0.5", "active": True, "note": 'バックスラッシュ \\ と "引用" と\n改行',
     "tags": ["甲", "乙"], "family": [{"name": {"kanji": "髙橋 花子", "kana": "タカハシ ハナコ"}, "relation": "妻"}]},
    {"name": {"kanji": "^=山田", "kana": "ヤマダ"}, "amount": -5, "active": False, "note": "x" * 300},
    {"name": {"kanji": "佐藤", "kana": ""}},
]  # fmt: skip


def test_bulk_create_stores_what_record_create_stores(clerk: Any) -> None:
    """The bulk path writes its rows in PostgreSQL's binary COPY format, packed by hand
    (ledgers.records.copy); every stored column must equal what a single create stores."""
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    # Quotes, a backslash and a tab (a state is one line: the tab goes in the reason).
    reason, state = '一括登録\t"A\\B"', '受付\\"済"'
    bulk = record_bulk_create(
        actor=clerk, ledger=ledger, values_list=RICH_VALUES, reason=reason, state=state
    )
    single = [
        record_create(actor=clerk, ledger=ledger, values=values, reason=reason, state=state)
        for values in RICH_VALUES
    ]
    columns = ["ledger_id", "data", "search_text", "generation", "definition_version", "state",
               "created_by_id", "updated_by_id", "deleted_at", "deleted_by_id", "deleted_reason"]  # fmt: skip
    version_columns = ["generation", "action", "actor_id", "reason", "definition_version",
                       "data", "state", "deleted", "diff", "changes"]  # fmt: skip
    for (bulk_id, _), made in zip(bulk, single, strict=True):
        stored = Record.objects.get(pk=bulk_id)
        made.refresh_from_db()
        assert [getattr(stored, c) for c in columns] == [getattr(made, c) for c in columns]
        assert sorted(stored.search_keys) == sorted(made.search_keys)
        assert stored.created_at == stored.updated_at
        assert abs(stored.created_at - made.created_at) < timedelta(minutes=1)
        stored_version = RecordVersion.objects.get(record_id=bulk_id)
        made_version = RecordVersion.objects.get(record=made)
        assert [getattr(stored_version, c) for c in version_columns] == [
            getattr(made_version, c) for c in version_columns
        ]
        assert stored_version.at == stored.created_at


def test_bulk_create_of_nothing_writes_nothing(ledger: Ledger, clerk: Any) -> None:
    before = _counts()
    assert record_bulk_create(actor=clerk, ledger=ledger, values_list=[]) == []
    assert _counts() == before


def test_clean_results_are_remembered_only_for_pure_types_and_valid_inputs(
    ledger: Ledger, clerk: Any
) -> None:
    """values_clean reuses a pure type's result for the same input (text, integers); an
    invalid input is refused every time, and a value of another type is cleaned again."""
    schema = LedgerSchema.of(ledger)
    assert schema.by_key["birth_date"].cleaned is not None
    for _ in range(2):
        with pytest.raises(RecordInvalid) as info:
            values_clean(ledger=ledger, values={"name": "山田", "birth_date": "昭和70年1月1日"})
        assert "birth_date" in info.value.errors
    first = values_clean(
        ledger=ledger, values={"name": "山田", "birth_date": "R5.4.1", "amount": "1,200"}
    )
    again = values_clean(
        ledger=ledger, values={"name": "山田", "birth_date": "R5.4.1", "amount": "1,200"}
    )
    assert first == again == {"name": "山田", "birth_date": "2023-04-01", "amount": 1200}
    assert schema.by_key["birth_date"].cleaned["R5.4.1"] == "2023-04-01"
    assert "昭和70年1月1日" not in schema.by_key["birth_date"].cleaned
    # 1 and "1" and True are different inputs: True is not an integer here.
    assert values_clean(ledger=ledger, values={"name": "x", "amount": 1})["amount"] == 1
    with pytest.raises(RecordInvalid):
        values_clean(ledger=ledger, values={"name": "x", "amount": True})


def test_types_that_read_the_database_or_hold_personal_numbers_are_never_remembered() -> None:
    from ledgers.fields import field_type_registry

    for type_id in ("department_flags", "reference", "file", "my_number", "group"):
        assert not field_type_registry.get(type_id).pure, type_id


def test_names_and_addresses_given_as_objects_are_remembered_by_their_texts(clerk: Any) -> None:
    """An object of texts is remembered under its items in order: the same name in another
    order is cleaned again (to the same value), and an object holding a non-text is never
    remembered (its error comes every time)."""
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    cache = LedgerSchema.of(ledger).by_key["name"].cleaned
    assert cache is not None
    given = {"kanji": "髙橋 一郎", "kana": "ﾀｶﾊｼ ｲﾁﾛｳ"}
    first = values_clean(ledger=ledger, values={"name": given})["name"]
    assert cache[(dict, tuple(given.items()))] == first
    assert first["family_kana"] == "タカハシ"
    assert first["kanji"] == "髙橋 一郎"
    reordered = {"kana": "ﾀｶﾊｼ ｲﾁﾛｳ", "kanji": "髙橋 一郎"}
    assert values_clean(ledger=ledger, values={"name": reordered})["name"] == first
    assert len(cache) == 2
    for _ in range(2):
        with pytest.raises(RecordInvalid):
            values_clean(ledger=ledger, values={"name": {"kanji": 1, "kana": "イチ"}})
    assert len(cache) == 2


def _pending_pages(index: str) -> int:
    """Pages a merge of the index's pending list would move (0: nothing is pending)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
        return cursor.fetchone()[0]


def test_the_search_keys_pending_list_is_limited_to_one_megabyte(clerk: Any) -> None:
    """A 4 MB list made the planner of a fresh table scan it whole for every search."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE oid = to_regclass('record_search_keys_gin')"
        )
        assert cursor.fetchone()[0] == ["gin_pending_list_limit=1024"]


def test_large_bulk_writes_leave_no_pending_search_entries(
    clerk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search right after an import reads the index proper, not a pending list."""
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    batch = RICH_VALUES * 40
    monkeypatch.setattr(services, "MERGE_MIN_ROWS", len(batch))  # an import's batch size
    created = record_bulk_create(actor=clerk, ledger=ledger, values_list=batch)
    assert _pending_pages("record_search_keys_gin") == 0
    record_bulk_update(
        actor=clerk, ledger=ledger,
        changes=[(record_id, 1, {"note": f"変更 {i}", "phone": "03-1234-5678"}) for i, (record_id, _) in enumerate(created)],
    )  # fmt: skip
    assert _pending_pages("record_search_keys_gin") == 0
    assert _pending_pages("search_value_keys_gin") == 0


def test_small_bulk_writes_leave_their_entries_to_the_shared_merge(clerk: Any) -> None:
    """An API request of 100 records does not merge on its own (it cost twice as much per
    row); its entries wait in the pending list, and searches find them there."""
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    batch = RICH_VALUES * 20
    assert len(batch) < services.MERGE_MIN_ROWS
    created = record_bulk_create(actor=clerk, ledger=ledger, values_list=batch)
    first = Record.objects.get(pk=created[0][0])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the GIN index answers
        cursor.execute(
            "SELECT count(*) FROM ledgers_record WHERE search_keys @> %s::integer[]",
            [first.search_keys],
        )
        assert cursor.fetchone()[0] == batch.count(batch[0])
    assert _pending_pages("record_search_keys_gin") > 0


def test_bulk_update_stores_what_record_update_stores(clerk: Any) -> None:
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    change = {"note": '改行\nと \\ と "', "amount": None, "tags": ["乙"], "phone": "03-1234-5678"}
    bulk = [record_create(actor=clerk, ledger=ledger, values=values) for values in RICH_VALUES]
    single = [record_create(actor=clerk, ledger=ledger, values=values) for values in RICH_VALUES]
    record_bulk_update(
        actor=clerk, ledger=ledger, changes=[(r.pk, 1, change) for r in bulk], reason="一括"
    )
    for one in single:
        record_update(actor=clerk, record=one, values=change, expected_generation=1, reason="一括")
    columns = ["data", "search_text", "generation", "definition_version", "state"]
    for left, right in zip(bulk, single, strict=True):
        left.refresh_from_db()
        right.refresh_from_db()
        assert [getattr(left, c) for c in columns] == [getattr(right, c) for c in columns]
        assert sorted(left.search_keys) == sorted(right.search_keys)
        versions = [
            RecordVersion.objects.values("action", "data", "diff", "reason", "state").get(
                record=record, generation=2
            )
            for record in (left, right)
        ]
        assert versions[0] == versions[1]


def test_a_value_s_equality_keys_are_among_its_record_s_keys(clerk: Any) -> None:
    """The API's ``<key>=<value>`` filter asks the GIN index for these keys first."""
    from ledgers.search.index import equality_stored_keys

    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    fields = {f["key"]: f for f in ledger.fields()}
    for values in RICH_VALUES:
        record = record_create(actor=clerk, ledger=ledger, values=values)
        for key, value in record.data.items():
            keys = equality_stored_keys(ledger.pk, fields[key], value)
            # Long text is not keyed (only rechecked): its equality is the data's alone.
            assert bool(keys) == (fields[key]["type"] != "long_text"), key
            assert set(keys) <= set(record.search_keys), key
    assert not set(equality_stored_keys(ledger.pk, fields["amount"], 999)) <= set(
        record.search_keys
    )


def test_a_bulk_create_sent_in_many_chunks_writes_every_record_and_version(
    clerk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 7 rows: 300 records go as 42 full COPYs and one of 6, each result read
    when the next chunk is sent."""
    monkeypatch.setattr(services, "COPY_CHUNK_MIN", 7)
    monkeypatch.setattr(services, "COPY_CHUNK_MAX", 7)
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    created = record_bulk_create(actor=clerk, ledger=ledger, values_list=RICH_VALUES * 100)
    ids = [record_id for record_id, _ in created]
    assert len(set(ids)) == 300
    assert Record.objects.filter(pk__in=ids).count() == 300
    versions = RecordVersion.objects.filter(record_id__in=ids)
    assert versions.count() == 300
    assert {v.data["name"]["kanji"] for v in versions} == {"髙橋 一郎", "^=山田", "佐藤"}
    assert AuditEvent.objects.filter(action="record.create", record_id__in=ids).count() == 300


def test_a_chunk_the_database_refuses_rolls_back_the_whole_batch(
    clerk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk's error, read when the next chunk goes, reaches the caller as Django's
    DataError; the chunks before it roll back with the rest and the connection stays usable."""
    from django.db import DataError

    monkeypatch.setattr(services, "COPY_CHUNK_MIN", 5)
    monkeypatch.setattr(services, "COPY_CHUNK_MAX", 5)
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    counts = (Record.objects.count(), RecordVersion.objects.count(), AuditEvent.objects.count())
    with pytest.raises(DataError):
        # A state longer than its column (64): PostgreSQL refuses the first chunk.
        record_bulk_create(actor=clerk, ledger=ledger, values_list=RICH_VALUES * 10, state="x" * 65)
    assert (
        Record.objects.count(),
        RecordVersion.objects.count(),
        AuditEvent.objects.count(),
    ) == counts
    created = record_bulk_create(actor=clerk, ledger=ledger, values_list=RICH_VALUES * 4)
    assert Record.objects.filter(pk__in=[i for i, _ in created]).count() == 12


def test_an_invalid_item_after_chunks_were_sent_writes_nothing(
    clerk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "COPY_CHUNK_MIN", 5)
    monkeypatch.setattr(services, "COPY_CHUNK_MAX", 5)
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    before = Record.objects.count()
    batch = [*RICH_VALUES * 10, {"name": {"kanji": "佐藤"}, "birth_date": "令和5年13月1日"}]
    with pytest.raises(RecordInvalid) as refused:
        record_bulk_create(actor=clerk, ledger=ledger, values_list=batch)
    assert set(refused.value.item_errors) == {30}
    assert Record.objects.count() == before
    # Nor the versions and audit events the six chunks' COPYs wrote before it.
    assert not RecordVersion.objects.filter(record__ledger=ledger).exists()
    assert not AuditEvent.objects.filter(ledger_code="rich", action="record.create").exists()


def test_the_history_trigger_acts_only_inside_a_bulk_create_s_copies(clerk: Any) -> None:
    """The records' COPY writes their versions and audit events while ``daicho.bulk_create``
    is set (migration 0010); the bulk path clears it after each COPY, so a record created
    after a bulk create in the same transaction gets the one version its service writes."""
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    with transaction.atomic():
        created = record_bulk_create(
            actor=clerk, ledger=ledger, values_list=RICH_VALUES * 100, reason="一括登録"
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('daicho.bulk_create', true)")
            assert cursor.fetchone()[0] == ""
        single = record_create(actor=clerk, ledger=ledger, values=RICH_VALUES[0])
    ids = [i for i, _ in created]
    versions = RecordVersion.objects.filter(record_id__in=ids)
    assert versions.count() == 300
    assert set(versions.values_list("reason", "action", "generation", "actor_id")) == {
        ("一括登録", "create", 1, clerk.pk)
    }
    assert {v.data["name"]["kanji"] for v in versions} == {"髙橋 一郎", "^=山田", "佐藤"}
    events = AuditEvent.objects.filter(record_id__in=ids)
    assert sorted(events.values_list("record_id", flat=True)) == sorted(ids)
    assert set(events.values_list("action", "ledger_code", "generation", "actor_id")) == {
        ("record.create", "rich", 1, clerk.pk)
    }
    assert RecordVersion.objects.filter(record_id=single.pk).count() == 1
    assert AuditEvent.objects.filter(record_id=single.pk).count() == 1
    # A plain insert into the table, outside any bulk create, writes no history.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledgers_record (id, ledger_id, data, search_keys, search_text,"
            " generation, definition_version, state, created_at, updated_at, deleted_reason)"
            " VALUES (gen_random_uuid(), %s, '{}', '{}', '{}', 1, 1, '', now(), now(), '')"
            " RETURNING id",
            [ledger.pk],
        )
        plain = cursor.fetchone()[0]
    assert not RecordVersion.objects.filter(record_id=plain).exists()
    assert not AuditEvent.objects.filter(record_id=plain).exists()


def test_a_bulk_create_failing_after_its_first_chunk_leaves_the_setting_cleared(
    clerk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The setting is set with the first COPY and cleared with the last: a batch refused in
    between (inside an outer transaction, so on a savepoint) takes it back with the rest."""
    monkeypatch.setattr(services, "COPY_CHUNK_MIN", 5)
    monkeypatch.setattr(services, "COPY_CHUNK_MAX", 5)
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    batch = [*RICH_VALUES * 10, {"name": {"kanji": "佐藤"}, "birth_date": "令和5年13月1日"}]
    with transaction.atomic():
        with pytest.raises(RecordInvalid):
            record_bulk_create(actor=clerk, ledger=ledger, values_list=batch)
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(current_setting('daicho.bulk_create', true), '')")
            assert cursor.fetchone()[0] == ""
        single = record_create(actor=clerk, ledger=ledger, values=RICH_VALUES[0])
    assert RecordVersion.objects.filter(record_id=single.pk).count() == 1
    assert Record.objects.filter(ledger=ledger).count() == 1


def test_the_written_tables_carry_only_the_indexes_queries_use(clerk: Any) -> None:
    """Every index is one more entry (and page image in the WAL) on every write: no index
    of a reference alone where a composite starts with it or no query looks it up."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename IN ('ledgers_record', 'ledgers_recordversion',"
            " 'ledgers_auditevent', 'ledgers_searchvalue')"
        )
        found = sorted(cursor.fetchall())
    assert found == sorted([
        ("ledgers_auditevent", "audit_actor_idx"),
        ("ledgers_auditevent", "audit_record_idx"),
        # Partial: searches' and lists' events only (the record filter's shown records).
        ("ledgers_auditevent", "audit_shown_records"),
        ("ledgers_auditevent", "ledgers_auditevent_pkey"),
        ("ledgers_record", "ledgers_record_pkey"),
        ("ledgers_record", "record_ledger_updated_idx"),
        ("ledgers_record", "record_search_keys_gin"),
        ("ledgers_recordversion", "ledgers_recordversion_pkey"),
        ("ledgers_recordversion", "record_version_generation_unique"),
        ("ledgers_searchvalue", "ledgers_searchvalue_ledger_id_2c158217"),
        ("ledgers_searchvalue", "ledgers_searchvalue_pkey"),
        ("ledgers_searchvalue", "search_value_keys_gin"),
        ("ledgers_searchvalue", "search_value_unique"),
    ])  # fmt: skip


def test_values_are_built_in_the_order_postgresql_keeps_object_keys(clerk: Any) -> None:
    """values_clean builds the data in jsonb's key order (shorter keys first, then by
    their bytes), so PostgreSQL receives every record's object already sorted; checked
    against PostgreSQL's own order, for a create and for a change that adds a key."""
    fields = [
        {"key": key, "label": key, "type": "text"} for key in ["zz", "b", "aaa", "a", "z9", "ab"]
    ]
    ledger = ledger_create(actor=clerk, code="order", name="順序", fields=fields)
    values = {"zz": "1", "b": "2", "aaa": "3", "a": "4"}
    data = values_clean(ledger=ledger, values=values)
    with connection.cursor() as cursor:
        cursor.execute("SELECT array(SELECT jsonb_object_keys(%s::jsonb))", [json.dumps(data)])
        (postgres_order,) = cursor.fetchone()
    assert list(data) == postgres_order == ["a", "b", "zz", "aaa"]
    changed = values_clean(ledger=ledger, values={"ab": "5", "zz": None}, current=data)
    assert list(changed) == ["a", "b", "ab", "aaa"]
    with pytest.raises(RecordInvalid) as info:
        values_clean(ledger=ledger, values={"a": "1", "nope": "x"})
    assert list(info.value.errors) == ["nope"]


def test_bulk_ids_are_random_version_4_ids_across_blocks_of_the_random_source(
    ledger: Ledger, clerk: Any
) -> None:
    results = record_bulk_create(
        actor=clerk, ledger=ledger, values_list=[{"name": f"山田 {i}"} for i in range(600)]
    )
    ids = [record_id for record_id, _ in results]
    assert len(set(ids)) == 600
    assert {(i.version, i.variant) for i in ids} == {(4, uuid.RFC_4122)}


def test_bulk_create_audits_each_record_once_in_the_order_written(
    ledger: Ledger, clerk: Any
) -> None:
    results = record_bulk_create(
        actor=clerk, ledger=ledger, values_list=[{"name": f"佐藤 {i}"} for i in range(30)]
    )
    events = list(
        AuditEvent.objects.filter(action="record.create", record_id__in=[r for r, _ in results])
        .order_by("seq")
        .values_list("record_id", "actor_id", "ledger_code", "generation", "details")
    )
    assert events == [
        (record_id, clerk.pk, ledger.code, 1, {"bulk": True}) for record_id, _ in results
    ]
    assert not AuditEvent.objects.filter(
        record_id__in=[r for r, _ in results], at__isnull=True
    ).exists()


def test_each_ledger_instance_of_a_definition_version_shares_one_schema(
    ledger: Ledger, clerk: Any
) -> None:
    """A request works on its own copy of a ledger: the bound schema (and its value
    caches) is found by city, ledger and definition version, not built again; a definition
    change makes a new one."""
    first = LedgerSchema.of(Ledger.objects.get(pk=ledger.pk))
    again = LedgerSchema.of(Ledger.objects.get(pk=ledger.pk))
    assert again is first
    changed = field_add(
        actor=clerk, ledger=ledger, field={"key": "extra", "label": "追加", "type": "text"}
    )
    schema = LedgerSchema.of(Ledger.objects.get(pk=changed.pk))
    assert schema is not first
    assert "extra" in schema.by_key
    assert "extra" not in first.by_key
    assert values_clean(ledger=changed, values={"name": "山田", "extra": "x"})["extra"] == "x"


def test_a_ledger_made_again_under_the_same_id_gets_its_own_schema(
    ledger: Ledger, clerk: Any
) -> None:
    """A city's schema dropped and provisioned again under its name starts ids afresh: a
    process that kept the old ledger 1's bound fields must not validate the new one's
    records with them."""
    from ledgers.records.services import _SCHEMAS

    # The process's cache starts again at 64 schemas: one filled by earlier tests in this
    # worker could start again between the two reads below (it did once, in a full run).
    _SCHEMAS.clear()
    old = LedgerSchema.of(Ledger.objects.get(pk=ledger.pk))
    # What the new city's ledger would read as: the same id and definition version, other
    # fields, another creation time.
    remade = Ledger.objects.get(pk=ledger.pk)
    remade.definition = {
        **remade.definition,
        "fields": [{"key": "other", "label": "別の項目", "type": "text", "required": True}],
    }
    remade.created_at += timedelta(days=30)
    schema = LedgerSchema.of(remade)
    assert schema is not old
    assert set(schema.by_key) == {"other"}
    assert values_clean(ledger=remade, values={"other": "x"}) == {"other": "x"}
    assert LedgerSchema.of(Ledger.objects.get(pk=ledger.pk)) is old


def test_the_bulk_path_s_one_pass_equals_validation_then_indexing(clerk: Any) -> None:
    """``values_clean_and_index`` (the bulk create's one lookup per field) gives what
    ``values_clean`` then the indexer give, on first sight of an input and from its cache,
    and refuses what ``values_clean`` refuses with the same errors."""
    from ledgers.records.services import values_clean_and_index

    fields = [*RICH_FIELDS, {"key": "gone", "label": "廃止", "type": "text"}]
    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=fields)
    ledger = field_remove(actor=clerk, ledger=ledger, key="gone")
    indexer = LedgerSchema.of(ledger).indexer
    for _round in range(2):  # the second from the caches
        for values in RICH_VALUES:
            data, index = values_clean_and_index(ledger=ledger, values=values)
            assert data == values_clean(ledger=ledger, values=values)
            assert list(data) == list(values_clean(ledger=ledger, values=values))  # key order
            expected = indexer.index(data)
            assert (index.texts, list(index.texts)) == (expected.texts, list(expected.texts))
            assert (index.keys_binary, index.keys_count) == (
                expected.keys_binary,
                expected.keys_count,
            )
    for wrong in [
        {"name": {"kanji": "佐藤"}, "birth_date": "令和5年13月1日"},
        {"birth_date": "2023-04-01"},
        {"name": {"kanji": "佐藤"}, "unknown": 1},
        {"name": {"kanji": "佐藤"}, "gone": "x"},
        ["not", "an", "object"],
    ]:
        with pytest.raises(RecordInvalid) as one_pass:
            values_clean_and_index(ledger=ledger, values=wrong)  # type: ignore[arg-type]
        with pytest.raises(RecordInvalid) as two_steps:
            values_clean(ledger=ledger, values=wrong)  # type: ignore[arg-type]
        assert one_pass.value.errors == two_steps.value.errors
        assert one_pass.value.errors


def test_long_inputs_are_not_remembered_by_the_value_caches(ledger: Ledger, clerk: Any) -> None:
    """The clean and index caches remember inputs per field (20,000 each): of any length,
    refused bulk requests of unique 1,000-character notes filled a web process with ~110 MB
    per text field (a create right was enough, and a batch refused for another item kept
    its valid inputs). Only short texts, the ones records repeat, are remembered."""

    notes = [f"{i:04d}" + "長い備考" * 250 for i in range(30)]
    record_bulk_create(
        actor=clerk, ledger=ledger,
        values_list=[{"name": "山田 花子", "note": note} for note in notes],
    )  # fmt: skip
    schema = LedgerSchema.of(ledger)
    note = schema.by_key["note"]
    assert not any(key in note.cleaned for key in notes)
    assert not any(key in note.indexed for key in notes)
    assert "山田 花子" in schema.by_key["name"].cleaned  # short inputs still are
    kept = next(cache for key, _f, _s, _t, cache in schema.indexer._fields if key == "note")
    assert not any(key in kept for key in notes)


def test_a_diff_reads_the_generations_between_a_chunk_at_a_time(ledger: Ledger, clerk: Any) -> None:
    """The diff of the first and the last generation looks at every one between (a masked
    field is changed when it changed anywhere): they were read into memory all at once, so
    a record a robot changes every day made each such diff hold thousands of snapshots."""
    import itertools
    import tracemalloc

    from ledgers.records.selectors import VALUES_CHUNK, record_values_between

    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田 花子"})
    filler = "あ" * 25_000  # ~50 KB a snapshot in memory
    RecordVersion.objects.bulk_create(
        RecordVersion(
            record=record,
            generation=generation,
            action="update",
            actor=clerk,
            at=timezone.now(),
            reason="",
            definition_version=1,
            state="",
            deleted=False,
            data={"name": "山田 花子", "note": f"{generation}{filler}"},
        )
        for generation in range(2, 202)
    )
    tracemalloc.start()
    try:
        notes = [
            (earlier.get("note", "")[:3], later["note"][:3])
            for earlier, later in itertools.pairwise(
                record_values_between(record=record, first=201, last=1)
            )
        ]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(notes) == 200
    assert notes[0] == ("", "2ああ")
    assert notes[-1] == ("200", "201")
    # All 200 at once: 10 MB of text alone; a chunk at a time, a few chunks' worth.
    assert VALUES_CHUNK <= 25
    assert peak < 4_000_000, peak
