"""Record writes with history, search keys and audit: single service calls and the bulk path.

Creates a throw-away database ``daicho_bench`` on the server of ``DATABASE_URL`` (or the
embedded PostgreSQL), provisions one city, defines a ledger of eight fields and writes
``--records`` records with three generations each, twice:

- single: ``record_create`` then two ``record_update`` per record, one transaction each,
  from ``--workers`` processes at once (each its own connection, as web workers are; one
  process leaves a core idle while it waits for the database, so the default is two);
- bulk: ``record_bulk_create`` then two ``record_bulk_update`` rounds, in batches of
  ``--batch`` (one transaction each), first from one process, then from ``--workers``
  processes at once (two imports running together: one process alone leaves a core idle
  while PostgreSQL indexes the batch it has sent).

Beside each figure it prints the floor measured on the same server: COPY of the same rows
with nothing else (the physical floor of the bulk path) and one INSERT per transaction
(the floor of the single path); after them, what limits each path, from what its phases
measured: the CPU seconds of the worker processes and of their PostgreSQL backends per
record, and whether the cores were busy (the CPU limits it) or idle (waiting does).

    python bench/records.py [--records 100000] [--single-records N] [--workers 2]
                            [--batch 1000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.common import (  # noqa: E402
    bench_city,
    bench_database,
    copy_floor,
    drop_database,
    machine_speed,
)

BENCH_DB = "daicho_bench"

SURNAMES = [
    "佐藤",
    "鈴木",
    "髙橋",
    "田中",
    "伊藤",
    "渡邊",
    "山本",
    "中村",
    "小林",
    "齋藤",
    "山﨑",
    "濱田",
]
GIVEN = ["花子", "太郎", "一郎", "美咲", "陽菜", "蓮", "結衣", "大翔", "さくら", "翔太"]
FIELDS = [
    {"key": "name", "label": "氏名", "type": "text", "required": True, "sensitivity": "personal"},
    {"key": "kana", "label": "カナ氏名", "type": "text", "sensitivity": "personal"},
    {"key": "birth_date", "label": "生年月日", "type": "date", "sensitivity": "personal"},
    {"key": "address", "label": "住所", "type": "text", "sensitivity": "special_care"},
    {"key": "phone", "label": "電話番号", "type": "phone", "sensitivity": "personal"},
    {"key": "amount", "label": "交付額", "type": "integer"},
    {"key": "status", "label": "状況", "type": "text"},
    {"key": "note", "label": "備考", "type": "long_text"},
]


def _person(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "name": f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
        "kana": "ヤマダ ハナコ",
        "birth_date": f"昭和{rng.randint(30, 63)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
        "address": f"東京都三鷹市下連雀{rng.randint(1, 9)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号",
        "phone": f"0422-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        "amount": rng.randint(1, 300) * 1000,
        "status": "申請受付",
        "note": f"整理番号 {i}",
    }


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


class _Cpu:
    """Marks of the CPU seconds of this process and of its PostgreSQL backend (found by
    pid: the database on this host; ``None`` otherwise), and of the machine's idle and
    total time: what a phase cost in Python and in PostgreSQL, and whether the cores were
    busy (the limit is the CPU) or idle (the limit is waiting)."""

    def __init__(self, connection: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        self.me = psutil.Process()
        try:
            self.backend: psutil.Process | None = psutil.Process(pid)
            self.backend.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            self.backend = None

    def mark(self) -> tuple[float, float, float | None, float, float]:
        """(wall time, this process's CPU, its backend's CPU or ``None``, the machine's
        idle and total time), seconds."""
        me = self.me.cpu_times()
        backend = self.backend.cpu_times() if self.backend else None
        machine = psutil.cpu_times()
        return (
            time.perf_counter(),
            me.user + me.system,
            backend.user + backend.system if backend else None,
            machine.idle + getattr(machine, "iowait", 0.0),
            sum(machine),
        )


def _single_worker(people: list[dict[str, Any]], barrier: Any, out: Any) -> None:
    """One process: its share of records, created then updated twice, one transaction
    each; the phases start together across processes (the barrier)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import schema_context

    from ledgers.access.policy import policy_for
    from ledgers.definitions.models import Ledger
    from ledgers.records.services import record_create, record_update

    with schema_context("bench"):
        actor = get_user_model().objects.get(username="admin")
        ledger = Ledger.objects.get(code="single")
        policy = policy_for(actor, ledger)
        cpu = _Cpu(connection)
        barrier.wait()
        marks = [cpu.mark()]
        records = [
            record_create(actor=actor, ledger=ledger, values=person, policy=policy)
            for person in people
        ]
        marks.append(cpu.mark())
        barrier.wait()
        marks.append(cpu.mark())
        for round_ in (1, 2):
            for i, record in enumerate(records):
                records[i] = record_update(
                    actor=actor, record=record, expected_generation=round_, policy=policy,
                    values={"status": "審査中" if round_ == 1 else "交付決定", "amount": people[i]["amount"] + round_},
                )  # fmt: skip
        out.put([*marks, cpu.mark()])
    connection.close()


def _bulk_worker(
    people: list[dict[str, Any]], barrier: Any, out: Any, *, code: str, batch: int
) -> None:
    """One process: its share created in batches, then updated twice in batches."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import schema_context

    from ledgers.access.policy import policy_for
    from ledgers.definitions.models import Ledger
    from ledgers.records.services import record_bulk_create, record_bulk_update

    with schema_context("bench"):
        actor = get_user_model().objects.get(username="admin")
        ledger = Ledger.objects.get(code=code)
        policy = policy_for(actor, ledger)  # as a request does: once, for every call
        ids: list[uuid.UUID] = []
        cpu = _Cpu(connection)
        barrier.wait()
        marks = [cpu.mark()]
        for start in range(0, len(people), batch):
            created = record_bulk_create(
                actor=actor, ledger=ledger, values_list=people[start : start + batch], policy=policy
            )
            ids.extend(record_id for record_id, _ in created)
        marks.append(cpu.mark())
        barrier.wait()
        marks.append(cpu.mark())
        for round_ in (1, 2):
            for start in range(0, len(people), batch):
                changes = [
                    (ids[i], round_, {"status": "審査中" if round_ == 1 else "交付決定",
                                      "amount": people[i]["amount"] + round_})
                    for i in range(start, min(start + batch, len(people)))
                ]  # fmt: skip
                record_bulk_update(actor=actor, ledger=ledger, changes=changes, policy=policy)
        out.put([*marks, cpu.mark()])
    connection.close()


def _in_processes(
    target: Any, workers: int, people: list[dict[str, Any]], **kwargs: Any
) -> tuple[float, float]:
    """Run ``target`` over ``workers`` shares of ``people`` at once, each process with its
    own connection. Seconds for the creates and for the updates, all processes together
    (first start to last finish of each phase)."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # each process opens its own
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(target=target, args=(people[i::workers], barrier, out), kwargs=kwargs)
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    spans = [out.get() for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a worker process failed (exit code {process.exitcode})")
    # Each process's marks: the start and end of its creates, then of its updates.
    create_s = max(m[1][0] for m in spans) - min(m[0][0] for m in spans)
    update_s = max(m[3][0] for m in spans) - min(m[2][0] for m in spans)
    cpu: dict[str, dict[str, float | None]] = {}
    for phase, (first, last) in (("create", (0, 1)), ("update", (2, 3))):
        python = sum(m[last][1] - m[first][1] for m in spans)
        backends = [m[last][2] - m[first][2] for m in spans if m[first][2] is not None]
        # The machine's idle share over the phase, seen by the first process.
        marks = spans[0]
        idle = (marks[last][3] - marks[first][3]) / max(marks[last][4] - marks[first][4], 1e-9)
        cpu[phase] = {
            "python_s": python,
            "postgres_s": sum(backends) if len(backends) == len(spans) else None,
            "idle_pct": round(100 * idle, 1),
        }
    return create_s, update_s, cpu


def _figures(
    records: int, create_s: float, update_s: float, cpu: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    per_unit = {"create": records, "update": 2 * records}

    def micros(seconds: float | None, phase: str) -> float | None:
        return None if seconds is None else round(seconds / per_unit[phase] * 1e6, 1)

    return {
        "records": records,
        **extra,
        "create_records_per_s": round(records / create_s),
        "update_versions_per_s": round(2 * records / update_s),
        "versions_per_s_overall": round(3 * records / (create_s + update_s)),
        # CPU per record created / per version of the updates, and the machine's idle share.
        "cpu_us": {
            phase: {
                "python": micros(c["python_s"], phase),
                "postgres": micros(c["postgres_s"], phase),
                "idle_pct": c["idle_pct"],
            }
            for phase, c in cpu.items()
        },
    }


def _limit(figures: dict[str, Any], phase: str) -> str:
    """What limits a phase, from what it measured: busy cores mean the CPU (Python and
    PostgreSQL per record, beside it), idle ones mean waiting (round trips, commits)."""
    c = figures["cpu_us"][phase]
    spent = f"Python {c['python']} µs"
    if c["postgres"] is not None:
        spent += f" + PostgreSQL {c['postgres']} µs"
    unit = "record" if phase == "create" else "version"
    if c["idle_pct"] < 10:
        return f"CPU: both cores busy (idle {c['idle_pct']} %); {spent} of CPU per {unit}"
    return (
        f"waiting, not CPU: cores {c['idle_pct']} % idle (each process waits for its round"
        f" trips and commits, and its Python and its PostgreSQL backend take turns); {spent}"
        f" of CPU per {unit}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument(
        "--single-records",
        type=int,
        default=None,
        help="records for the single path (default: --records)",
    )
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--workers", type=int, default=2, help="processes at once (single and bulk paths)"
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    single_n = args.single_records or args.records

    admin_url = bench_database(BENCH_DB)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django_tenants.utils import schema_context

    from daicho.accounts.models import Department, Membership, Role
    from ledgers.definitions.services import ledger_create

    bench_city()
    rng = random.Random(20261128)
    results: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    results["speed_before"] = machine_speed(os.environ["DATABASE_URL"])

    with schema_context("bench"):
        actor = get_user_model().objects.get(username="admin")
        department = Department.objects.create(code="kankyo", name="環境政策課")
        Membership.objects.create(
            user=actor, department=department, role=Role.LEDGER_ADMIN, valid_from=date(2020, 4, 1)
        )
        for code, name in [("single", "単件"), ("bulk1", "一括1"), ("bulk", "一括")]:
            ledger_create(actor=actor, code=code, name=name, fields=FIELDS)
    people = [_person(rng, i) for i in range(max(single_n, args.records))]

    # --- single-record service calls ------------------------------------------------
    create_s, update_s, cpu = _in_processes(_single_worker, args.workers, people[:single_n])
    results["single"] = _figures(single_n, create_s, update_s, cpu, workers=args.workers)
    print(
        f"single ({args.workers} workers): create {_rate(single_n, create_s)},"
        f" update {_rate(2 * single_n, update_s)} ({single_n} records × 3 generations)",
        file=sys.stderr,
    )

    # --- set-based bulk path: one process, then --workers at once -----------------------
    for key, code, workers in [("bulk_1", "bulk1", 1), ("bulk", "bulk", args.workers)]:
        create_s, update_s, cpu = _in_processes(
            _bulk_worker, workers, people[: args.records], code=code, batch=args.batch
        )
        results[key] = _figures(
            args.records, create_s, update_s, cpu, batch=args.batch, workers=workers
        )
        print(
            f"bulk ({workers} workers): create {_rate(args.records, create_s)},"
            f" update {_rate(2 * args.records, update_s)}",
            file=sys.stderr,
        )

    # --- floors on the same server --------------------------------------------------
    with schema_context("bench"):
        payload = [json.dumps(p, ensure_ascii=False) for p in people[: args.records]]
        copy_rows_per_s = copy_floor(os.environ["DATABASE_URL"], payload)
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE floor_insert (id uuid, data jsonb)")
        floor_n = min(single_n, 20_000)
        started = time.perf_counter()
        for row in payload[:floor_n]:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("INSERT INTO floor_insert VALUES (%s, %s)", [uuid.uuid4(), row])
        insert_s = time.perf_counter() - started
        results["floor"] = {
            "copy_rows_per_s": copy_rows_per_s,
            "insert_one_per_transaction_per_s": round(floor_n / insert_s),
        }

    results["speed_after"] = machine_speed(os.environ["DATABASE_URL"])
    print(json.dumps(results, ensure_ascii=False))
    floor = results["floor"]
    print(f"\nMachine: {results['machine']}, Python {platform.python_version()}")
    print(
        f"Machine speed (bench/common.py, ms, lower is faster): before {results['speed_before']}, after {results['speed_after']}\n"
    )
    print(
        "| path | records | records/s (create) | versions/s (update) | versions/s (all 3 generations) | floor |"
    )
    print("|---|---:|---:|---:|---:|---|")
    rows = [
        ("single", f"single service calls, 1 transaction each, {args.workers} processes",
         f"{floor['insert_one_per_transaction_per_s']:,} bare INSERTs/s, one per transaction, 1 process"),
        ("bulk_1", f"bulk (COPY), batches of {args.batch}, 1 process",
         f"{floor['copy_rows_per_s']:,} rows/s by COPY of the values alone"),
        ("bulk", f"bulk (COPY), batches of {args.batch}, {args.workers} processes", "same"),
    ]  # fmt: skip
    for key, label, floor_text in rows:
        r = results[key]
        print(
            f"| {label} | {r['records']:,} | {r['create_records_per_s']:,} |"
            f" {r['update_versions_per_s']:,} | {r['versions_per_s_overall']:,} | {floor_text} |"
        )
    print("\nWhat limits each path (measured over its phases):")
    for key, label, _floor in rows:
        for phase in ("create", "update"):
            print(f"- {label}, {phase}: {_limit(results[key], phase)}")

    connection.close()
    if not args.keep:
        drop_database(admin_url, BENCH_DB)


if __name__ == "__main__":
    main()
