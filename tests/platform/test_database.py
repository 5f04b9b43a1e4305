"""The database speaks Japanese: UTF-8 locale, pg_trgm sees kanji and kana."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from daicho.checks import check_utf8_locale, database_ctype

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_test_database_has_a_utf8_locale(db: None) -> None:
    assert "utf" in database_ctype().lower().replace("-", "")
    assert check_utf8_locale(None, databases=["default"]) == []


def test_trigrams_are_extracted_from_japanese(db: None) -> None:
    # Under the C locale pg_trgm returns no trigram at all for 山田花子.
    with connection.cursor() as cursor:
        cursor.execute("SELECT array_length(show_trgm('山田花子'), 1), unaccent('Café')")
        count, unaccented = cursor.fetchone()
    assert count >= 3
    assert unaccented == "Cafe"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_embedded_postgres_starts_with_utf8_keeps_data_and_stops(tmp_path: Path) -> None:
    """The server `make run` uses when DATABASE_URL is unset (a fresh folder, its own port)."""
    env = {**os.environ, "DAICHO_VAR_DIR": str(tmp_path), "EMBEDDED_PG_PORT": str(_free_port())}
    tmp_path.chmod(0o755)
    script = (
        "import json; from daicho import embedded; url = embedded.postgres_url(); "
        "print(json.dumps({'url': url, 'running': embedded.postgres_running()}))"
    )

    def start() -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=REPO_ROOT,
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = start()
    try:
        assert first["running"] is True
        url = str(first["url"]).replace("postgres://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as conn:
            ctype = conn.execute(
                "SELECT datctype FROM pg_database WHERE datname = current_database()"
            ).fetchone()
            assert ctype == ("C.UTF-8",)
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('三鷹')")
        # A second start finds it running and the data in place.
        assert start()["url"] == first["url"]
    finally:
        subprocess.run(
            [sys.executable, "-c", "from daicho import embedded; embedded.stop_postgres()"],
            env=env, cwd=REPO_ROOT, check=True, timeout=60,
        )  # fmt: skip
    assert not (tmp_path / "pg" / "postmaster.pid").exists()
    # Started again after a stop, the data is still there.
    start()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == ("三鷹",)
    finally:
        subprocess.run(
            [sys.executable, "-c", "from daicho import embedded; embedded.stop_postgres()"],
            env=env, cwd=REPO_ROOT, check=True, timeout=60,
        )  # fmt: skip
