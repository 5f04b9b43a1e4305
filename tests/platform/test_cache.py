"""Cache keys are prefixed per city: one city never reads another's entries."""

from __future__ import annotations

from django.core.cache import cache
from django_tenants.utils import schema_context

from tests.conftest import City


def test_the_same_key_is_a_different_entry_in_each_city(mitaka: City, musashino: City) -> None:
    with schema_context(mitaka.slug):
        cache.set("dashboard:counts", {"records": 12}, 30)
    with schema_context(musashino.slug):
        assert cache.get("dashboard:counts") is None
        cache.set("dashboard:counts", {"records": 7}, 30)
    with schema_context(mitaka.slug):
        assert cache.get("dashboard:counts") == {"records": 12}
        cache.delete("dashboard:counts")
    with schema_context(musashino.slug):
        assert cache.get("dashboard:counts") == {"records": 7}
        cache.delete("dashboard:counts")
