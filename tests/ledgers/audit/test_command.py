"""``manage.py audit_verify --schema <city>``: OK with the count, or BROKEN at a seq, status 1."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Max
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent, AuditSeal
from ledgers.audit.services import audit_seal, audit_verify
from tests.conftest import FUCHU, City, test_database_url
from tests.ledgers.audit.conftest import as_superuser, record_events

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_an_intact_chain_prints_ok_and_the_count(in_mitaka: City) -> None:
    record_events(4)
    out = io.StringIO()
    call_command("audit_verify", "--schema", "mitaka", stdout=out)
    assert out.getvalue().strip() == f"OK {AuditSeal.objects.count()} events"


def test_a_broken_chain_prints_the_seq_and_exits_with_status_1(in_mitaka: City) -> None:
    events = record_events(4)
    audit_seal()
    as_superuser(
        "mitaka", "ledgers_auditevent",
        'UPDATE "mitaka"."ledgers_auditevent" SET details = %s WHERE seq = %s',
        [json.dumps({"screen": "消した"}), events[2].seq],
    )  # fmt: skip
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("audit_verify", "--schema", "mitaka", stdout=out)
    assert exited.value.code == 1
    assert out.getvalue().startswith(f"BROKEN at seq {events[2].seq}: [event_changed] ")


@pytest.mark.parametrize("schema", ["public", "nowhere"])
def test_an_unknown_city_is_an_error(mitaka: City, schema: str) -> None:
    with pytest.raises(CommandError, match=schema):
        call_command("audit_verify", "--schema", schema)


def test_the_command_runs_as_a_process_on_one_snapshot(fuchu: None, db: None) -> None:
    """Outside any transaction (REPEATABLE READ); it sees what is committed, and what it
    leaves in the city's trail is committed (Fuchu: the committed city of threads and
    processes; Mitaka's trail is the other tests')."""
    with schema_context(FUCHU.slug):
        before = AuditEvent.objects.aggregate(last=Max("seq"))["last"] or 0
    env = {
        **os.environ, "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "daicho.settings.test",
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "manage.py", "audit_verify", "--schema", FUCHU.slug],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK ")
    with schema_context(FUCHU.slug):
        left = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))
    assert [(e.action, e.actor_id, e.details.get("command") or e.details.get("via")) for e in left] == [
        ("operator.command", None, "manage.py audit_verify"),
        ("audit.verify", None, "manage.py audit_verify"),
    ]  # fmt: skip
    assert left[1].details["ok"] is True


def test_an_operator_s_verification_is_in_the_city_s_trail(mitaka: City) -> None:
    """``manage.py audit_verify`` left nothing in the city: its administrators and auditors
    could not see that an operator had verified their trail, nor what came of it. Each run
    now leaves ``operator.command`` before it verifies (sealed and verified with the rest)
    and ``audit.verify`` with its outcome, no actor and ``via``; the chain still verifies."""
    with schema_context(mitaka.slug):
        before = AuditEvent.objects.aggregate(last=Max("seq"))["last"] or 0
    call_command("audit_verify", "--schema", mitaka.slug, stdout=io.StringIO())
    with schema_context(mitaka.slug):
        left = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))
        assert [(e.action, e.actor_id, e.details) for e in left] == [
            ("operator.command", None, {"command": "manage.py audit_verify", "arguments": {}}),
            ("audit.verify", None, {"ok": True, "events": left[0].seal.n, "code": "",
                                    "seq": None, "via": "manage.py audit_verify"}),
        ]  # fmt: skip
        assert audit_verify(schema=mitaka.slug).ok
