"""What the WSGI app and the Celery app load when DJANGO_SETTINGS_MODULE is missing from an
otherwise complete production environment (infra/Procfile under a PaaS): production, not
the developer's settings (DEBUG, no secure cookies, the SSRF guard relaxed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, os
import daicho.wsgi  # noqa: F401  (does os.environ.setdefault like gunicorn daicho.wsgi)
from django.conf import settings as s
print(json.dumps({k: getattr(s, k) for k in [
    "DEBUG", "OPERATOR_REQUIRE_2FA", "WEBHOOK_ALLOW_PRIVATE_NETWORKS", "WEBHOOK_ALLOW_HTTP",
    "WEBHOOK_ALLOWED_PORTS", "SESSION_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "EMBEDDED_SERVICES",
    "AUDIT_ANCHOR_LOCK_DAYS", "AUDIT_ANCHOR_LOCK_MODE", "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_DOMAIN", "CSRF_COOKIE_NAME", "CSRF_COOKIE_DOMAIN", "CSRF_COOKIE_SECURE"]}
    | {"module": os.environ["DJANGO_SETTINGS_MODULE"]}))
"""


def _production_settings(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "SECRET_KEY": "k3v-Q9rT0m_Lp2Zs8WcX4yBn6HaJ1dFg7uEi5oRt-Yx0Vb9Nq2Mw",
        # Only read, never connected to: the probe loads the settings. (The environment's
        # own URLs are unset on a fresh machine, where `make test` runs the embedded servers.)
        "DATABASE_URL": "postgres://daicho@db.invalid:5432/daicho",
        "REDIS_URL": "redis://cache.invalid:6379/0",
        "BASE_DOMAIN": "daicho.example.jp",
        "DAICHO_VAR_DIR": str(tmp_path),
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True
    )


def _loaded(run: subprocess.CompletedProcess[str]) -> dict:
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_missing_settings_module_does_not_fail_open(tmp_path: Path) -> None:
    assert _loaded(_production_settings(tmp_path)) == {
        "DEBUG": False, "OPERATOR_REQUIRE_2FA": True, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False,
        "WEBHOOK_ALLOW_HTTP": False, "WEBHOOK_ALLOWED_PORTS": [443, 80],
        "SESSION_COOKIE_SECURE": True, "SECURE_SSL_REDIRECT": True, "EMBEDDED_SERVICES": False,
        "AUDIT_ANCHOR_LOCK_DAYS": 0, "AUDIT_ANCHOR_LOCK_MODE": "COMPLIANCE",
        "SESSION_COOKIE_NAME": "__Host-daicho-session", "SESSION_COOKIE_DOMAIN": None,
        "CSRF_COOKIE_NAME": "__Host-daicho-csrf", "CSRF_COOKIE_DOMAIN": None,
        "CSRF_COOKIE_SECURE": True, "module": "daicho.settings.production",
    }  # fmt: skip


def test_the_operator_lists_the_webhook_ports(tmp_path: Path) -> None:
    listed = _production_settings(tmp_path, WEBHOOK_ALLOWED_PORTS="443,80,8443")
    assert _loaded(listed)["WEBHOOK_ALLOWED_PORTS"] == [443, 80, 8443]
    any_port = _production_settings(tmp_path, WEBHOOK_ALLOWED_PORTS="*")
    assert _loaded(any_port)["WEBHOOK_ALLOWED_PORTS"] is None
    wrong = _production_settings(tmp_path, WEBHOOK_ALLOWED_PORTS="443,https")
    assert wrong.returncode != 0
    assert "WEBHOOK_ALLOWED_PORTS must list port numbers" in wrong.stderr


def test_the_operator_locks_the_audit_anchors_on_s3_only(tmp_path: Path) -> None:
    s3 = {"STORAGE_BACKEND": "s3", "AWS_STORAGE_BUCKET_NAME": "daicho-files"}
    locked = _loaded(_production_settings(tmp_path, **s3, AUDIT_ANCHOR_LOCK_DAYS="2555"))
    assert (locked["AUDIT_ANCHOR_LOCK_DAYS"], locked["AUDIT_ANCHOR_LOCK_MODE"]) == (
        2555,
        "COMPLIANCE",
    )
    trial = _production_settings(
        tmp_path, **s3, AUDIT_ANCHOR_LOCK_DAYS="1", AUDIT_ANCHOR_LOCK_MODE="governance"
    )
    assert _loaded(trial)["AUDIT_ANCHOR_LOCK_MODE"] == "GOVERNANCE"
    refused = {
        "needs STORAGE_BACKEND=s3": {"AUDIT_ANCHOR_LOCK_DAYS": "2555"},
        'must be "COMPLIANCE" or "GOVERNANCE"': {
            **s3,
            "AUDIT_ANCHOR_LOCK_DAYS": "30",
            "AUDIT_ANCHOR_LOCK_MODE": "LEGAL_HOLD",
        },
        "must be a number of days": {**s3, "AUDIT_ANCHOR_LOCK_DAYS": "-1"},
    }
    for message, values in refused.items():
        run = _production_settings(tmp_path, **values)
        assert run.returncode != 0
        assert message in run.stderr


def test_production_refuses_a_secret_key_anybody_knows_and_any_host(tmp_path: Path) -> None:
    """A production process does not start with a SECRET_KEY that is short, of a few
    characters repeated, Django's generated insecure one, or a placeholder published in
    this repository (infra/env.example's, copied unchanged: then anybody who reads the
    repository holds the key that signs this deployment's cookies and tokens); nor with a
    wildcard in ALLOWED_HOSTS."""
    example = re.search(r"^SECRET_KEY=(.*)$", (REPO / "infra/env.example").read_text(), re.M)
    assert example is not None
    weak = {
        "the example's": example.group(1),
        "short": "k3v-Q9rT0m_Lp2Zs8WcX4yBn6",
        "few characters": "ab" * 30,
        "Django's insecure": "django-insecure-" + "k3v-Q9rT0m_Lp2Zs8WcX4yBn6HaJ1dFg7uEi5oRt",
    }
    for what, key in weak.items():
        run = _production_settings(tmp_path, SECRET_KEY=key)
        assert run.returncode != 0, what
        assert "SECRET_KEY" in run.stderr, what
        assert key not in run.stderr, what
    for hosts in ("*", "daicho.example.jp,*"):
        run = _production_settings(tmp_path, ALLOWED_HOSTS=hosts)
        assert run.returncode != 0, hosts
        assert "ALLOWED_HOSTS" in run.stderr, hosts
    assert _loaded(_production_settings(tmp_path, ALLOWED_HOSTS="daicho.example.jp"))


def test_the_image_build_step_loads_the_production_settings(tmp_path: Path) -> None:
    """infra/Dockerfile runs collectstatic under the production settings with a key for that
    step only: one they accept (a fixed placeholder is refused, and its text would be in the
    image's history for anybody to reuse). The step's own shell line, run with the
    settings loaded instead of collectstatic."""
    dockerfile = (REPO / "infra/Dockerfile").read_text()
    step = re.search(r"^RUN (SECRET_KEY=.*?django-admin collectstatic --noinput)$", dockerfile,
                     re.M | re.S)  # fmt: skip
    assert step is not None
    line = (
        step.group(1)
        .replace(
            "django-admin collectstatic --noinput",
            "python -c 'from django.conf import settings; print(len(settings.SECRET_KEY))'",
        )
        .replace("/tmp/daicho-build", str(tmp_path))
    )
    env = {
        # The image's PATH starts with its virtual environment's bin, as this one does.
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "daicho.settings.production",
        "DAICHO_EMBEDDED": "0",
        "BASE_DOMAIN": "daicho.example.jp",
    }
    run = subprocess.run(["bash", "-c", line], env=env, cwd=tmp_path, capture_output=True,
                         text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert int(run.stdout.strip().splitlines()[-1]) >= 50


def test_every_gunicorn_command_logs_paths_without_their_query_string() -> None:
    """List filters carry names (``?name__contains=山田``): the access log names the path
    (``%(U)s``), never the request line (``%(r)s``) or the referer."""
    commands = {
        "infra/Procfile": (REPO / "infra/Procfile").read_text(),
        "infra/entrypoint.sh": (REPO / "infra/entrypoint.sh").read_text(),
        "platform/run.py": (REPO / "platform/run.py").read_text(),
    }
    for where, text in commands.items():
        assert "--access-logfile" in text, where
        assert "--access-logformat" in text, where
        assert "%(U)s" in text, where
        assert "%(r)s" not in text, where
        assert "%(f)s" not in text, where
        # Nor a path segment that is not plain ASCII (a name typed where an id goes).
        assert "--logger-class daicho.logs.GunicornLogger" in text, where
        # What gunicorn refuses itself, in the API's error shape (tests/platform/
        # test_gunicorn_workers.py).
        assert "--worker-class daicho.gunicorn_workers.Worker" in text, where


def test_the_benchmarks_gunicorn_runs_as_deployed() -> None:
    """bench/api.py (and bench/ab.py through it) starts gunicorn itself: with the deployed
    worker and logger classes."""
    from bench import api

    text = (REPO / "bench/api.py").read_text()
    assert api.WORKER_CLASS == "daicho.gunicorn_workers.Worker"
    assert "worker_class: str = WORKER_CLASS" in text
    assert '"--worker-class", worker_class' in text
    assert '"--logger-class", "daicho.logs.GunicornLogger"' in text
