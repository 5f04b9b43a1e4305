"""Webhook deliveries while one city is a noisy neighbour, and what a delivery costs.

Creates a throw-away database ``daicho_bench_webhooks`` on the server of ``DATABASE_URL``
(or the embedded PostgreSQL), provisions two cities, each with a ledger and a subscription
to a receiver of its own on 127.0.0.1, and runs a Celery worker in this process
(``--workers`` threads, on queues of the run's own in ``REDIS_URL``'s Redis):

- neighbour: city A (bench) registers ``--burst`` records in one bulk request, to a
  receiver that answers in ``--slow`` seconds; once A's deliveries are going out, city B
  (bench2) registers one record every ``--every`` seconds (``--probes`` of them), to a
  receiver that answers at once. Printed: B's latency from its commit to its receiver
  (median, 90th percentile, max), and how long A's burst took to go out (A deliveries/s).
- cost: city B alone, ``--fast`` deliveries (one bulk request) to a receiver that answers
  at once, with ``WEBHOOK_CITY_CONCURRENCY`` as large as the worker (the share is not the
  limit; what the dispatch costs is measured): deliveries per second, and this process's
  CPU (worker threads, receivers, Python's side of everything) per delivery.

``--concurrency`` sets ``WEBHOOK_CITY_CONCURRENCY`` (a revision before it ignores it). Run
it on this tree and on the revision before (a ``git worktree``) to compare: the script uses
only what both have.

    python bench/webhooks.py [--burst 400] [--slow 0.1] [--workers 4] [--concurrency 2]
                             [--probes 10] [--every 0.5] [--fast 1000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.common import bench_city, bench_database, drop_database, machine_speed  # noqa: E402

BENCH_DB = "daicho_bench_webhooks"


class Receiver:
    """Records when each delivery of a record arrived (monotonic clock), by record id."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.arrived: dict[str, float] = {}
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.monotonic()
                record = json.loads(body)["record"]["id"]
                with receiver.lock:
                    receiver.arrived.setdefault(record, at)
                    receiver.count += 1
                time.sleep(receiver.delay)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.count < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.count >= count


def _city(slug: str, receiver: Receiver) -> dict[str, Any]:
    """A ledger administrator (the city's admin), a ledger and a subscription to ``receiver``."""
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    from daicho.accounts.models import Department, Membership, Role
    from ledgers.access.services import grants_replace
    from ledgers.definitions.services import ledger_create
    from ledgers.webhooks.services import webhook_subscription_create

    with schema_context(slug):
        actor = get_user_model().objects.get(username="admin")
        department = Department.objects.create(code="soumu", name="総務課")
        Membership.objects.create(
            user=actor, department=department, role=Role.LEDGER_ADMIN, valid_from=date(2020, 4, 1)
        )
        ledger = ledger_create(
            actor=actor, code="notice", name="通知台帳",
            fields=[{"key": "note", "label": "備考", "type": "text"}],
        )  # fmt: skip
        grants_replace(
            actor=actor, ledger=ledger,
            grants=[{"department": "soumu", "capabilities": ["view", "create", "design"],
                     "clearance": "special_care"}],
        )  # fmt: skip
        webhook_subscription_create(
            actor=actor, ledger=ledger, url=receiver.url, events=["record.created"]
        )
    return {"slug": slug, "actor": actor, "ledger": ledger}


def _bulk(city: dict[str, Any], count: int, label: str) -> None:
    from django_tenants.utils import schema_context

    from ledgers.records.services import record_bulk_create

    with schema_context(city["slug"]):
        for start in range(0, count, 1000):
            record_bulk_create(
                actor=city["actor"], ledger=city["ledger"],
                values_list=[{"note": f"{label}{n}"} for n in range(start, min(count, start + 1000))],
            )  # fmt: skip


def _one(city: dict[str, Any], label: str) -> str:
    from django_tenants.utils import schema_context

    from ledgers.records.services import record_create

    with schema_context(city["slug"]):
        record = record_create(actor=city["actor"], ledger=city["ledger"], values={"note": label})
    return str(record.pk)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=400)
    parser.add_argument("--slow", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=4, help="worker threads")
    parser.add_argument("--concurrency", type=int, default=2, help="WEBHOOK_CITY_CONCURRENCY")
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--every", type=float, default=0.5)
    parser.add_argument("--fast", type=int, default=1000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    admin_url = bench_database(BENCH_DB)

    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)  # a line per delivery and task otherwise
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings
    from django.db import connection
    from kombu import Queue

    from tenants.services import municipality_provision
    from workers.celery import app

    bench_city()
    municipality_provision(
        actor=None, slug="bench2", name="ベンチ第二市", code="132195", domain="bench2.localhost",
        admin_username="admin", admin_password="Bench-pass-2026!",
    )  # fmt: skip
    settings.WEBHOOK_CITY_CONCURRENCY = args.concurrency
    # Queues of this run's own: a worker of another run on the same Redis takes none of these.
    default, webhooks = f"bench-{os.getpid()}", f"bench-{os.getpid()}-webhooks"
    app.conf.task_default_queue = default
    app.conf.task_queues = (Queue(default), Queue(webhooks))
    app.conf.task_routes = {"ledgers.webhooks.tasks.*": {"queue": webhooks}}

    slow, quick = Receiver(delay=args.slow), Receiver()
    noisy, other = _city("bench", slow), _city("bench2", quick)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "args": vars(args),
        "speed_before": machine_speed(os.environ["DATABASE_URL"]),
    }

    with start_worker(
        app, pool="threads", concurrency=args.workers, perform_ping_check=False,
        loglevel="WARNING", shutdown_timeout=30,
    ):  # fmt: skip
        # --- neighbour ------------------------------------------------------------------
        started = time.monotonic()
        _bulk(noisy, args.burst, "A")
        assert slow.wait_for(1, timeout=60), "city A's first delivery never came"
        latencies = []
        for n in range(args.probes):
            written = time.monotonic()
            record = _one(other, f"B{n}")
            while record not in quick.arrived and time.monotonic() - written < 3600:
                time.sleep(0.002)
            latencies.append(quick.arrived[record] - written)
            time.sleep(max(0.0, args.every - (time.monotonic() - written)))
        probes_done = slow.count
        assert slow.wait_for(args.burst, timeout=3600), "city A's burst did not finish"
        burst_s = time.monotonic() - started
        results["neighbour"] = {
            "b_latency_s": {
                "median": round(statistics.median(latencies), 3),
                "p90": round(_percentile(latencies, 0.9), 3),
                "max": round(max(latencies), 3),
            },
            "a_delivered_during_probes": probes_done,
            "a_burst_s": round(burst_s, 1),
            "a_deliveries_per_s": round(args.burst / burst_s, 1),
        }
        print(f"neighbour: {json.dumps(results['neighbour'])}", file=sys.stderr)

        # --- cost: the city's share as large as the worker, so that it is not the limit --
        settings.WEBHOOK_CITY_CONCURRENCY = args.workers
        before, cpu_before = quick.count, psutil.Process().cpu_times()
        started = time.monotonic()
        _bulk(other, args.fast, "C")
        assert quick.wait_for(before + args.fast, timeout=3600), "the deliveries did not finish"
        elapsed = time.monotonic() - started
        cpu = psutil.Process().cpu_times()
        spent = (cpu.user - cpu_before.user) + (cpu.system - cpu_before.system)
        results["cost"] = {
            "deliveries_per_s": round(args.fast / elapsed, 1),
            "process_cpu_ms_per_delivery": round(1000 * spent / args.fast, 2),
        }
        print(f"cost: {json.dumps(results['cost'])}", file=sys.stderr)

    results["speed_after"] = machine_speed(os.environ["DATABASE_URL"])
    print(json.dumps(results, ensure_ascii=False))
    n, c = results["neighbour"], results["cost"]
    print(f"\nMachine: {results['machine']}, Python {platform.python_version()}")
    print(
        f"Machine speed (bench/common.py, ms, lower is faster): before"
        f" {results['speed_before']}, after {results['speed_after']}\n"
    )
    print(
        "| worker threads | A's burst | A's receiver | B's latency median / p90 / max (s) |"
        " A's burst took (s) | deliveries/s alone | CPU ms per delivery |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|")
    print(
        f"| {args.workers} | {args.burst} | {args.slow} s | {n['b_latency_s']['median']} /"
        f" {n['b_latency_s']['p90']} / {n['b_latency_s']['max']} | {n['a_burst_s']} |"
        f" {c['deliveries_per_s']} | {c['process_cpu_ms_per_delivery']} |"
    )
    with app.connection_for_write() as conn:
        for queue in (default, webhooks):
            conn.default_channel.queue_purge(queue)
    connection.close()
    if not args.keep:
        drop_database(admin_url, BENCH_DB)


if __name__ == "__main__":
    main()
