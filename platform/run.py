"""`make run`: the whole system on one machine, under one parent process.

Starts the embedded PostgreSQL and Redis when ``DATABASE_URL`` / ``REDIS_URL`` are unset,
migrates, provisions the demo cities, then supervises gunicorn, a Celery worker and Celery
beat with honcho. Ctrl-C (or SIGTERM) stops every child, then the embedded servers this run
started; nothing is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from daicho import embedded

REPO_ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(REPO_ROOT / "manage.py"), *args], check=True, env=env)


def main() -> int:
    from honcho.manager import Manager
    from honcho.printer import Printer

    port = os.environ.get("PORT", "8000")
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "daicho.settings.local")
    env["PYTHONUNBUFFERED"] = "1"
    started: list[str] = []

    # Until honcho takes over, Ctrl-C must still reach the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if not env.get("DATABASE_URL"):
            if not embedded.postgres_running():
                started.append("postgres")
            env["DATABASE_URL"] = embedded.postgres_url()
            # The URLs carry the servers' passwords (daicho.embedded): named without them.
            print(f"embedded PostgreSQL: 127.0.0.1:{embedded.PG_PORT} (data in {embedded.PG_DATA})")
        if not env.get("REDIS_URL"):
            if not embedded.redis_running():
                started.append("redis")
            env["REDIS_URL"] = embedded.redis_url()
            print(f"embedded Redis: 127.0.0.1:{embedded.REDIS_PORT}")

        _manage("migrate_schemas", "--shared", "-v", "0", env=env)
        _manage("migrate_schemas", "--tenant", "-v", "0", env=env)
        _manage("collectstatic", "--noinput", "-v", "0", env=env)
        _manage("demo_setup", "--port", port, env=env)

        manager = Manager(Printer(sys.stdout))
        python = sys.executable
        bin_dir = Path(python).parent
        manager.add_process(
            "web",
            f"{bin_dir}/gunicorn daicho.wsgi:application --bind 127.0.0.1:{port} "
            f"--workers 4 --threads 2 --graceful-timeout 5 --access-logfile - "
            # What gunicorn refuses itself (a request line or headers too long, malformed)
            # answered in the API's error shape under /api/, quoting nothing; the path
            # without its query string (list filters carry names) nor a segment that is not
            # plain ASCII (no personal data in logs), as infra/entrypoint.sh and
            # infra/Procfile.
            f"--worker-class daicho.gunicorn_workers.Worker "
            f"--logger-class daicho.logs.GunicornLogger "
            f"--access-logformat '%({{host}}i)s \"%(m)s %(U)s %(H)s\" %(s)s %(B)s %(M)sms'",
            env=env,
            cwd=str(REPO_ROOT),
        )
        manager.add_process(
            "worker",
            f"{bin_dir}/celery -A workers worker --loglevel INFO --concurrency 2",
            env=env,
            cwd=str(REPO_ROOT),
        )
        manager.add_process(
            "beat",
            f"{bin_dir}/celery -A workers beat --loglevel INFO "
            f"--schedule {embedded.VAR_DIR / 'celerybeat-schedule'}",
            env=env,
            cwd=str(REPO_ROOT),
        )
        print(f"Daicho: http://mitaka.localhost:{port}/ (Ctrl-C で停止)")
        manager.loop()
        return manager.returncode or 0
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"setup step failed: {' '.join(map(str, exc.cmd[1:]))}", file=sys.stderr)
        return exc.returncode or 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if "redis" in started:
            embedded.stop_redis()
        if "postgres" in started:
            embedded.stop_postgres()


if __name__ == "__main__":
    sys.exit(main())
