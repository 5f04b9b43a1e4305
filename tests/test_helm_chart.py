"""Static checks of the deployment files: the Helm chart, its values schema, the entrypoint.

No helm binary is needed: templates are checked by stripping the template actions and
parsing what remains as YAML. Needs no database; to run it without Django at all:
    pytest tests/test_helm_chart.py -p no:django --noconftest
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CHART_DIR = REPO_ROOT / "helm" / "daicho"
TEMPLATES_DIR = CHART_DIR / "templates"
INFRA_DIR = REPO_ROOT / "infra"

PLACEHOLDER = "HELM-PLACEHOLDER"
# A line holding nothing but template actions (and spaces): control flow (if, else, end,
# with, range, define, variable declarations, comments) or the insertion of a whole
# indented block (`{{- include ... | nindent N }}`). Dropping it leaves the surrounding
# YAML structure intact.
ACTION_ONLY_LINE = re.compile(r"^\s*(\{\{.*?\}\}\s*)+$")
INLINE_ACTION = re.compile(r"\{\{.*?\}\}")


def strip_template(text: str) -> str:
    """Turn a Helm template into plain YAML text: drop action-only lines, and replace each
    action inside a line with a placeholder string."""
    text = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", text, flags=re.S)  # comments
    lines = []
    for line in text.splitlines():
        if ACTION_ONLY_LINE.match(line):
            continue
        lines.append(INLINE_ACTION.sub(PLACEHOLDER, line))
    return "\n".join(lines) + "\n"


def load_template_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(strip_template(path.read_text())) if doc]


def template_files() -> list[Path]:
    return sorted(TEMPLATES_DIR.glob("*.yaml"))


def all_documents() -> list[dict]:
    return [doc for path in template_files() for doc in load_template_documents(path)]


@pytest.fixture(scope="module")
def chart() -> dict:
    return yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((CHART_DIR / "values.yaml").read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


# --- Chart.yaml, values.yaml and values.schema.json ----------------------------------------


def test_chart_metadata(chart):
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "daicho"
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert isinstance(chart["appVersion"], str)
    assert chart["appVersion"]


def test_values_validate_against_schema(values, validator):
    errors = sorted(validator.iter_errors(values), key=lambda error: list(error.path))
    assert [error.message for error in errors] == []


def test_schema_is_draft_07(validator):
    assert validator.schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert {"baseDomain", "image", "replicaCount"} <= set(validator.schema["required"])


def _without(path: tuple[str, ...]):
    def change(values: dict) -> None:
        *parents, key = path
        target = values
        for parent in parents:
            target = target[parent]
        del target[key]

    return change


def _set(path: tuple[str, ...], value: object):
    def change(values: dict) -> None:
        *parents, key = path
        target = values
        for parent in parents:
            target = target[parent]
        target[key] = value

    return change


BAD_VARIANTS = {
    "replicaCount is a string": _set(("replicaCount",), "two"),
    "replicaCount is zero": _set(("replicaCount",), 0),
    "replicaCount is a float": _set(("replicaCount",), 1.5),
    "baseDomain is missing": _without(("baseDomain",)),
    "baseDomain is empty": _set(("baseDomain",), ""),
    "baseDomain is a URL": _set(("baseDomain",), "https://daicho.example.jp"),
    "baseDomain is a wildcard": _set(("baseDomain",), "*.daicho.example.jp"),
    "image.repository is an integer": _set(("image", "repository"), 42),
    "image.repository is missing": _without(("image", "repository")),
    "unknown top-level key": _set(("replicas",), 3),
    "storage.backend is unknown": _set(("storage", "backend"), "ftp"),
    "s3 backend without a bucket": _set(("storage", "backend"), "s3"),
    "autoscaling.enabled is a string": _set(("web", "autoscaling", "enabled"), "yes"),
    "config.logLevel is lowercase": _set(("config", "logLevel"), "info"),
    "extraEnv value is a number": _set(("config", "extraEnv"), {"SECURE_HSTS_SECONDS": 60}),
    "extraEnv name is not a variable name": _set(("config", "extraEnv"), {"A-B": "1"}),
    "extraEnv repeats a chart variable": _set(("config", "extraEnv"), {"LOG_LEVEL": "DEBUG"}),
    "secrets.extra repeats a chart secret": _set(("secrets", "extra"), {"SECRET_KEY": "x"}),
    "databaseUrl is not PostgreSQL": _set(("secrets", "databaseUrl"), "mysql://db/daicho"),
    "anchor lock mode is unknown": _set(("storage", "s3", "anchorLock", "mode"), "LEGAL_HOLD"),
    "anchor lock days are negative": _set(("storage", "s3", "anchorLock", "days"), -1),
    "extraEnv sets the anchor lock": _set(("config", "extraEnv"), {"AUDIT_ANCHOR_LOCK_DAYS": "1"}),
    # A secret given as extraEnv lands in the ConfigMap, readable by whoever may read
    # ConfigMaps (often more people than Secrets).
    **{
        f"extraEnv carries {name}": _set(("config", "extraEnv"), {name: "x"})
        for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AWS_SECRET_ACCESS_KEY")
    },
    "extraEnv repeats the proxy count": _set(("config", "extraEnv"), {"TRUSTED_PROXY_COUNT": "2"}),
    # The Secret is read after the ConfigMap and wins: it would silently replace what the
    # chart sets (the developer's settings, DEBUG on, in production).
    **{
        f"secrets.extra replaces {name}": _set(("secrets", "extra"), {name: value})
        for name, value in (
            ("DJANGO_SETTINGS_MODULE", "daicho.settings.local"),
            ("DAICHO_EMBEDDED", "1"),
            ("TRUSTED_PROXY_COUNT", "3"),
            ("ALLOWED_HOSTS", "*"),
        )
    },
}


@pytest.mark.parametrize("change", BAD_VARIANTS.values(), ids=BAD_VARIANTS.keys())
def test_schema_rejects_bad_values(values, validator, change):
    bad = copy.deepcopy(values)
    change(bad)
    assert not validator.is_valid(bad)


def test_schema_accepts_a_production_like_override(values, validator):
    good = copy.deepcopy(values)
    good["baseDomain"] = "daicho.city.jp"
    good["replicaCount"] = 3
    good["image"] = {"repository": "registry.example.jp/daicho", "tag": "1.2.3"}
    good["storage"]["backend"] = "s3"
    good["storage"]["s3"]["bucket"] = "daicho-files"
    good["storage"]["s3"]["anchorLock"] = {"days": 1826, "mode": "COMPLIANCE"}
    good["secrets"]["existingSecret"] = "daicho-env"
    good["web"]["autoscaling"]["enabled"] = True
    good["web"]["podDisruptionBudget"] = {"enabled": True, "minAvailable": "50%"}
    good["ingress"]["tls"] = {"enabled": True, "secretName": "daicho-wildcard-tls"}
    assert [error.message for error in validator.iter_errors(good)] == []


# --- templates -----------------------------------------------------------------------------


def test_strip_template_keeps_structure():
    text = (
        "{{- if .Values.enabled }}\n"
        "metadata:\n"
        '  name: {{ include "x" . }}\n'
        "  labels:\n"
        '    {{- include "labels" . | nindent 4 }}\n'
        '    extra: "{{ .Values.a }}-b"\n'
        "{{- end }}\n"
    )
    assert yaml.safe_load(strip_template(text)) == {
        "metadata": {"name": PLACEHOLDER, "labels": {"extra": f"{PLACEHOLDER}-b"}}
    }


@pytest.mark.parametrize("path", template_files(), ids=lambda path: path.name)
def test_template_parses_as_yaml(path):
    documents = load_template_documents(path)
    if path.name in {"hpa.yaml", "pdb.yaml", "pvc.yaml", "secret.yaml", "serviceaccount.yaml"}:
        # Optional resources still hold a document when their condition is stripped.
        assert documents
    for document in documents:
        assert isinstance(document, dict)
        assert document.get("apiVersion")
        assert document.get("kind")
        assert document.get("metadata", {}).get("name")


def test_templates_have_the_expected_kinds():
    kinds = [document["kind"] for document in all_documents()]
    assert kinds.count("Deployment") == 3
    for kind in ("Job", "Service", "Ingress", "HorizontalPodAutoscaler", "ConfigMap"):
        assert kinds.count(kind) == 1, kind
    assert "Secret" in kinds
    assert "ServiceAccount" in kinds


def _deployment(name: str) -> dict:
    (document,) = load_template_documents(TEMPLATES_DIR / name)
    assert document["kind"] == "Deployment"
    return document


def _container(document: dict) -> dict:
    (container,) = document["spec"]["template"]["spec"]["containers"]
    return container


def test_ingress_routes_base_domain_and_wildcard():
    text = (TEMPLATES_DIR / "ingress.yaml").read_text()
    assert "*." in text
    assert '"*.%s" .Values.baseDomain' in text
    (ingress,) = load_template_documents(TEMPLATES_DIR / "ingress.yaml")
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"]["port"]["name"] == "http"


def test_migrate_job_is_a_hook_running_shared_then_tenant_migrations():
    text = (TEMPLATES_DIR / "job-migrate.yaml").read_text()
    shared = re.search(r"migrate_schemas --shared", text)
    tenant = re.search(r"migrate_schemas --tenant --parallel 2", text)
    assert shared
    assert tenant
    assert shared.start() < tenant.start()
    (job,) = load_template_documents(TEMPLATES_DIR / "job-migrate.yaml")
    assert job["kind"] == "Job"
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert set(hooks) == {"pre-install", "pre-upgrade"}
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    script = "\n".join(_container(job)["args"])
    assert "set -euo pipefail" in script


def test_web_deployment_probes():
    container = _container(_deployment("deployment-web.yaml"))
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"] == ["web"]


def test_beat_is_a_single_replica_recreated():
    beat = _deployment("deployment-beat.yaml")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert _container(beat)["args"] == ["beat"]


def test_worker_runs_the_worker_process():
    assert _container(_deployment("deployment-worker.yaml"))["args"] == ["worker"]


def test_hpa_targets_the_web_deployment():
    (hpa,) = load_template_documents(TEMPLATES_DIR / "hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert hpa["spec"]["scaleTargetRef"]["apiVersion"] == "apps/v1"
    text = (TEMPLATES_DIR / "hpa.yaml").read_text()
    assert "with .Values.web.autoscaling" in text
    assert "if .enabled" in text


def test_pods_run_as_non_root_with_read_only_root_and_writable_tmp(values):
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    assert values["securityContext"]["allowPrivilegeEscalation"] is False
    helpers = (TEMPLATES_DIR / "_helpers.tpl").read_text()
    assert "mountPath: /tmp" in helpers
    for name in ("deployment-web.yaml", "deployment-worker.yaml", "deployment-beat.yaml"):
        text = (TEMPLATES_DIR / name).read_text()
        assert "toYaml .Values.securityContext" in text, name
        assert 'include "daicho.volumeMounts"' in text, name
        assert 'include "daicho.podSpecCommon"' in text, name


def test_secret_supports_existing_secret():
    helpers = (TEMPLATES_DIR / "_helpers.tpl").read_text()
    assert ".Values.secrets.existingSecret" in helpers
    secret = (TEMPLATES_DIR / "secret.yaml").read_text()
    assert secret.lstrip().startswith("{{")  # rendered only under a condition


# --- infra/ --------------------------------------------------------------------------------


def test_entrypoint_is_executable_and_knows_every_process():
    entrypoint = INFRA_DIR / "entrypoint.sh"
    assert os.access(entrypoint, os.X_OK)
    text = entrypoint.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    for process in ("web", "worker", "beat", "migrate"):
        assert re.search(rf"^\s*{process}\)", text, re.M), process
    assert "daicho.wsgi:application" in text
    assert "migrate_schemas --shared" in text
    assert "migrate_schemas --tenant --parallel 2" in text


def test_procfile_lists_every_process():
    entries = {}
    for line in (INFRA_DIR / "Procfile").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if match:
            entries[match.group(1)] = match.group(2)
    assert set(entries) == {"web", "worker", "beat", "migrate"}
    assert entries["web"].startswith(
        "gunicorn daicho.wsgi:application --bind 0.0.0.0:${PORT:-8000}"
    )
    assert entries["worker"].startswith("celery -A workers worker")
    assert entries["beat"].startswith("celery -A workers beat")
    assert entries["migrate"].index("--shared") < entries["migrate"].index("--tenant")


def test_env_example_documents_every_setting():
    text = (INFRA_DIR / "env.example").read_text()
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.M))
    expected = {
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "BASE_DOMAIN",
        "ALLOWED_HOSTS",
        "STORAGE_BACKEND",
        "AWS_STORAGE_BUCKET_NAME",
        "AWS_S3_ENDPOINT_URL",
        "AWS_S3_REGION_NAME",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AUDIT_ANCHOR_LOCK_DAYS",
        "AUDIT_ANCHOR_LOCK_MODE",
        "FILES_ROOT",
        "DB_CONN_MAX_AGE",
        "DB_PREPARED_STATEMENTS",
        "LOG_LEVEL",
        "SECURE_SSL_REDIRECT",
        "DAICHO_EMBEDDED",
    }
    assert expected <= names, expected - names
    assert re.search(r"^DAICHO_EMBEDDED=0$", text, re.M)


def test_the_docker_example_publishes_gunicorn_to_the_local_proxy_only():
    """infra/env.example trusts one proxy's X-Forwarded-For (TRUSTED_PROXY_COUNT=1): a
    client that reached gunicorn itself, past the proxy, wrote that header and chose its
    own address for every per-address limit, lockout and audit event (and X-Forwarded-Proto
    for HTTPS). `-p 8000:8000` published gunicorn on every interface of the host."""
    text = (INFRA_DIR / "README.md").read_text()
    published = re.findall(r"^docker run .*?-p (\S+)", text, re.M)
    assert published
    for port in published:
        assert port.startswith("127.0.0.1:"), port


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker's .dockerignore rules leave ``path`` (relative to the context) out:
    segment by segment, ``**`` standing for any number of folders."""
    import fnmatch

    def match(segments: list[str], parts: list[str]) -> bool:
        if not segments:
            return not parts
        if segments[0] == "**":
            return any(match(segments[1:], parts[i:]) for i in range(len(parts) + 1))
        return (
            bool(parts)
            and fnmatch.fnmatchcase(parts[0], segments[0])
            and match(segments[1:], parts[1:])
        )

    parts = path.split("/")
    # A pattern naming a folder leaves out what is in it.
    return any(
        match(pattern.split("/"), parts[:depth])
        for pattern in patterns
        for depth in range(1, len(parts) + 1)
    )


@pytest.mark.parametrize("path", ["prod.env", "infra/prod.env", ".env", "helm/staging.env"])
def test_filled_in_environment_files_stay_out_of_the_image_and_of_git(path):
    """infra/README runs `docker run --env-file prod.env` from the repository root, where a
    filled-in copy of env.example (SECRET_KEY, DATABASE_URL with its password, S3 keys) then
    sits: it was sent in the build context, copied into the builder stage's `COPY . .` layer
    (exported with `--cache-to … mode=max`, pushed to a registry), and `git add`-able."""
    patterns = [
        line.strip()
        for line in (INFRA_DIR / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert _dockerignored(path, patterns), path
    assert not _dockerignored("infra/env.example", patterns)
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", path], cwd=REPO_ROOT, check=False
    )
    assert ignored.returncode == 0, path


def test_dockerfile_runs_as_non_root_and_builds_static_files():
    text = (INFRA_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\} AS base$", text, re.M)
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "pip install -c constraints.txt ." in text
    assert "collectstatic --noinput" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert "DJANGO_SETTINGS_MODULE=daicho.settings.production" in text
    assert 'CMD ["web"]' in text


def test_network_policies_admit_only_the_ingress_controller_to_the_web_pods(values):
    """A pod that reached gunicorn directly would write X-Forwarded-For itself (the client
    address of lockouts and the audit trail): only the ingress controller may connect to
    the web pods, nobody to the worker and beat pods."""
    text = (TEMPLATES_DIR / "networkpolicy.yaml").read_text()
    assert text.lstrip().startswith("{{- if .Values.networkPolicy.enabled }}")
    web, worker, beat = load_template_documents(TEMPLATES_DIR / "networkpolicy.yaml")
    assert {web["kind"], worker["kind"], beat["kind"]} == {"NetworkPolicy"}
    assert web["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = web["spec"]["ingress"]
    assert [port["protocol"] for port in rule["ports"]] == ["TCP"]
    assert "toYaml .Values.networkPolicy.webIngressFrom" in text
    for document in (worker, beat):
        assert document["spec"]["policyTypes"] == ["Ingress"]
        assert "ingress" not in document["spec"]  # no rule: no connection admitted
    assert values["networkPolicy"]["enabled"] is True
    assert values["networkPolicy"]["webIngressFrom"]
