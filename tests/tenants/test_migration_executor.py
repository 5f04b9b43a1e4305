"""`migrate_schemas` skips cities that have nothing pending, and migrates those that do."""

from __future__ import annotations

from django.db import connection

from tenants.migration_executor import schemas_with_pending_migrations
from tests.conftest import City


def test_up_to_date_cities_are_not_pending(mitaka: City, musashino: City) -> None:
    assert schemas_with_pending_migrations(["mitaka", "musashino"]) == []


def test_a_city_missing_a_migration_is_pending(mitaka: City, musashino: City) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM musashino.django_migrations WHERE app = 'sessions' AND name = '0001_initial'"
        )
    assert schemas_with_pending_migrations(["mitaka", "musashino"]) == ["musashino"]


def test_a_schema_without_a_migrations_table_is_pending(cities: dict, db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA half_made")
    assert schemas_with_pending_migrations(["half_made", "mitaka"]) == ["half_made"]
