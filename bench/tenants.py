"""Provisioning and migration cost as the number of cities grows.

Creates a throw-away database ``daicho_bench`` on the server of ``DATABASE_URL`` (or the
embedded PostgreSQL), provisions cities up to each checkpoint (default 20 and 500), times
``municipality_provision`` for a few more cities at each checkpoint, then times
``migrate_schemas`` over every schema when nothing is pending.

    python bench/tenants.py [--checkpoints 20 500] [--samples 5] [--keep]

Prints a Markdown table to paste into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.common import bench_database, drop_database  # noqa: E402

BENCH_DB = "daicho_bench"


def _codes() -> list[str]:
    from tenants.codes import municipality_code_check_digit

    codes = []
    for prefecture in range(1, 48):
        for number in range(100, 999):
            five = f"{prefecture:02d}{number:03d}"
            codes.append(five + str(municipality_code_check_digit(five)))
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[20, 500])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    import psycopg

    admin_url = bench_database(BENCH_DB)
    bench_url = os.environ["DATABASE_URL"]

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tenants.services import municipality_provision

    call_command("migrate_schemas", "--shared", verbosity=0)
    codes = iter(_codes())
    created = 0

    def provision() -> float:
        nonlocal created
        code = next(codes)
        slug = f"city{created:04d}"
        started = time.perf_counter()
        municipality_provision(
            actor=None, slug=slug, name=f"ベンチ市{created}", code=code,
            domain=f"{slug}.bench.localhost", admin_username="admin",
            admin_password="Bench-pass-2026!",
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        created += 1
        # Each provisioning as a fresh command or request would run it: a connection kept
        # across hundreds of new schemas grows its catalog caches (and the settings bound
        # connection lifetimes for exactly that reason).
        connection.close()
        return elapsed

    rows = []
    for checkpoint in args.checkpoints:
        fill_started = time.perf_counter()
        while created < checkpoint:
            provision()
            if created % 50 == 0:
                print(f"  … {created} cities", file=sys.stderr)
        fill = time.perf_counter() - fill_started
        samples = [provision() for _ in range(args.samples)]
        rows.append((checkpoint, samples, fill))
        print(
            f"with {checkpoint} cities present: provision median {statistics.median(samples):.3f} s,"
            f" max {max(samples):.3f} s",
            file=sys.stderr,
        )

    connection.close()
    migrate_times = {}
    for executor in ("pending", "standard", "multiprocessing"):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "migrate_schemas", "--tenant", f"--executor={executor}", "-v", "0"],
            cwd=REPO_ROOT, env={**os.environ}, check=True,
        )  # fmt: skip
        migrate_times[executor] = time.perf_counter() - started

    with psycopg.connect(bench_url.replace("postgres://", "postgresql://")) as conn:
        (tables,) = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'city0000'"
        ).fetchone()

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nMachine: {machine}; tables per city schema: {tables}\n")
    print("| cities present | provision median (s) | provision max (s) | samples |")
    print("|---:|---:|---:|---:|")
    for checkpoint, samples, _fill in rows:
        print(
            f"| {checkpoint} | {statistics.median(samples):.3f} | {max(samples):.3f} | {len(samples)} |"
        )
    print()
    print("| migrate_schemas --tenant, nothing pending | total (s) | per city (ms) |")
    print("|---|---:|---:|")
    for executor, seconds in migrate_times.items():
        print(
            f"| {executor} executor, {created} cities | {seconds:.1f} | {seconds / created * 1000:.0f} |"
        )

    if not args.keep:
        drop_database(admin_url, BENCH_DB)


if __name__ == "__main__":
    main()
