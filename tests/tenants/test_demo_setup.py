"""``manage.py demo_setup`` (``make run``): its printed sign-ins work at once."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_tenants.utils import schema_context


def test_the_demo_administrators_are_not_asked_to_change_their_password(
    cities: dict, db: None, settings: Any, tmp_path: Path
) -> None:
    """The demo's passwords are the developer's own (random, in var/): unlike a password an
    operator chose, none needs changing at the first sign-in."""
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    settings.BASE_DOMAIN = "localhost"
    with schema_context("mitaka"):
        get_user_model().objects.filter(username="admin").update(must_change_password=True)
    out = StringIO()
    call_command("demo_setup", "--port", "8000", stdout=out)
    assert "http://mitaka.localhost:8000/  admin / " in out.getvalue()
    for slug in ("mitaka", "musashino"):
        with schema_context(slug):
            assert get_user_model().objects.get(username="admin").must_change_password is False
    assert (tmp_path / "demo-credentials.json").stat().st_mode & 0o777 == 0o600
