"""The embedded servers of `make run` admit only the Daicho processes of this checkout.

Both listen on 127.0.0.1, which every account of the machine (and every process of it, a
container's neighbour or a shared development server's other users) can reach: a server
that trusts whoever connects there hands them the cities' records, and Redis's CONFIG
command writes files anywhere the developer's account may (an ``authorized_keys``).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _embedded(env: dict[str, str], call: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", f"from daicho import embedded; print(embedded.{call}())"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def test_embedded_redis_wants_a_password_kept_from_other_accounts(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DAICHO_VAR_DIR": str(tmp_path), "EMBEDDED_REDIS_PORT": str(port)}
    url = _embedded(env, "redis_url")
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port).ping()
        assert redis.Redis.from_url(url).ping() is True
        # A second start finds it running and gives the same URL.
        assert _embedded(env, "redis_url") == url
        # Its folder (the snapshot holds the cache and the task queue) and the password are
        # the developer's alone.
        assert stat.S_IMODE((tmp_path / "redis").stat().st_mode) == 0o700
        for path in tmp_path.rglob("*"):
            if path.is_file() and path.name.startswith(("redis", "embedded")):
                assert not stat.S_IMODE(path.stat().st_mode) & 0o077, path
    finally:
        _embedded(env, "stop_redis")


def test_a_port_held_by_another_checkouts_redis_is_a_clear_error(tmp_path: Path) -> None:
    """Two checkouts on one machine: the second's embedded Redis cannot bind the port the
    first's holds. It gave the first's port as its own, with its own password, and every
    test then failed alone with an authentication error."""
    port = _free_port()
    first = {**os.environ, "DAICHO_VAR_DIR": str(tmp_path / "a"), "EMBEDDED_REDIS_PORT": str(port)}
    second = {**first, "DAICHO_VAR_DIR": str(tmp_path / "b")}
    _embedded(first, "redis_url")
    try:
        with pytest.raises(subprocess.CalledProcessError) as refused:
            _embedded(second, "redis_url")
        assert f"port {port} is held by a Redis that is not this checkout's" in (
            refused.value.stderr
        )
    finally:
        _embedded(first, "stop_redis")
        _embedded(second, "stop_redis")


@pytest.mark.slow
def test_embedded_postgres_wants_a_password_on_its_port(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DAICHO_VAR_DIR": str(tmp_path), "EMBEDDED_PG_PORT": str(port)}
    tmp_path.chmod(0o755)
    url = _embedded(env, "postgres_url").replace("postgres://", "postgresql://")
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/daicho").close()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(f"postgresql://postgres:guess@127.0.0.1:{port}/daicho").close()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("daicho",)
        assert _embedded(env, "postgres_url").replace("postgres://", "postgresql://") == url
        password = tmp_path / "embedded-postgres-password"
        assert stat.S_IMODE(password.stat().st_mode) == 0o600
    finally:
        _embedded(env, "stop_postgres")
