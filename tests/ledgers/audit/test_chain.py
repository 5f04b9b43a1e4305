"""Sealing links every event into the hash chain; verify recomputes it and names breaks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from ledgers.audit.chain import (
    CANONICAL_COLUMNS_SQL,
    canonical_event,
    canonical_from_parts,
    details_canonicaliser,
    genesis,
    link_hash,
)
from ledgers.audit.models import AuditEvent, AuditSeal
from ledgers.audit.services import (
    AuditEntry,
    audit_anchor,
    audit_record,
    audit_record_many,
    audit_seal,
    audit_verify,
)
from tests.conftest import City
from tests.ledgers.audit.conftest import (
    as_superuser,
    dated_by_hand,
    record_events,
    rewrite_whole_chain,
)


def _reference_chain(schema: str) -> list[tuple[int, bytes]]:
    """(seq, hash) in chain order, recomputed from ORM rows with the reference definition."""
    prev = genesis(schema)
    chain = []
    for seal in AuditSeal.objects.select_related("event").order_by("n"):
        e = seal.event
        digest = link_hash(
            prev,
            canonical_event(
                seq=e.seq, at=e.at, actor_id=e.actor_id, action=e.action,
                ledger_code=e.ledger_code, record_id=e.record_id, generation=e.generation,
                details=e.details,
            ),
        )  # fmt: skip
        assert bytes(seal.prev_hash) == prev
        chain.append((e.seq, digest))
        prev = digest
    return chain


def test_sealing_chains_every_event_in_seq_order_and_verify_says_ok(
    in_mitaka: City, clerk: Any
) -> None:
    before = AuditSeal.objects.count()
    events = record_events(30, actor=clerk)
    assert audit_seal() == AuditEvent.objects.count() - before
    assert not AuditEvent.objects.filter(seal__isnull=True).exists()
    positions = list(AuditSeal.objects.order_by("n").values_list("n", "event_id"))
    assert [n for n, _ in positions] == list(range(1, len(positions) + 1))
    assert [seq for _, seq in positions[-30:]] == [e.seq for e in events]
    # The stored hashes are the reference definition's, link by link.
    reference = _reference_chain("mitaka")
    stored = list(AuditSeal.objects.order_by("n").values_list("hash", flat=True))
    assert [digest for _, digest in reference] == [bytes(h) for h in stored]
    result = audit_verify()
    assert result.ok
    assert result.events == len(positions)
    assert result.head_hash == reference[-1][1].hex()
    assert audit_seal() == 0


def _planner_settings() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_sort'), current_setting('jit')")
        return cursor.fetchone()


def test_verify_seals_what_is_pending_first(in_mitaka: City) -> None:
    record_events(3)
    planner = _planner_settings()
    result = audit_verify()
    assert result.ok
    assert result.sealed_now >= 3
    assert not AuditEvent.objects.filter(seal__isnull=True).exists()
    # The walk's planner settings do not outlive it in the caller's transaction.
    assert _planner_settings() == planner


def test_an_event_changed_behind_the_triggers_is_found_by_its_seq(in_mitaka: City) -> None:
    events = record_events(10)
    audit_seal()
    target = events[6]
    as_superuser(
        "mitaka", "ledgers_auditevent",
        "UPDATE mitaka.ledgers_auditevent SET details = %s WHERE seq = %s",
        [json.dumps({"i": 6, "screen": "別の画面"}), target.seq],
    )  # fmt: skip
    result = audit_verify()
    assert not result.ok
    assert result.code == "event_changed"
    assert result.seq == target.seq
    assert f"#{target.seq}" in result.reason


@pytest.mark.parametrize(
    ("statement", "value"),
    [
        ("UPDATE mitaka.ledgers_auditevent SET at = %s WHERE seq = %s", "2020-01-01T00:00:00Z"),
        ("UPDATE mitaka.ledgers_auditevent SET actor_id = %s WHERE seq = %s", 999),
        ("UPDATE mitaka.ledgers_auditevent SET action = %s WHERE seq = %s", "record.update"),
        ("UPDATE mitaka.ledgers_auditevent SET ledger_code = %s WHERE seq = %s", "other"),
        ("UPDATE mitaka.ledgers_auditevent SET record_id = %s WHERE seq = %s", uuid.UUID(int=1)),
        ("UPDATE mitaka.ledgers_auditevent SET generation = %s WHERE seq = %s", 7),
    ],
    ids=["at", "actor_id", "action", "ledger_code", "record_id", "generation"],
)
def test_every_column_is_covered_by_the_hash(in_mitaka: City, statement: str, value: Any) -> None:
    events = record_events(3)
    audit_seal()
    as_superuser("mitaka", "ledgers_auditevent", statement, [value, events[1].seq])
    result = audit_verify()
    assert (result.code, result.seq) == ("event_changed", events[1].seq)


def test_a_deleted_event_is_named(in_mitaka: City) -> None:
    events = record_events(5)
    audit_seal()
    as_superuser(
        "mitaka",
        "ledgers_auditevent",
        "DELETE FROM mitaka.ledgers_auditevent WHERE seq = %s",
        [events[2].seq],
    )
    result = audit_verify()
    assert (result.ok, result.code, result.seq) == (False, "event_missing", events[2].seq)


def test_a_deleted_seal_in_the_middle_is_named(in_mitaka: City) -> None:
    events = record_events(5)
    audit_seal()
    as_superuser(
        "mitaka",
        "ledgers_auditseal",
        "DELETE FROM mitaka.ledgers_auditseal WHERE seq = %s",
        [events[2].seq],
    )
    result = audit_verify()
    # The event itself is sealed again at the end; the hole in the chain is what breaks.
    assert (result.ok, result.code, result.seq) == (False, "seal_missing", events[3].seq)
    assert result.position == AuditSeal.objects.get(event_id=events[3].seq).n - 1


def test_a_rewritten_seal_is_found_through_the_next_link(in_mitaka: City) -> None:
    events = record_events(4)
    audit_seal()
    as_superuser(
        "mitaka", "ledgers_auditseal", "UPDATE mitaka.ledgers_auditseal SET hash = %s WHERE seq = %s",
        [b"\x00" * 32, events[1].seq],
    )  # fmt: skip
    result = audit_verify()
    assert (result.code, result.seq) == ("event_changed", events[1].seq)


def test_a_rewritten_whole_chain_is_found_through_the_public_anchor(in_mitaka: City) -> None:
    events = record_events(6)
    anchor = audit_anchor()
    record_events(2)
    rewrite_whole_chain(events[1])
    # Internally consistent again (every link checks out): only the anchor can tell.
    assert len(_reference_chain("mitaka")) == AuditSeal.objects.count()
    result = audit_verify()
    assert not result.ok
    assert result.code == "anchor_mismatch"
    assert result.position == anchor.position
    assert result.seq == AuditSeal.objects.get(n=anchor.position).event_id


def test_the_storage_anchor_finds_a_rewrite_when_public_anchors_were_removed_too(
    in_mitaka: City,
) -> None:
    events = record_events(6)
    anchor = audit_anchor()
    assert (
        anchor.storage_name
        == f"anchors/mitaka/{datetime.now(ZoneInfo('Asia/Tokyo')):%Y-%m-%d}.json"
    )
    rewrite_whole_chain(events[0])
    with schema_context("public"):
        as_superuser("public", "tenants_auditanchor", "DELETE FROM public.tenants_auditanchor")
    result = audit_verify()
    assert (result.ok, result.code, result.position) == (False, "anchor_mismatch", anchor.position)
    assert anchor.storage_name in result.reason


def test_a_chain_cut_short_behind_an_anchor_is_found(in_mitaka: City) -> None:
    events = record_events(5)
    anchor = audit_anchor()
    last = events[-2:]
    seqs = [e.seq for e in last]
    as_superuser(
        "mitaka",
        "ledgers_auditseal",
        "DELETE FROM mitaka.ledgers_auditseal WHERE seq = ANY(%s)",
        [seqs],
    )
    as_superuser(
        "mitaka",
        "ledgers_auditevent",
        "DELETE FROM mitaka.ledgers_auditevent WHERE seq = ANY(%s)",
        [seqs],
    )
    result = audit_verify()
    assert (result.ok, result.code) == (False, "anchor_beyond_chain")
    assert (result.position, result.seq) == (anchor.position, events[-1].seq)


def test_resealing_unchanged_events_after_their_seals_were_dropped_is_not_a_break(
    in_mitaka: City,
) -> None:
    # The chain is a function of the events: dropped seals come back identical.
    events = record_events(4)
    audit_anchor()
    seqs = [e.seq for e in events[-2:]]
    as_superuser(
        "mitaka",
        "ledgers_auditseal",
        "DELETE FROM mitaka.ledgers_auditseal WHERE seq = ANY(%s)",
        [seqs],
    )
    assert audit_verify().ok


def test_an_anchor_records_the_head_and_matches_verify(
    in_mitaka: City, anchor_storage: Any
) -> None:
    record_events(3)
    anchor = audit_anchor()
    result = audit_verify()
    assert result.ok
    assert (anchor.position, anchor.sealed_events) == (result.events, result.events)
    assert anchor.head_hash == result.head_hash
    stored = json.loads((anchor_storage / "public" / anchor.storage_name).read_text())
    assert stored["head_hash"] == anchor.head_hash
    assert stored["position"] == anchor.position
    assert stored["genesis"] == genesis("mitaka").hex()
    # A second anchor the same day is kept in public; the day's file is never replaced.
    record_events(1)
    again = audit_anchor()
    assert again.storage_name == ""
    assert json.loads((anchor_storage / "public" / anchor.storage_name).read_text()) == stored
    assert audit_verify().anchors_checked == 3


def test_rolled_back_events_leave_gaps_that_do_not_break_the_chain(in_mitaka: City) -> None:
    record_events(2)
    with transaction.atomic():
        record_events(3)
        transaction.set_rollback(True)
    record_events(2)
    assert audit_seal() >= 4
    assert audit_verify().ok


def test_a_long_run_of_missing_seq_values_is_crossed(in_mitaka: City) -> None:
    record_events(2)
    # The sequence moved on by 5,000,000 (as its owner can; an INSERT may not name a seq).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('ledgers_auditevent', 'seq'), %s)",
            [AuditEvent.objects.latest("seq").seq + 5_000_000],
        )
    far = audit_record(actor=None, action="x")
    assert audit_seal() >= 3
    assert AuditSeal.objects.filter(event_id=far.seq).exists()
    assert audit_verify().ok


@pytest.fixture
def late_writer() -> Any:
    """A second session whose committed event is removed after the test's rollback.

    Requested before ``in_mitaka``, so its teardown runs after the test transaction ended
    (the test's seals no longer hold the event). Removal bypasses the triggers the way a
    superuser can (``session_replication_role``): the test database is shared.
    """
    from tests.ledgers.audit.conftest import second_connection

    conn = second_connection()
    written: list[int] = []
    yield conn, written
    conn.rollback()
    if written:
        with conn.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("DELETE FROM mitaka.ledgers_auditevent WHERE seq = ANY(%s)", [written])
        conn.commit()
    conn.close()


def _insert_uncommitted(conn: Any, written: list[int]) -> int:
    with conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO mitaka.ledgers_auditevent (action, ledger_code, details) VALUES"
            " ('record.view', 'subsidy', '{\"late\": true}') RETURNING seq"
        )
        (seq,) = cursor.fetchone()
    written.append(seq)
    return seq


def test_an_event_committed_after_a_later_one_was_sealed_takes_the_next_position(
    late_writer: Any, in_mitaka: City
) -> None:
    conn, written = late_writer
    late = _insert_uncommitted(conn, written)  # takes its seq, stays open
    (early,) = record_events(1)
    assert late < early.seq
    audit_seal()
    assert not AuditSeal.objects.filter(event_id=late).exists()
    conn.commit()
    assert audit_seal() == 1
    late_seal = AuditSeal.objects.get(event_id=late)
    assert late_seal.n == AuditSeal.objects.get(event_id=early.seq).n + 1
    assert audit_verify().ok


def test_a_windowed_pass_leaves_a_long_open_event_to_the_full_pass(
    late_writer: Any, in_mitaka: City
) -> None:
    conn, written = late_writer
    late = _insert_uncommitted(conn, written)
    record_events(1)
    audit_seal()
    conn.commit()
    # Its transaction outlived the settle window (zero here): windowed passes skip it...
    assert audit_seal(settle=timedelta(0)) == 0
    # ... and verify (like the daily anchor) seals everything that is pending.
    result = audit_verify()
    assert result.ok
    assert result.sealed_now == 1
    assert AuditSeal.objects.filter(event_id=late).exists()


def test_one_sealing_pass_at_a_time_per_city(late_writer: Any, in_mitaka: City) -> None:
    from ledgers.audit.services import _lock_key

    conn, _written = late_writer
    record_events(2)
    with connection.cursor() as cursor:
        key = _lock_key(cursor, "mitaka")
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])  # a pass running elsewhere
    assert audit_seal(wait=False) == 0
    with schema_context("musashino"):
        record_events(1)
        assert audit_seal(wait=False) == 1  # other cities do not wait
    conn.rollback()
    assert audit_seal(wait=False) >= 2


def test_cities_have_separate_events_and_chains(mitaka: City, musashino: City) -> None:
    with schema_context("mitaka"):
        record_events(3, secret="三鷹の検索語")
        audit_seal()
        mitaka_head = audit_verify().head_hash
    with schema_context("musashino"):
        assert not AuditEvent.objects.filter(details__secret="三鷹の検索語").exists()
        record_events(1)
        result = audit_verify()
        assert result.ok
        assert result.head_hash != mitaka_head
        first = AuditSeal.objects.order_by("n").first()
        assert first is not None
        assert bytes(first.prev_hash) == genesis("musashino")
    assert genesis("mitaka") != genesis("musashino")


def test_audit_record_returns_the_row_it_wrote(in_mitaka: City, clerk: Any) -> None:
    record_id = uuid.uuid4()
    event = audit_record(
        actor=clerk, action="record.view", ledger_code="subsidy", record_id=record_id,
        generation=3, details={"screen": "詳細"},
    )  # fmt: skip
    stored = AuditEvent.objects.get(seq=event.seq)
    assert (stored.at, stored.actor_id, stored.record_id, stored.generation, stored.details) == (
        event.at,
        clerk.pk,
        record_id,
        3,
        {"screen": "詳細"},
    )
    assert event.at.tzinfo is not None
    assert not event._state.adding


def test_audit_record_many_writes_every_entry_with_copy(in_mitaka: City, clerk: Any) -> None:
    record_id = uuid.uuid4()
    entries = [
        AuditEntry(action="record.export", ledger_code="subsidy", record_id=record_id,
                   generation=2, details={"format": "csv", "件数": i})
        for i in range(5)
    ]  # fmt: skip
    assert audit_record_many(actor=clerk, entries=entries) == 5
    written = list(AuditEvent.objects.filter(record_id=record_id).order_by("seq"))
    assert [e.details for e in written] == [{"format": "csv", "件数": i} for i in range(5)]
    assert {(e.actor_id, e.generation, e.action) for e in written} == {
        (clerk.pk, 2, "record.export")
    }
    audit_seal()
    assert audit_verify().ok


_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | _text
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    at=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=st.sampled_from([UTC, ZoneInfo("Asia/Tokyo")])),
    actor_id=st.none() | st.integers(1, 2**63 - 1),
    action=_text.filter(bool), ledger_code=_text, record_id=st.none() | st.uuids(),
    generation=st.none() | st.integers(0, 2**31 - 1), details=st.dictionaries(_text, _json),
)  # fmt: skip
def test_the_database_renders_the_canonical_form_exactly_as_the_reference(
    in_mitaka: City, at: datetime, actor_id: int | None, action: str, ledger_code: str,
    record_id: uuid.UUID | None, generation: int | None, details: Any,
) -> None:  # fmt: skip
    with transaction.atomic(), dated_by_hand():
        event = AuditEvent.objects.create(
            at=at, actor_id=actor_id, action=action, ledger_code=ledger_code,
            record_id=record_id, generation=generation, details=details,
        )  # fmt: skip
    event.refresh_from_db()
    with connection.cursor() as cursor:
        query = sql.SQL("SELECT {} FROM ledgers_auditevent AS e WHERE e.seq = %s")
        cursor.execute(query.format(sql.SQL(CANONICAL_COLUMNS_SQL)).as_string(), [event.seq])
        head, text, tail = cursor.fetchone()
    fast = canonical_from_parts(head, text, tail, details_canonicaliser())
    reference = canonical_event(
        seq=event.seq, at=event.at, actor_id=event.actor_id, action=event.action,
        ledger_code=event.ledger_code, record_id=event.record_id, generation=event.generation,
        details=event.details,
    )  # fmt: skip
    assert fast == reference
    assert json.loads(fast)["at:timestamptz"] == at.astimezone(UTC).isoformat(
        timespec="microseconds"
    )


def test_the_canonical_form_is_sorted_typed_compact_utf8() -> None:
    canonical = canonical_event(
        seq=12, at=datetime(2026, 11, 28, 10, 0, 0, 5, tzinfo=ZoneInfo("Asia/Tokyo")),
        actor_id=None, action="record.view", ledger_code="subsidy",
        record_id=uuid.UUID("12345678-1234-5678-1234-567812345678"), generation=None,
        details={"terms": "山田", "a": [1, 2.5]},
    )  # fmt: skip
    assert (
        canonical
        == (
            '{"action:text":"record.view","actor_id:int8":null,'
            '"at:timestamptz":"2026-11-28T01:00:00.000005+00:00",'
            '"details:jsonb":{"a":[1,2.5],"terms":"山田"},"generation:int4":null,'
            '"ledger_code:text":"subsidy","record_id:uuid":"12345678-1234-5678-1234-567812345678",'
            '"seq:int8":12}'
        ).encode()
    )


def test_sealing_is_refused_on_public(db: None) -> None:
    from tenants.exceptions import TenantRequired

    with pytest.raises(TenantRequired):
        audit_seal()
    with pytest.raises(TenantRequired):
        audit_record(actor=None, action="x")


def test_sealing_and_verifying_keep_no_memory_per_distinct_long_details(in_mitaka: City) -> None:
    """Searches and lists name their results (kilobytes of ids each, nearly all distinct):
    only short details are remembered, so a pass's memory does not grow with the trail."""
    import tracemalloc

    from ledgers.audit.services import AuditEntry, audit_record_many

    audit_record_many(
        actor=None,
        entries=[
            AuditEntry(
                action="search.run",
                ledger_code="dv",
                details={
                    "screen": "latest",
                    "page": 1,
                    "results": [str(uuid.UUID(int=i * 1000 + j)) for j in range(1000)],
                },
            )
            for i in range(400)
        ],
    )
    peaks = []
    for work in (lambda: audit_seal(full=True), audit_verify):
        tracemalloc.start()
        try:
            work()
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        finally:
            tracemalloc.stop()
    assert max(peaks) < 10, peaks  # remembered, 400 of them held 30–40 MB


@pytest.mark.parametrize(
    "moved_to",
    [
        pytest.param("{at} BC", id="the-same-moment-before-christ"),
        pytest.param("infinity", id="infinity"),
        pytest.param("-infinity", id="minus-infinity"),
    ],
)
def test_an_event_moved_out_of_every_period_is_found_as_changed(
    in_mitaka: City, moved_to: str
) -> None:
    """The chain rendered an event's time as ``YYYY-MM-DD…`` without the era: the tables'
    owner could move a sealed event to the same moment 2,026 years before Christ, which
    hashed alike, so verify said OK while every period filter (``at >= …``, the audit
    reports') had lost the event: the trace of who looked a DV victim up, gone from every
    report and still "intact". ``infinity`` rendered as NULL, reported as a deleted event."""
    events = record_events(3)
    audit_seal()
    target = events[1]
    moment = target.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    as_superuser(
        "mitaka", "ledgers_auditevent",
        "UPDATE mitaka.ledgers_auditevent SET at = %s::timestamptz WHERE seq = %s",
        [moved_to.format(at=moment), target.seq],
    )  # fmt: skip
    assert not audit_events_in_period(target)
    result = audit_verify()
    assert (result.ok, result.code, result.seq) == (False, "event_changed", target.seq)


def audit_events_in_period(event: AuditEvent) -> bool:
    """Whether the event is still found by a period that holds its original time."""
    from ledgers.audit.selectors import audit_events

    start = event.at - timedelta(minutes=1)
    return (
        audit_events(at_from=start, at_to=start + timedelta(minutes=2))
        .filter(seq=event.seq)
        .exists()
    )


@pytest.mark.parametrize(
    "moved_to",
    [
        pytest.param("2026-11-30 00:00:00+00 BC", id="before-christ"),
        pytest.param("-infinity", id="minus-infinity"),
    ],
)
def test_an_event_dated_out_of_every_period_after_an_anchor_is_backdated(
    in_mitaka: City, moved_to: str
) -> None:
    """An event planted after an anchor with a time before Christ (or -infinity) is dated
    before that anchor, whatever its text looks like to a comparison of digits."""
    record_events(2)
    audit_anchor()
    with dated_by_hand(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledgers_auditevent (at, action, ledger_code, details)"
            " VALUES (%s::timestamptz, 'record.view', 'dv', '{}') RETURNING seq",
            [moved_to],
        )
        (planted,) = cursor.fetchone()
    result = audit_verify()
    assert (result.ok, result.code, result.seq) == (False, "event_backdated", planted)


@pytest.mark.parametrize(
    "details",
    [
        pytest.param('{"n": 1e5000}', id="a-number-of-5001-digits"),
        pytest.param('{"n": -1e5000, "m": 1e-5000}', id="and-its-negative-and-tiny-kin"),
        pytest.param("[" * 3000 + "]" * 3000, id="nested-3000-deep"),
        pytest.param(
            '{"a": ' + "[" * 3000 + '"x", 1.50' + "]" * 3000 + "}", id="nested-in-an-object"
        ),
    ],
)
def test_details_python_cannot_read_are_sealed_and_verified_not_a_crash(
    in_mitaka: City, details: str
) -> None:
    """Sealing parsed each event's ``details`` with Python's json, which stops at a number of
    more than 4,300 digits and at about a thousand levels of nesting, where jsonb holds far
    more. One ordinary INSERT of such an event (the insert guard checks only its number and
    time: any role allowed to insert) made every sealing pass of the city fail on it, for
    ever: nothing after it was sealed or anchored, and verify answered a server error, so
    every later event could be rewritten unseen. Now it is sealed like any other, and a
    change to it is found."""
    record_events(2)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledgers_auditevent (action, ledger_code, details)"
            " VALUES ('record.view', 'dv', %s::jsonb) RETURNING seq",
            [details],
        )
        (planted,) = cursor.fetchone()
    record_events(2)
    assert audit_seal() == 5
    assert AuditSeal.objects.filter(event_id=planted).exists()
    assert audit_verify().ok
    as_superuser(
        "mitaka", "ledgers_auditevent",
        "UPDATE mitaka.ledgers_auditevent SET details = %s::jsonb WHERE seq = %s",
        [details.replace("1", "2").replace("[]", '["y"]'), planted],
    )  # fmt: skip
    result = audit_verify()
    assert (result.ok, result.code, result.seq) == (False, "event_changed", planted)


@settings(max_examples=200, deadline=None)
@given(details=_json)
def test_the_canonicaliser_s_own_reading_agrees_with_python_s_json(details: Any) -> None:
    """What Python's json can read, the canonicaliser's own reader (for what it cannot)
    writes byte for byte alike: in PostgreSQL's spelling of jsonb and in any other."""
    from ledgers.audit.chain import _canonical_json_text

    for text in (
        json.dumps(details, ensure_ascii=False),
        json.dumps(details, indent=1),
        json.dumps(details, separators=(",", ":")),
    ):
        assert _canonical_json_text(text) == canonical_details(text)


def canonical_details(text: str) -> str:
    return json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode(
        json.loads(text)
    )
