"""The city administrator's security page: 2FA required or not, the idle timeout."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django_tenants.utils import schema_context

from daicho.accounts.models import CitySecuritySettings
from daicho.accounts.selectors import security_settings_get
from tests.accounts.conftest import actions_since, audit_seq, audit_since, sign_in
from tests.conftest import ADMIN_PASSWORD, City


@pytest.fixture
def city_admin(mitaka: City) -> Client:
    client = Client()
    assert sign_in(client, mitaka, "admin", ADMIN_PASSWORD).status_code == 302
    return client


def test_defaults_hold_until_the_city_sets_its_own(mitaka: City) -> None:
    with schema_context(mitaka.slug):
        assert not CitySecuritySettings.objects.exists()
        current = security_settings_get()
    assert current.require_2fa is False
    assert current.session_timeout_minutes == 30


def test_staff_who_are_not_administrators_get_403(signed_in: Client, mitaka: City) -> None:
    assert signed_in.get("/accounts/security/", HTTP_HOST=mitaka.domain).status_code == 403


def test_the_administrator_changes_the_rules_and_it_is_audited(
    city_admin: Client, mitaka: City, musashino: City
) -> None:
    page = city_admin.get("/accounts/security/", HTTP_HOST=mitaka.domain)
    assert page.status_code == 200
    assert "二要素認証を必須にする" in page.content.decode()
    start = audit_seq(mitaka)
    response = city_admin.post(
        "/accounts/security/",
        {"action": "save", "require_2fa": "on", "session_timeout_minutes": "15"},
        HTTP_HOST=mitaka.domain,
    )
    assert response.status_code == 302
    with schema_context(mitaka.slug):
        current = security_settings_get()
    assert (current.require_2fa, current.session_timeout_minutes) == (True, 15)
    assert actions_since(mitaka, start) == ["auth.settings_changed"]
    assert audit_since(mitaka, start)[0].details["require_2fa"] is True
    # Musashino keeps its own defaults.
    with schema_context(musashino.slug):
        assert security_settings_get().require_2fa is False


@pytest.mark.parametrize("minutes", ["0", "4", "481", "abc"])
def test_an_out_of_range_timeout_is_refused(city_admin: Client, mitaka: City, minutes: str) -> None:
    response = city_admin.post(
        "/accounts/security/",
        {"action": "save", "session_timeout_minutes": minutes},
        HTTP_HOST=mitaka.domain,
    )
    assert response.status_code == 200
    with schema_context(mitaka.slug):
        assert not CitySecuritySettings.objects.exists()


def test_the_administrator_is_sent_to_set_up_2fa_after_requiring_it(
    city_admin: Client, mitaka: City
) -> None:
    city_admin.post(
        "/accounts/security/",
        {"action": "save", "require_2fa": "on", "session_timeout_minutes": "30"},
        HTTP_HOST=mitaka.domain,
    )
    response = city_admin.get("/accounts/security/", HTTP_HOST=mitaka.domain)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"


def test_settings_row_is_a_singleton(mitaka: City, staff: Any) -> None:
    with schema_context(mitaka.slug), pytest.raises(IntegrityError), transaction.atomic():
        CitySecuritySettings.objects.create(id=2)
