"""Two versions of the API side by side: the server CPU each request costs in each.

These machines' speed drifts by 20–30 % within minutes, which hides a change of a few per
cent between two runs of ``bench/api.py``. This script runs the current tree (B) and a git
revision (A, checked out into a temporary worktree) as two gunicorn servers with one
process each on the same database, sends the same requests to both in alternating blocks,
and prints the CPU seconds each server spent per request, and their ratio, the same for
each server's PostgreSQL backends (same host), and the wall time per request of one
sequential client (what a change that overlaps work rather than removing it shows in).
Drift then touches both alike.

    python bench/ab.py --base HEAD~1 [--kind read|list|bulk|update] [--requests 2000]
                       [--people 5000]

What A runs is the revision's ``ledgers``, ``tenants``, ``template_market`` and ``workers``
(first on ``PYTHONPATH``); ``daicho`` (``platform/``, installed editable) is the current
tree's in both, and the database is migrated by the current tree: compare changes to the
apps' code, not to settings or migrations. With ``--whole`` A runs the revision's own
``daicho`` too (its ``platform/`` linked as ``daicho`` in the worktree, and gunicorn's
default worker class where the revision has no ``daicho.gunicorn_workers``): for comparing
whole releases, as long as the revision's code reads the current schema.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
import psycopg

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench import api  # noqa: E402
from bench.common import drop_database, machine_speed  # noqa: E402

BENCH_DB = "daicho_bench_ab"
PORTS = {"A": 18797, "B": 18798}
BLOCK = {"read": 50, "list": 20, "bulk": 2, "update": 20}


def _cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def _backends(processes: list[psutil.Process], database_url: str) -> list[psutil.Process]:
    """The PostgreSQL backends serving ``processes``' connections (same host)."""
    ports = {
        c.laddr.port
        for process in processes
        for c in process.net_connections(kind="tcp")
        if c.raddr and c.raddr.port == 5432
    }
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s)", [sorted(ports)]
        ).fetchall()
    return [psutil.Process(pid) for (pid,) in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="the git revision to compare with (A)")
    parser.add_argument("--kind", choices=sorted(BLOCK), default="read")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument(
        "--whole", action="store_true", help="A runs the revision's own daicho (platform/) too"
    )
    args = parser.parse_args()

    api.BENCH_DB = BENCH_DB
    admin_url, token = api.prepare()
    bench_url = os.environ["DATABASE_URL"]
    worktree = Path(tempfile.mkdtemp(prefix="daicho-ab-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-f", str(worktree), args.base],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    worker_class = api.WORKER_CLASS
    if args.whole:
        (worktree / "daicho").symlink_to("platform", target_is_directory=True)
        if not (worktree / "platform" / "gunicorn_workers.py").exists():
            worker_class = "sync"
    servers = {
        "A": api.start_server(worktree, PORTS["A"], bench_url, workers=1, threads=1,
                              pythonpath=str(worktree), worker_class=worker_class),
        "B": api.start_server(REPO_ROOT, PORTS["B"], bench_url, workers=1, threads=1),
    }  # fmt: skip
    headers = {"Host": api.HOST, "Authorization": f"Bearer {token}"}
    try:
        clients = {name: api.Client(port, headers) for name, port in PORTS.items()}
        for port in PORTS.values():
            api.wait_until_ready(port)
        records_url = "/api/v1/ledgers/people/records/"
        rng = random.Random(7)
        people = [api.person(rng) for _ in range(args.people)]
        ids: list[str] = []
        for start in range(0, len(people), 100):
            answer, _ = clients["B"].call(
                "POST", records_url + "bulk/", expect=201,
                body={"records": [{"values": p} for p in people[start : start + 100]]},
            )  # fmt: skip
            ids.extend(r["id"] for r in answer["results"])
        with psycopg.connect(bench_url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE) bench.ledgers_record")

        generations: dict[str, int] = {}

        def request(name: str, i: int) -> None:
            client = clients[name]
            if args.kind == "read":
                client.call("GET", f"{records_url}{ids[i % len(ids)]}/")
            elif args.kind == "list":
                term = (api.SURNAMES + api.GIVEN)[i % 20][0]
                client.call("GET", records_url + "?" + urlencode(
                    {"name__contains": term, "page_size": 25, "count": "true"}))  # fmt: skip
            elif args.kind == "update":
                # Each request changes another record (both servers share them), sending
                # the generation it holds, and a value of its own: with the same values, the
                # second server's PATCH of each pair changed nothing (a cheaper no-op, and
                # since session 11 an audited read), so each measured half no-ops.
                record_id = ids[i % len(ids)]
                amount = i * 2 + (name == "B")
                _, got = client.call(
                    "PATCH", f"{records_url}{record_id}/",
                    body={"values": {"status": "審査中", "amount": amount, "note": "確認済み"}},
                    headers={"If-Match": f'"{generations.get(record_id, 1)}"'},
                )  # fmt: skip
                generations[record_id] = int(got["ETag"].strip('"'))
            else:
                own = random.Random(i)  # the same rows to both servers
                batch = [{"values": api.person(own)} for _ in range(100)]
                client.call("POST", records_url + "bulk/", body={"records": batch}, expect=201)

        processes = {
            name: [psutil.Process(s.pid), *psutil.Process(s.pid).children(recursive=True)]
            for name, s in servers.items()
        }
        for i in range(20):  # warm both: caches, prepared statements
            for name in servers:
                request(name, i)
        # Each server's PostgreSQL backends (its connections, open after the warm-up):
        # their CPU is counted apart, so that a change moving work into the database or out
        # of it shows.
        backends = {name: _backends(procs, bench_url) for name, procs in processes.items()}
        spent = dict.fromkeys(servers, 0.0)
        spent_db = dict.fromkeys(servers, 0.0)
        wall = dict.fromkeys(servers, 0.0)
        block = BLOCK[args.kind]
        speed_before = machine_speed(bench_url)
        for start in range(0, args.requests, block):
            order = ["A", "B"] if (start // block) % 2 == 0 else ["B", "A"]
            for name in order:
                before, before_db = _cpu(processes[name]), _cpu(backends[name])
                started = time.perf_counter()
                for i in range(start, start + block):
                    request(name, 1000 + i)
                wall[name] += time.perf_counter() - started
                spent[name] += _cpu(processes[name]) - before
                spent_db[name] += _cpu(backends[name]) - before_db
        result: dict[str, Any] = {
            "kind": args.kind, "requests": args.requests, "base": args.base,
            "a_server_ms": round(spent["A"] * 1000 / args.requests, 3),
            "b_server_ms": round(spent["B"] * 1000 / args.requests, 3),
            "b_over_a": round(spent["B"] / spent["A"], 3),
            "a_db_ms": round(spent_db["A"] * 1000 / args.requests, 3),
            "b_db_ms": round(spent_db["B"] * 1000 / args.requests, 3),
            "b_over_a_db": round(spent_db["B"] / spent_db["A"], 3) if spent_db["A"] else None,
            "a_wall_ms": round(wall["A"] * 1000 / args.requests, 3),
            "b_wall_ms": round(wall["B"] * 1000 / args.requests, 3),
            "machine_speed": {"before": speed_before, "after": machine_speed(bench_url)},
        }  # fmt: skip
        print(json.dumps(result))
    finally:
        for server in servers.values():
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO_ROOT, check=False
        )
        drop_database(admin_url, BENCH_DB)


if __name__ == "__main__":
    main()
