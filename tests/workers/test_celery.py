"""A task sent for a city runs in that city's schema: a real worker on real Redis."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from celery.contrib.testing.worker import start_worker
from django_tenants.utils import schema_context

from tenants.exceptions import TenantRequired
from tenants.models import Municipality
from tests.workers.rounds import forget_rounds
from workers.celery import app
from workers.tasks import probe_all_cities, tenant_health_probe

# What a failing task may have in hand: a name and a telephone number.
VALUE = "山田花子 090-1234-5678"


@app.task(name="tests.workers.refuse_value")
def refuse_value(value: str) -> None:
    """Fails quoting its argument, as a database error quotes the row it failed on."""
    raise ValueError(f"refused {value!r}")


@pytest.fixture(scope="module")
def celery_worker(cities: dict) -> Iterator[object]:
    # Not eager: the message goes through Redis and a worker thread with its own
    # database connection picks it up.
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False) as worker:
        yield worker


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("slug", ["mitaka", "musashino"])
def test_task_runs_in_the_schema_it_was_sent_from(celery_worker: object, slug: str) -> None:
    with schema_context(slug):
        result = tenant_health_probe.delay()
    payload = result.get(timeout=30)
    assert payload["schema"] == slug
    assert payload["tenant"] == slug
    assert payload["staff"] >= 1


@pytest.mark.django_db
def test_a_city_task_sent_from_public_is_refused(celery_worker: object) -> None:
    result = tenant_health_probe.delay()
    with pytest.raises(TenantRequired):
        result.get(timeout=30, propagate=True)


@pytest.mark.django_db
@pytest.mark.parametrize("schema", ["no_such_city", "information_schema"])
def test_a_message_naming_no_city_is_refused_after_a_city_was_served(
    celery_worker: object, schema: str
) -> None:
    """A message whose schema names no city (a city's row gone since it was sent, a header
    written by hand) finds no city: the worker stays on public and refuses it, rather than
    running in the schema of the city it served last (here 三鷹市)."""
    with schema_context("mitaka"):
        assert tenant_health_probe.delay().get(timeout=30)["schema"] == "mitaka"
    result = tenant_health_probe.apply_async(headers={"_schema_name": schema})
    with pytest.raises(TenantRequired):
        result.get(timeout=30, propagate=True)


@pytest.mark.django_db
def test_beat_fan_out_sends_one_probe_per_active_city(celery_worker: object) -> None:
    forget_rounds()  # a probe another run's round left waiting would hold its city back
    # The cities committed for the session so far: Mitaka and Musashino at least, others
    # (Fuchu) once a test before this one has asked for them.
    active = Municipality.objects.exclude(schema_name="public").filter(
        status=Municipality.Status.ACTIVE
    )
    assert active.count() >= 2
    assert probe_all_cities.delay().get(timeout=30) == active.count()


@pytest.mark.parametrize("last_run", ["2026-11-30T00:10:00+09:00", "2026-11-30T16:00:00+09:00"])
def test_the_daily_anchor_runs_just_after_midnight_in_japan(last_run: str) -> None:
    """Celery reads its crontabs in Django's TIME_ZONE (Asia/Tokyo): ``crontab(5, 15)``,
    meant as 15:05 UTC, anchored every city's chain at 15:05 in Japan, in office hours,
    and a day's file named by that day held its head of mid-afternoon, not of the day
    before."""
    schedule = app.conf.beat_schedule["audit-anchor"]["schedule"]
    start, delta, _now = schedule.remaining_delta(datetime.fromisoformat(last_run))
    assert (start + delta).astimezone(ZoneInfo("Asia/Tokyo")) == datetime.fromisoformat(
        "2026-12-01T00:05:00+09:00"
    )


def _stored(task_id: str) -> tuple[bytes, dict]:
    """The result of ``task_id`` as the backend's Redis holds it."""
    raw = app.backend.client.get(app.backend.get_key_for_task(task_id))
    assert raw is not None
    return raw, json.loads(raw)


def _has_value(raw: bytes, meta: dict) -> bool:
    text = raw.decode() + json.dumps(meta, ensure_ascii=False)
    return any(part in text for part in ("山田", "花子", "090-1234-5678"))


@pytest.mark.django_db
def test_a_failed_task_leaves_no_value_in_the_result_backend(celery_worker: object) -> None:
    """Found by a review: the result backend kept a failed task's exception (its arguments:
    the text, which may quote values) and its whole traceback in the Redis every city
    shares, for an hour; nobody reads them. Kept now: the state and the exception's type."""
    result = refuse_value.delay(VALUE)
    with pytest.raises(ValueError, match=r"\A\Z"):  # the type, without its text
        result.get(timeout=30)
    raw, meta = _stored(result.id)
    assert meta["status"] == "FAILURE"
    assert (meta["result"]["exc_module"], meta["result"]["exc_type"]) == ("builtins", "ValueError")
    assert meta["traceback"] is None
    assert "args" not in meta  # result_extended stays off
    assert "kwargs" not in meta
    assert not _has_value(raw, meta)


@pytest.mark.parametrize("mark", ["mark_as_failure", "mark_as_retry"])
def test_the_result_backend_keeps_an_errors_type_only(mark: str) -> None:
    task_id = str(uuid.uuid4())
    try:
        raise ValueError(f"refused {VALUE!r}")
    except ValueError as exc:
        getattr(app.backend, mark)(task_id, exc, traceback=f"Traceback …\nValueError: {VALUE}")
    raw, meta = _stored(task_id)
    assert meta["status"] == ("FAILURE" if mark == "mark_as_failure" else "RETRY")
    assert meta["result"]["exc_type"] == "ValueError"
    assert meta["traceback"] is None
    assert not _has_value(raw, meta)
    app.backend.forget(task_id)
