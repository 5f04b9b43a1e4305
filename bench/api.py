"""The REST API under load: a gunicorn server on 127.0.0.1, history and audit on.

Prepares a throw-away database ``daicho_bench_api`` with one city, a ledger of 12 fields
and a token, starts gunicorn on it, then measures over HTTP:

1. the fixed workload (one JSON line, comparable across systems): 20,000 people inserted
   through the bulk endpoint in requests of 100 by one sequential client; 200 list queries
   alternating "name contains" and "birth date equals", 25 per page with the total count,
   right after the load and again once it has settled (``VACUUM (ANALYZE)``, what
   autovacuum does within about a minute); 200 single-record updates of three fields;
   one history read;
2. concurrent authenticated reads and single-record writes per second with p50/p95. A
   writer sends the ``If-Match`` it knows (the generation the bulk answer or its own last
   write gave), as a client that created the records does; and
3. for each phase, the CPU time per request of the server's processes, PostgreSQL, Redis
   and the load generator (psutil): where the two cores go.

Beside the machine's speed it prints the COPY floor of the same people (``copy_floor``): the
issues' targets were set on a machine where it reads ~200,000 rows/s.

    python bench/api.py [--people 20000] [--clients 8] [--seconds 15] [--workers 4]
                       [--threads 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import psutil
import psycopg

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.common import (  # noqa: E402
    bench_city,
    bench_database,
    copy_floor,
    drop_database,
    machine_speed,
)

BENCH_DB = "daicho_bench_api"
#: As deployed (infra/entrypoint.sh).
WORKER_CLASS = "daicho.gunicorn_workers.Worker"
HOST = "bench.localhost"

FIELDS = [
    {"key": "name", "label": "氏名", "type": "person_name", "required": True, "sensitivity": "personal"},
    {"key": "kana", "label": "カナ氏名", "type": "text", "sensitivity": "personal"},
    {"key": "address", "label": "住所", "type": "address", "sensitivity": "personal"},
    {"key": "postal_code", "label": "郵便番号", "type": "postal_code", "sensitivity": "personal"},
    {"key": "birth_date", "label": "生年月日", "type": "date", "sensitivity": "personal"},
    {"key": "joined", "label": "加入日", "type": "date"},
    {"key": "sex", "label": "性別", "type": "choice", "options": {"choices": ["男", "女"]}},
    {"key": "status", "label": "状況", "type": "choice", "options": {"choices": ["申請", "審査中", "決定", "却下"]}},
    {"key": "phone", "label": "電話番号", "type": "phone", "sensitivity": "personal"},
    {"key": "amount", "label": "金額", "type": "integer"},
    {"key": "note", "label": "備考", "type": "long_text"},
    {"key": "active", "label": "有効", "type": "boolean"},
]  # fmt: skip
SURNAMES = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
            ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ")]  # fmt: skip
GIVEN = [("花子", "ハナコ"), ("太郎", "タロウ"), ("一郎", "イチロウ"), ("美咲", "ミサキ"), ("蓮", "レン"),
         ("結衣", "ユイ"), ("翔太", "ショウタ"), ("智子", "トモコ"), ("誠", "マコト"), ("彩", "アヤ")]  # fmt: skip


def person(rng: random.Random) -> dict[str, Any]:
    (family, family_kana), (given, given_kana) = rng.choice(SURNAMES), rng.choice(GIVEN)
    return {
        "name": {"kanji": f"{family} {given}", "kana": f"{family_kana} {given_kana}"},
        "kana": f"{family_kana} {given_kana}",
        "address": {
            "text": f"東京都三鷹市下連雀{rng.randint(1, 9)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
        },
        "postal_code": "181-0013",
        "birth_date": date(
            rng.randint(1940, 2010), rng.randint(1, 12), rng.randint(1, 28)
        ).isoformat(),
        "joined": date(2020 + rng.randint(0, 6), rng.randint(1, 12), 1).isoformat(),
        "sex": rng.choice(["男", "女"]),
        "status": "申請",
        "phone": f"0422-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        "amount": rng.randint(1, 300) * 1000,
        "note": "",
        "active": True,
    }


class Client:
    """A lean HTTP/1.1 client on one keep-alive connection (``http.client``, bodies by
    ``orjson``): the load generator shares the server's two cores, and ``requests`` spent
    about 0.5 ms of CPU per call that the server then lacked (the standard library's
    ``json`` took 0.25 ms to encode a bulk request of 100, in the sequential insert's
    path). One per thread."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port)
        self.headers = headers

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        expect: int = 200,
    ) -> tuple[dict[str, Any], http.client.HTTPMessage]:
        if params:
            path = f"{path}?{urlencode(params)}"
        sent = {**self.headers, **(headers or {})}
        payload = None
        if body is not None:
            payload = orjson.dumps(body)
            sent["Content-Type"] = "application/json"
        self.connection.request(method, path, body=payload, headers=sent)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return (orjson.loads(data) if data else {}), response.headers


class CpuMeter:
    """CPU seconds (user + system) of the gunicorn server's processes, PostgreSQL's, Redis's
    and this process (the load generator) since the last ``take``."""

    PARTS = ("server", "postgres", "redis", "client")

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.last = self._totals()

    def _totals(self) -> dict[str, float]:
        totals = dict.fromkeys(self.PARTS, 0.0)
        server = {self.server_pid} | {
            child.pid for child in psutil.Process(self.server_pid).children(recursive=True)
        }
        for proc in psutil.process_iter(["name", "cpu_times"]):
            times = proc.info["cpu_times"]
            if times is None:
                continue
            if proc.pid in server:
                part = "server"
            elif proc.pid == os.getpid():
                part = "client"
            elif proc.info["name"] == "postgres":
                part = "postgres"
            elif proc.info["name"] == "redis-server":
                part = "redis"
            else:
                continue
            totals[part] += times.user + times.system
        return totals

    def take(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request by part since the last call, and their sum."""
        now = self._totals()
        spent = {part: (now[part] - self.last[part]) * 1000 / requests for part in self.PARTS}
        self.last = now
        return {
            **{part: round(ms, 2) for part, ms in spent.items()},
            "total": round(sum(spent.values()), 2),
        }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def start_server(
    tree: Path,
    port: int,
    database_url: str,
    *,
    workers: int,
    threads: int,
    pythonpath: str | None = None,
    worker_class: str = WORKER_CLASS,
) -> subprocess.Popen:
    """gunicorn serving ``tree`` on 127.0.0.1:``port``, rate limits out of the way."""
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "0",
           "API_RATE_PER_TOKEN": "1000000/min", "API_RATE_PER_ADDRESS": "1000000/min",
           **({"PYTHONPATH": pythonpath} if pythonpath else {})}  # fmt: skip
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "daicho.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--log-level", "warning",
         # As deployed (infra/entrypoint.sh): the worker class answers what gunicorn refuses
         # itself in the API's shape; the logger writes no query string.
         "--worker-class", worker_class,
         "--logger-class", "daicho.logs.GunicornLogger",
         # gunicorn 27 opens a control socket at one path per user (~/.gunicorn): a second
         # server (bench/ab.py runs two) took the first's and removed it on exit.
         "--no-control-socket"],
        cwd=tree, env=env, start_new_session=True,
    )  # fmt: skip


def wait_until_ready(port: int) -> None:
    """Until the server on ``port`` answers its readiness probe (20 s at most)."""
    for _ in range(100):
        try:
            Client(port, {"Host": HOST}).call("GET", "/readyz")
            return
        except (OSError, RuntimeError, http.client.HTTPException):
            time.sleep(0.2)


def prepare() -> tuple[str, str]:
    """Database, city, ledger, grants and a token; returns (the server's admin URL, token)."""
    admin_url = bench_database(BENCH_DB)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    from daicho.accounts.models import Department, Membership, Role
    from ledgers.api.tokens.services import token_issue
    from ledgers.definitions.services import ledger_create

    bench_city(HOST)
    with schema_context("bench"):
        user = get_user_model().objects.get(username="admin")
        department = Department.objects.create(code="shimin", name="市民課")
        Membership.objects.create(
            user=user, department=department, role=Role.LEDGER_ADMIN, valid_from=date(2020, 4, 1)
        )
        ledger_create(actor=user, code="people", name="住民台帳（ベンチ）", fields=FIELDS)
        token = token_issue(actor=user, user=user, scopes=["*"]).token
    from django.db import connections

    connections.close_all()
    return admin_url, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    # The deployment's defaults (infra/entrypoint.sh, helm values).
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=18765)
    args = parser.parse_args()

    admin_url, token = prepare()
    bench_url = os.environ["DATABASE_URL"]
    speed_before = machine_speed(bench_url)

    server = start_server(
        REPO_ROOT, args.port, bench_url, workers=args.workers, threads=args.threads
    )
    headers = {"Host": HOST, "Authorization": f"Bearer {token}"}
    try:
        wait_until_ready(args.port)
        session = Client(args.port, headers)
        cpu = CpuMeter(server.pid)
        cpu_ms: dict[str, dict[str, float]] = {}
        records_url = "/api/v1/ledgers/people/records/"
        rng = random.Random(7)

        # 1. The fixed workload. The people are made before the meter starts: the load
        # generator's CPU per request is what it spends sending them.
        people = [person(rng) for _ in range(args.people)]
        cpu.take(1)
        ids: list[str] = []
        started = time.perf_counter()
        for start in range(0, len(people), 100):
            answer, _ = session.call(
                "POST", records_url + "bulk/", expect=201,
                body={"records": [{"values": p} for p in people[start : start + 100]]},
            )  # fmt: skip
            ids.extend(r["id"] for r in answer["results"])
        insert_s = time.perf_counter() - started
        cpu_ms["bulk insert (request of 100)"] = cpu.take(len(people) // 100)
        query_ms = []
        query_params = [
            {"name__contains": rng.choice(SURNAMES + GIVEN)[0], "page_size": 25, "count": "true"}
            if i % 2 == 0
            else {"birth_date": rng.choice(people)["birth_date"], "page_size": 25, "count": "true"}
            for i in range(200)
        ]
        for params in query_params:
            started = time.perf_counter()
            session.call("GET", records_url, params=params)
            query_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms["list query"] = cpu.take(len(query_params))
        # What autovacuum does within about a minute of a bulk load: planner statistics of
        # the new rows, and the GIN pending lists merged (a fresh list is scanned by every
        # search and makes the planner price the index too high). The same queries again.
        with psycopg.connect(bench_url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE) bench.ledgers_record")
        settled_ms = []
        for params in query_params:
            started = time.perf_counter()
            session.call("GET", records_url, params=params)
            settled_ms.append((time.perf_counter() - started) * 1000)
        cpu.take(1)
        # What a client knows of each record: the generation its last write answered.
        known: dict[str, int] = dict.fromkeys(ids, 1)
        update_ms = []
        for record_id in rng.sample(ids, 200):
            started = time.perf_counter()
            session.call(
                "PATCH", f"{records_url}{record_id}/", headers={"If-Match": '"1"'},
                body={"values": {"status": "審査中", "amount": rng.randint(1, 99) * 1000, "note": "確認済み"}},
            )  # fmt: skip
            update_ms.append((time.perf_counter() - started) * 1000)
            known[record_id] = 2
        cpu_ms["single update"] = cpu.take(len(update_ms))
        started = time.perf_counter()
        session.call("GET", f"{records_url}{ids[0]}/versions/")
        audit_read_ms = (time.perf_counter() - started) * 1000
        workload = {
            "insert_rows_per_s": round(len(people) / insert_s),
            "query_p50_ms": round(pct(query_ms, 0.5), 1), "query_p95_ms": round(pct(query_ms, 0.95), 1),
            "settled_query_p50_ms": round(pct(settled_ms, 0.5), 1),
            "settled_query_p95_ms": round(pct(settled_ms, 0.95), 1),
            "update_p50_ms": round(pct(update_ms, 0.5), 1), "update_p95_ms": round(pct(update_ms, 0.95), 1),
            "audit_read_ms": round(audit_read_ms, 1),
        }  # fmt: skip
        print(json.dumps(workload))

        # 2. Concurrent reads, then concurrent single-record writes.
        def hammer(kind: str) -> tuple[int, list[float]]:
            deadline = time.perf_counter() + args.seconds
            lock = threading.Lock()
            latencies: list[float] = []
            slices = [ids[i :: args.clients] for i in range(args.clients)]
            generations: dict[str, int | None] = dict(known)

            def client(index: int) -> None:
                own = Client(args.port, headers)
                mine = slices[index]
                position = 0
                local: list[float] = []
                while time.perf_counter() < deadline:
                    record_id = mine[position % len(mine)]
                    position += 1
                    started = time.perf_counter()
                    if kind == "read":
                        own.call("GET", f"{records_url}{record_id}/")
                    else:
                        current = generations.get(record_id)
                        if current is None:
                            _, got = own.call("GET", f"{records_url}{record_id}/")
                            current = int(got["ETag"].strip('"'))
                            started = time.perf_counter()
                        _, got = own.call(
                            "PATCH", f"{records_url}{record_id}/",
                            body={"values": {"amount": position}},
                            headers={"If-Match": f'"{current}"'},
                        )  # fmt: skip
                        generations[record_id] = int(got["ETag"].strip('"'))
                    local.append((time.perf_counter() - started) * 1000)
                with lock:
                    latencies.extend(local)

            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(client, range(args.clients)))
            return len(latencies), latencies

        cpu.take(1)
        reads, read_ms = hammer("read")
        cpu_ms["concurrent read"] = cpu.take(reads)
        writes, write_ms = hammer("write")
        cpu_ms["concurrent write"] = cpu.take(writes)
        concurrent = {
            "reads_per_s": round(reads / args.seconds), "read_p50_ms": round(pct(read_ms, 0.5), 1),
            "read_p95_ms": round(pct(read_ms, 0.95), 1), "writes_per_s": round(writes / args.seconds),
            "write_p50_ms": round(pct(write_ms, 0.5), 1), "write_p95_ms": round(pct(write_ms, 0.95), 1),
        }  # fmt: skip
        machine = f"{platform.machine()}, {os.cpu_count()} cores; gunicorn {args.workers} workers × {args.threads} threads; {args.clients} clients"
        print(f"\nMachine: {machine}")
        speed = {"before": speed_before, "after": machine_speed(bench_url)}
        print(f"Machine speed (bench/common.py, ms, lower is faster): {speed}")
        floor = copy_floor(bench_url, [json.dumps(p, ensure_ascii=False) for p in people])
        print(
            f"COPY floor: {floor:,} rows/s of the same people bare (the issues' targets were set"
            " where it reads ~200,000)\n"
        )
        print("| fixed workload | value |\n|---|---:|")
        for key, value in workload.items():
            print(f"| {key} | {value} |")
        print("\n| concurrent | per s | p50 (ms) | p95 (ms) |\n|---|---:|---:|---:|")
        print(
            f"| record reads | {concurrent['reads_per_s']} | {concurrent['read_p50_ms']} | {concurrent['read_p95_ms']} |"
        )
        print(
            f"| single-record writes | {concurrent['writes_per_s']} | {concurrent['write_p50_ms']} | {concurrent['write_p95_ms']} |"
        )
        print("\n| CPU ms per request | server | PostgreSQL | Redis | client | total |")
        print("|---|---:|---:|---:|---:|---:|")
        for phase, parts in cpu_ms.items():
            print(
                f"| {phase} | "
                + " | ".join(str(parts[p]) for p in (*CpuMeter.PARTS, "total"))
                + " |"
            )
        print(
            json.dumps(
                {
                    "median_query_ms": statistics.median(query_ms),
                    **concurrent,
                    "machine_speed": speed,
                    "copy_floor_rows_per_s": floor,
                }
            )
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        drop_database(admin_url, BENCH_DB)


if __name__ == "__main__":
    main()
