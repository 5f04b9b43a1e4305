"""The audit trail: what an event costs a write and a read, and sealing/verifying the chain.

Creates a throw-away database ``daicho_bench_audit`` on the server of ``DATABASE_URL`` (or
the embedded PostgreSQL), provisions one city and measures:

- per event: ``audit_record`` one per transaction against a bare INSERT of the same row
  shape into a table with nothing else on it; ``audit_record`` inside a transaction that
  is open anyway (what a record write adds); ``audit_record_many`` (COPY) against a bare
  COPY; and a record read with and without its audit event;
- the chain: ``--events`` events (default 1,000,000) written with COPY, then the first
  ``audit_seal`` over all of them, an incremental pass, ``audit_verify`` and
  ``audit_anchor``; then ``audit_verify`` again with ``--anchor-files`` daily anchor files
  in storage (default 3,650: ten years; verify reads and compares every one), copies of
  the anchor's file under earlier dates.

    python bench/audit.py [--events 1000000] [--single 5000] [--anchor-files 3650] [--keep]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.common import bench_city, bench_database, drop_database  # noqa: E402

BENCH_DB = "daicho_bench_audit"

FIELDS = [
    {"key": "name", "label": "氏名", "type": "text", "required": True, "sensitivity": "personal"},
    {"key": "amount", "label": "交付額", "type": "integer"},
]
SURNAMES = ["佐藤", "鈴木", "髙橋", "田中", "伊藤", "渡邊", "山本", "中村", "小林", "齋藤"]


def _details(rng: random.Random, i: int) -> str:
    """A realistic mix: most details repeat (bulk, changed fields), some are unique (searches)."""
    roll = rng.random()
    if roll < 0.3:
        value: dict[str, Any] = {}
    elif roll < 0.6:
        value = {"bulk": True}
    elif roll < 0.85:
        value = {"fields": rng.choice([["amount"], ["amount", "status"], ["name", "note"]])}
    else:
        value = {"screen": "台帳検索", "terms": f"{rng.choice(SURNAMES)} {i}", "hits": i % 50}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _copy_events(count: int, rng: random.Random, *, actor_id: int) -> float:
    """Write ``count`` events with COPY (realistic columns); returns the seconds it took."""
    from django.db import connection, transaction

    start = datetime(2026, 11, 1, tzinfo=UTC)
    actions = ["record.view", "record.update", "record.create", "search.run", "record.export"]
    started = time.perf_counter()
    batch = 100_000
    for first in range(0, count, batch):
        buffer = io.StringIO()
        for i in range(first, min(first + batch, count)):
            at = (start + timedelta(milliseconds=37 * i)).isoformat()
            record = uuid.UUID(int=rng.getrandbits(128), version=4)
            details = _details(rng, i).replace("\\", "\\\\")
            buffer.write(
                f"{at}\t{actor_id}\t{actions[i % 5]}\tsubsidy\t{record}\t{1 + i % 7}\t{details}\n"
            )
        with transaction.atomic(), connection.cursor() as cursor:
            # Events of given times: the insert guard (migration 0011) set aside, as the
            # table's owner can, for this transaction's COPY only.
            cursor.execute(
                "ALTER TABLE ledgers_auditevent DISABLE TRIGGER ledgers_auditevent_insert_guard"
            )
            with cursor.copy(
                "COPY ledgers_auditevent (at, actor_id, action, ledger_code, record_id,"
                " generation, details) FROM STDIN"
            ) as copy_in:
                copy_in.write(buffer.getvalue())
            cursor.execute(
                "ALTER TABLE ledgers_auditevent ENABLE TRIGGER ledgers_auditevent_insert_guard"
            )
    return time.perf_counter() - started


def _us(seconds: float, count: int) -> float:
    return seconds / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=5000, help="events written one by one")
    parser.add_argument(
        "--anchor-files", type=int, default=3650, help="daily anchor files for the last verify"
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    admin_url = bench_database(BENCH_DB)
    # Anchors go to object storage: a folder of this run, not the project's files.
    files = tempfile.TemporaryDirectory(prefix="daicho-bench-audit-")
    os.environ["STORAGE_BACKEND"] = "local"
    os.environ["FILES_ROOT"] = files.name

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django_tenants.utils import schema_context

    from ledgers.audit.anchor_files import anchor_files
    from ledgers.audit.services import (
        AuditEntry,
        audit_anchor,
        audit_record,
        audit_record_many,
        audit_seal,
        audit_verify,
    )
    from ledgers.definitions.services import ledger_create

    bench_city()
    rng = random.Random(20261129)
    single = args.single
    rows: list[tuple[str, str, str, float]] = []

    with schema_context("bench"):
        actor = get_user_model().objects.get(username="admin")
        ledger_create(actor=actor, code="subsidy", name="補助金", fields=FIELDS)
        # Records to read: a table of the record's shape of our own, so that the read path
        # measured is one indexed lookup, with or without the audit event.
        ids = [uuid.uuid4() for _ in range(1000)]
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE bench_record (id uuid PRIMARY KEY, generation integer, data jsonb)"
            )
            with cursor.copy("COPY bench_record FROM STDIN") as copy_in:
                for i, record_id in enumerate(ids):
                    copy_in.write_row(
                        (
                            record_id,
                            1,
                            json.dumps(
                                {"name": f"{rng.choice(SURNAMES)} 花子", "amount": i},
                                ensure_ascii=False,
                            ),
                        )
                    )
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE bare_event (seq bigserial PRIMARY KEY, at timestamptz NOT NULL"
                " DEFAULT statement_timestamp(), actor_id bigint, action varchar(64) NOT NULL,"
                " ledger_code varchar(64) NOT NULL, record_id uuid, generation integer,"
                " details jsonb NOT NULL)"
            )
        details = {"screen": "台帳詳細", "fields": ["name", "amount"]}
        encoded = json.dumps(details, ensure_ascii=False)

        # --- (a) per event -------------------------------------------------------------
        started = time.perf_counter()
        for i in range(single):
            with transaction.atomic():
                audit_record(actor=actor, action="record.view", ledger_code="subsidy",
                             record_id=ids[i % 1000], generation=1, details=details)  # fmt: skip
        audit_one = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(single):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO bare_event (actor_id, action, ledger_code, record_id, generation,"
                    " details) VALUES (%s, %s, %s, %s, %s, %s)",
                    [actor.pk, "record.view", "subsidy", ids[i % 1000], 1, encoded],
                )
        bare_one = time.perf_counter() - started
        rows.append(("audit_record, one transaction each", f"{single:,}", f"{_us(audit_one, single):.0f}",
                     _us(bare_one, single)))  # fmt: skip

        started = time.perf_counter()
        for first in range(0, single, 100):
            with transaction.atomic():
                for i in range(first, min(first + 100, single)):
                    audit_record(actor=actor, action="record.update", ledger_code="subsidy",
                                 record_id=ids[i % 1000], generation=2, details=details)  # fmt: skip
        audit_in_tx = time.perf_counter() - started
        started = time.perf_counter()
        for first in range(0, single, 100):
            with transaction.atomic(), connection.cursor() as cursor:
                for i in range(first, min(first + 100, single)):
                    cursor.execute(
                        "INSERT INTO bare_event (actor_id, action, ledger_code, record_id,"
                        " generation, details) VALUES (%s, %s, %s, %s, %s, %s)",
                        [actor.pk, "record.update", "subsidy", ids[i % 1000], 2, encoded],
                    )
        bare_in_tx = time.perf_counter() - started
        rows.append(("audit_record inside an open transaction (what a write adds)", f"{single:,}",
                     f"{_us(audit_in_tx, single):.0f}", _us(bare_in_tx, single)))  # fmt: skip

        many = max(single * 10, 50_000)
        entries = [
            AuditEntry(action="record.export", ledger_code="subsidy", record_id=ids[i % 1000],
                       generation=1, details={"format": "csv", "row": i})
            for i in range(many)
        ]  # fmt: skip
        started = time.perf_counter()
        for first in range(0, many, 1000):
            with transaction.atomic():
                audit_record_many(actor=actor, entries=entries[first : first + 1000])
        copy_audit = time.perf_counter() - started
        started = time.perf_counter()
        for first in range(0, many, 1000):
            with (
                transaction.atomic(),
                connection.cursor() as cursor,
                cursor.copy(
                    "COPY bare_event (actor_id, action, ledger_code, record_id, generation, details)"
                    " FROM STDIN"
                ) as copy_in,
            ):
                for i in range(first, min(first + 1000, many)):
                    copy_in.write_row((actor.pk, "record.export", "subsidy", ids[i % 1000], 1,
                                       json.dumps({"format": "csv", "row": i})))  # fmt: skip
        copy_bare = time.perf_counter() - started
        rows.append(("audit_record_many (COPY), 1,000 per transaction", f"{many:,}",
                     f"{_us(copy_audit, many):.1f}", _us(copy_bare, many)))  # fmt: skip

        reads = single
        started = time.perf_counter()
        read_sql = "SELECT id, generation, data FROM bench_record WHERE id = %s"
        for i in range(reads):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(read_sql, [ids[i % 1000]])
                cursor.fetchone()
        read_plain = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(reads):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(read_sql, [ids[i % 1000]])
                record_id, generation, _data = cursor.fetchone()
                audit_record(actor=actor, action="record.view", ledger_code="subsidy",
                             record_id=record_id, generation=generation, details=details)  # fmt: skip
        read_audited = time.perf_counter() - started
        rows.append(("record read + its audit event, one transaction each", f"{reads:,}",
                     f"{_us(read_audited, reads):.0f}", _us(read_plain, reads)))  # fmt: skip
        audit_seal(full=True)  # the events above, so the chain figures start from zero

        # --- (b) the chain ---------------------------------------------------------------
        copy_s = _copy_events(args.events, rng, actor_id=actor.pk)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE ledgers_auditevent")
        started = time.perf_counter()
        sealed = audit_seal()
        seal_s = time.perf_counter() - started
        assert sealed == args.events, (sealed, args.events)
        _copy_events(1000, rng, actor_id=actor.pk)
        started = time.perf_counter()
        # Steady state: the settle window has passed for the million (zero here).
        audit_seal(settle=timedelta(0))
        incremental_s = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE ledgers_auditseal")
    # Verify from outside any transaction, as the command runs it (one snapshot).
    started = time.perf_counter()
    result = audit_verify(schema="bench")
    verify_s = time.perf_counter() - started
    assert result.ok, result
    started = time.perf_counter()
    anchor = audit_anchor(schema="bench")
    anchor_s = time.perf_counter() - started
    started = time.perf_counter()
    result = audit_verify(schema="bench")
    verify_anchored_s = time.perf_counter() - started
    assert result.ok, result
    assert result.anchors_checked == 2, result
    # Ten years of daily files (local disk): copies of the one just written, earlier dates.
    folder = Path(files.name) / "public" / "anchors" / "bench"
    written = folder / Path(anchor.storage_name).name
    for day in range(args.anchor_files - 1):
        (folder / f"{date(2000, 1, 1) + timedelta(days=day):%Y-%m-%d}.json").write_bytes(
            written.read_bytes()
        )
    started = time.perf_counter()
    result = audit_verify(schema="bench")
    verify_files_s = time.perf_counter() - started
    assert result.ok, result
    assert result.anchors_checked == 1 + args.anchor_files, result
    with schema_context("public"):
        started = time.perf_counter()
        assert len(anchor_files("bench")) == args.anchor_files
        files_read_s = time.perf_counter() - started

    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server,) = cursor.fetchone()
    summary = {
        "machine": machine,
        "postgresql": server,
        "per_event_us": {
            label: [count, value, round(floor, 1)] for label, count, value, floor in rows
        },
        "chain": {
            "events": args.events,
            "copy_events_per_s": round(args.events / copy_s),
            "seal_s": round(seal_s, 2),
            "seal_events_per_s": round(sealed / seal_s),
            "incremental_seal_1000_s": round(incremental_s, 3),
            "verify_s": round(verify_s, 2),
            "verify_events_per_s": round(result.events / verify_s),
            "anchor_s": round(anchor_s, 2),
            "verify_with_anchors_s": round(verify_anchored_s, 2),
            "anchor_files": args.anchor_files,
            "verify_with_anchor_files_s": round(verify_files_s, 2),
            "anchor_files_read_s": round(files_read_s, 3),
            "chain_length": result.events,
            "anchor_position": anchor.position,
        },
    }
    print(json.dumps(summary, ensure_ascii=False), file=sys.stderr)
    c = summary["chain"]
    print(f"\nMachine: {machine}, PostgreSQL {server}, Python {platform.python_version()}\n")
    print("| what | events | µs per event | bare floor, µs per row |")
    print("|---|---:|---:|---:|")
    for label, count, value, floor in rows:
        print(f"| {label} | {count} | {value} | {floor:.1f} |")
    print()
    print(f"| chain of {args.events:,} events | seconds | events/s |")
    print("|---|---:|---:|")
    print(
        f"| write them (COPY) | {args.events / c['copy_events_per_s']:.1f} | {c['copy_events_per_s']:,} |"
    )
    print(f"| `audit_seal`, first pass over all | {c['seal_s']:.1f} | {c['seal_events_per_s']:,} |")
    print(f"| `audit_seal`, 1,000 new events on top | {c['incremental_seal_1000_s']:.3f} | |")
    print(
        f"| `audit_verify` (seal pending + recompute all + gaps) | {c['verify_s']:.1f} | {c['verify_events_per_s']:,} |"
    )
    print(f"| `audit_anchor` (full pass + head + public + storage) | {c['anchor_s']:.2f} | |")
    print(f"| `audit_verify` with anchors | {c['verify_with_anchors_s']:.1f} | |")
    print(
        f"| `audit_verify` with {c['anchor_files']:,} anchor files | {c['verify_with_anchor_files_s']:.1f} | |"
    )
    print(f"| listing and reading those files alone | {c['anchor_files_read_s']:.3f} | |")

    connection.close()
    if not args.keep:
        drop_database(admin_url, BENCH_DB)
    files.cleanup()


if __name__ == "__main__":
    main()
