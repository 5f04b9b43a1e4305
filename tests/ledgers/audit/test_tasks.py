"""Beat fans sealing and anchoring out to every city; each runs in the city's schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery.contrib.testing.worker import start_worker
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from tenants.anchors import AuditAnchor
from tenants.exceptions import TenantRequired
from tenants.models import Municipality
from tests.conftest import City
from tests.ledgers.audit.conftest import record_events
from workers.audit_tasks import anchor_all_cities, seal_all_cities, seal_city
from workers.celery import app


def _city_count() -> int:
    return Municipality.objects.exclude(schema_name="public").count()


@pytest.fixture
def eager() -> Iterator[None]:
    """Sent tasks run at once in this process (inside the test's transaction)."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_the_city_task_seals_in_the_schema_it_was_sent_from(mitaka: City) -> None:
    with schema_context("mitaka"):
        record_events(3)
        result = seal_city.apply().get()
        assert result["schema"] == "mitaka"
        assert result["sealed"] >= 3
        assert not AuditEvent.objects.filter(seal__isnull=True).exists()


def test_the_city_task_refuses_public(db: None) -> None:
    with pytest.raises(TenantRequired):
        seal_city.apply().get()


def test_beat_seal_fan_out_seals_every_city(cities: dict[str, City], db: None, eager: None) -> None:
    for slug in cities:
        with schema_context(slug):
            record_events(2)
    assert seal_all_cities.apply().get() == _city_count()
    for slug in cities:
        with schema_context(slug):
            assert not AuditEvent.objects.filter(seal__isnull=True).exists()


def test_beat_anchor_fan_out_anchors_every_city(
    cities: dict[str, City], db: None, eager: None
) -> None:
    before = set(AuditAnchor.objects.values_list("pk", flat=True))
    assert anchor_all_cities.apply().get() == _city_count()
    anchored = AuditAnchor.objects.exclude(pk__in=before)
    assert set(anchored.values_list("municipality__schema_name", flat=True)) >= set(cities)


@pytest.fixture(scope="module")
def celery_worker(cities: dict) -> Iterator[object]:
    # Not eager: messages go through Redis to a worker thread with its own connection.
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False) as worker:
        yield worker


@pytest.mark.parametrize("slug", ["mitaka", "musashino"])
def test_a_real_worker_seals_in_the_city_the_task_was_sent_from(
    celery_worker: object, cities: dict[str, City], db: None, slug: str
) -> None:
    with schema_context(slug):
        result = seal_city.delay()
    payload = result.get(timeout=30)
    assert payload["schema"] == slug
    assert payload["sealed"] >= 0


def test_a_real_worker_runs_the_beat_fan_out(celery_worker: object, db: None) -> None:
    assert seal_all_cities.delay().get(timeout=30) == _city_count()
