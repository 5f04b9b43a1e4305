"""/readyz: database, Redis and storage reachable, or 503 naming the failing part."""

from __future__ import annotations

from django.test import Client, override_settings


def test_readyz_is_200_when_everything_answers(cities: dict, db: None) -> None:
    response = Client().get("/readyz", HTTP_HOST="mitaka.localhost")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "storage": "ok"}


def test_readyz_names_redis_when_it_is_down(cities: dict, db: None) -> None:
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = Client().get("/readyz", HTTP_HOST="mitaka.localhost")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["database"] == "ok"


def test_readyz_names_storage_when_it_is_not_writable(cities: dict, db: None, tmp_path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the files folder should be")
    with override_settings(FILES_ROOT=blocked):
        response = Client().get("/readyz", HTTP_HOST="localhost")
    assert response.status_code == 503
    assert response.json()["failing"] == ["storage"]
