"""What every benchmark shares: a throw-away database on the server of ``DATABASE_URL``."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def bench_database(name: str, *, create: bool = True) -> str:
    """Point ``DATABASE_URL`` at database ``name`` (recreated with a UTF-8 locale unless
    ``create`` is false) on the server of ``DATABASE_URL``, or the embedded PostgreSQL.

    Also selects local settings with DEBUG off (DEBUG keeps every query in memory and wraps
    every cursor). Returns the URL of the server's ``postgres`` database, for ``drop_database``.
    """
    import psycopg

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daicho.settings.local")
    os.environ["DEBUG"] = "0"
    base = os.environ.get("DATABASE_URL")
    if not base:
        from daicho import embedded

        base = embedded.postgres_url()
    parts = urlsplit(base)
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    if create:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"
                " LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            )
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    return admin_url


def drop_database(admin_url: str, name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def bench_city(domain: str = "bench.localhost") -> None:
    """Migrate the shared schema and provision the benchmarks' city ``bench`` (its first
    administrator ``admin``, who has changed the operator's password, as a city in use:
    no token is issued before that), after ``django.setup()``."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django_tenants.utils import schema_context

    from tenants.services import municipality_provision

    call_command("migrate_schemas", "--shared", verbosity=0)
    municipality_provision(
        actor=None, slug="bench", name="ベンチ市", code="132047", domain=domain,
        admin_username="admin", admin_password="Bench-pass-2026!",
    )  # fmt: skip
    with schema_context("bench"):
        get_user_model().objects.filter(username="admin").update(must_change_password=False)


def machine_speed(database_url: str | None = None) -> dict[str, float]:
    """How fast this machine is right now: the best of five runs of a fixed piece of Python
    (JSON, hashing and a loop, as request handling does) and, given a database URL, of a
    fixed PostgreSQL query, in milliseconds (lower is faster).

    The machines these benchmarks run on differ, and one machine drifted by 20–30 % within
    minutes; printing this beside a run's figures lets runs on different days be compared.
    """
    import hashlib
    import json
    import time

    document = {
        "name": "山田 花子",
        "kana": "ヤマダ ハナコ",
        "values": list(range(50)),
        "note": "備考" * 20,
    }

    def python_work() -> None:
        total = 0
        for i in range(2_000):
            text = json.dumps(document, ensure_ascii=False)
            total += len(json.loads(text)["values"]) + len(hashlib.sha256(text.encode()).digest())
            total += sum(j * i for j in range(50))

    def best(work: Any) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            work()
            times.append((time.perf_counter() - started) * 1000)
        return round(min(times), 1)

    speed = {"python_ms": best(python_work)}
    if database_url:
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            speed["postgres_ms"] = best(
                lambda: conn.execute(
                    "SELECT sum(i) FROM generate_series(1, 2000000) AS i"
                ).fetchone()
            )
    return speed


def copy_floor(database_url: str, documents: list[str]) -> int:
    """Rows per second of a bare COPY of ``documents`` (JSON texts), each with a new uuid,
    into a temporary ``(id uuid, data jsonb)`` table in one transaction: the physical floor
    of a bulk write on this server, and the figure the issues' targets were calibrated on
    (~200,000 rows/s of the records bench's people, on the machine they were set on). Printed beside a run's figures, it
    says how this machine compares with that one."""
    import time
    import uuid

    import psycopg

    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TEMPORARY TABLE floor_copy (id uuid, data jsonb)")
        started = time.perf_counter()
        with conn.cursor().copy("COPY floor_copy FROM STDIN") as copy_in:
            for document in documents:
                copy_in.write_row((uuid.uuid4(), document))
        conn.commit()
        elapsed = time.perf_counter() - started
    return round(len(documents) / elapsed)
