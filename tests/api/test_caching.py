"""The API's process-memory caches (daicho.caching) never outlive the truth.

Host → city, token → staff member and (staff member, ledger) → policy are cached only from
committed reads, so these tests run in a city of their own whose rows are committed, not
inside the rolled-back transaction of the other tests. Every test warms the caches with a
first request, changes something through the service that owns it, and expects the very
next request to see the change.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from daicho.accounts.models import Department, Membership, Role
from ledgers.access.services import grants_replace
from ledgers.api.tokens.models import ApiToken
from ledgers.api.tokens.services import token_issue, token_revoke
from ledgers.definitions.services import field_add, field_update, ledger_create
from ledgers.records.services import record_create
from tenants.models import Municipality
from tenants.services import municipality_provision, municipality_resume, municipality_suspend
from tests.api.conftest import records_url
from tests.conftest import ADMIN_PASSWORD

SLUG = "hino"
HOST = "hino.localhost"
_serial = itertools.count()
# The ledger administrators' own grant, kept by every change of grants here.
DESIGN = {"department": "soumu", "capabilities": ["view", "design"], "clearance": "special_care"}


@pytest.fixture(scope="module")
def hino(cities: dict[str, Any], django_db_blocker: Any) -> dict[str, Any]:
    """A committed city with a ledger administrator, for every test of this module."""
    with django_db_blocker.unblock():
        municipality_provision(
            actor=None, slug=SLUG, name="日野市", code="132128", domain=HOST,
            admin_username="admin", admin_password=ADMIN_PASSWORD,
        )  # fmt: skip
        with schema_context(SLUG):
            designer = get_user_model().objects.create_user(username="designer", password="x" * 12)
            soumu = Department.objects.create(code="soumu", name="総務課")
            shimin = Department.objects.create(code="shimin", name="市民課")
            Membership.objects.create(
                user=designer, department=soumu, role=Role.LEDGER_ADMIN, valid_from=date(2020, 4, 1)
            )
        connection.set_schema_to_public()
    return {"designer": designer, "soumu": soumu, "shimin": shimin}


@pytest.fixture
def committed(django_db_blocker: Any) -> Iterator[None]:
    """Database access outside any transaction: what a real request sees."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


@pytest.fixture
def setting(hino: dict[str, Any], committed: None) -> dict[str, Any]:
    """A fresh ledger (one record) and a clerk of 市民課 with a token, committed."""
    n = next(_serial)
    with schema_context(SLUG):
        clerk = get_user_model().objects.create_user(username=f"clerk{n}", password="x" * 12)
        membership = Membership.objects.create(
            user=clerk, department=hino["shimin"], role=Role.EDITOR, valid_from=date(2020, 4, 1)
        )
        ledger = ledger_create(
            actor=hino["designer"], code=f"cache{n}", name=f"キャッシュ{n}",
            fields=[
                {"key": "name", "label": "氏名", "type": "text", "sensitivity": "personal"},
                {"key": "amount", "label": "金額", "type": "integer"},
            ],
        )  # fmt: skip
        record = record_create(
            actor=hino["designer"], ledger=ledger, values={"name": "山田 花子", "amount": 1}
        )
        grants_replace(
            actor=hino["designer"], ledger=ledger,
            grants=[DESIGN, {"department": "shimin", "capabilities": ["view", "update"], "clearance": "personal"}],
        )  # fmt: skip
        issued = token_issue(actor=clerk, user=clerk, scopes=["*"])
    connection.set_schema_to_public()
    client = APIClient(HTTP_HOST=HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    return {
        "client": client, "clerk": clerk, "membership": membership, "ledger": ledger,
        "token": issued.record, "url": f"/api/v1/ledgers/{ledger.code}/records/{record.pk}/",
        **hino,
    }  # fmt: skip


def test_nothing_read_inside_a_transaction_is_cached(api: Any, city: dict[str, Any]) -> None:
    """Inside a transaction a read may see its own uncommitted rows, which a rollback takes
    back (as after every other test): such reads never fill a cache."""
    client = api("clerk")
    url = records_url(city["record"].pk)
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    statements = " ".join(q["sql"] for q in queries.captured_queries)
    for table in ("tenants_domain", "ledgers_apitoken", "ledgers_grant", "accounts_membership"):
        assert table in statements


def _read(setting: dict[str, Any]) -> Any:
    response = setting["client"].get(setting["url"])
    connection.set_schema_to_public()
    return response


def test_a_warm_read_makes_one_query_the_record_with_its_audit_event(
    setting: dict[str, Any],
) -> None:
    client, url = setting["client"], setting["url"]
    assert client.get(url).status_code == 200
    # The next request of the same city on the same connection, as in a web process.
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 1, statements
    assert statements[0].startswith("WITH r AS (SELECT")
    assert "INSERT INTO ledgers_auditevent" in statements[0]


def test_suspending_a_city_takes_effect_on_the_next_request(setting: dict[str, Any]) -> None:
    assert _read(setting).status_code == 200
    municipality_suspend(
        actor=None, municipality=Municipality.objects.get(schema_name=SLUG), reason="テスト"
    )
    try:
        assert _read(setting).status_code == 403
    finally:
        municipality_resume(actor=None, municipality=Municipality.objects.get(schema_name=SLUG))
    assert _read(setting).status_code == 200


def test_a_revoked_token_is_refused_on_the_next_request(setting: dict[str, Any]) -> None:
    assert _read(setting).status_code == 200
    with schema_context(SLUG):
        token_revoke(actor=setting["clerk"], token=ApiToken.objects.get(pk=setting["token"].pk))
    assert _read(setting).status_code == 401


def test_a_deactivated_account_is_refused_on_the_next_request(setting: dict[str, Any]) -> None:
    assert _read(setting).status_code == 200
    with schema_context(SLUG):
        clerk = get_user_model().objects.get(pk=setting["clerk"].pk)
        clerk.is_active = False
        clerk.save(update_fields=["is_active"])
    assert _read(setting).status_code == 401


def test_a_token_that_expires_while_cached_is_refused(setting: dict[str, Any]) -> None:
    with schema_context(SLUG):
        issued = token_issue(
            actor=setting["clerk"], user=setting["clerk"], scopes=["*"],
            lifetime=timedelta(seconds=1),
        )  # fmt: skip
    connection.set_schema_to_public()
    client = APIClient(HTTP_HOST=HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    assert client.get(setting["url"]).status_code == 200
    time.sleep((issued.record.expires_at - timezone.now()).total_seconds() + 0.05)
    assert client.get(setting["url"]).status_code == 401


def test_a_grant_change_takes_effect_on_the_next_request(setting: dict[str, Any]) -> None:
    assert _read(setting).status_code == 200
    with schema_context(SLUG):
        grants_replace(
            actor=setting["designer"], ledger=setting["ledger"],
            grants=[DESIGN],
        )  # fmt: skip
    assert _read(setting).status_code == 404


def test_a_lowered_clearance_masks_on_the_next_request(setting: dict[str, Any]) -> None:
    assert _read(setting).json()["values"]["name"] == "山田 花子"
    with schema_context(SLUG):
        grants_replace(
            actor=setting["designer"], ledger=setting["ledger"],
            grants=[DESIGN, {"department": "shimin", "capabilities": ["view"], "clearance": "internal"}],
        )  # fmt: skip
    assert _read(setting).json()["values"]["name"] == {"masked": True}


def test_an_ended_membership_takes_effect_on_the_next_request(setting: dict[str, Any]) -> None:
    assert _read(setting).status_code == 200
    with schema_context(SLUG):
        membership = Membership.objects.get(pk=setting["membership"].pk)
        membership.valid_to = timezone.localdate() - timedelta(days=1)
        membership.save(update_fields=["valid_to"])
    assert _read(setting).status_code == 404


def test_a_definition_change_takes_effect_on_the_next_request(setting: dict[str, Any]) -> None:
    assert _read(setting).json()["values"]["name"] == "山田 花子"
    with schema_context(SLUG):
        ledger = field_update(
            actor=setting["designer"], ledger=setting["ledger"], key="name",
            changes={"sensitivity": "special_care"},
        )  # fmt: skip
        field_add(
            actor=setting["designer"], ledger=ledger,
            field={"key": "note", "label": "備考", "type": "text"},
        )  # fmt: skip
    fields = setting["client"].get(f"/api/v1/ledgers/{setting['ledger'].code}/fields/").json()
    assert "note" in [f["key"] for f in fields["results"]]
    assert _read(setting).json()["values"]["name"] == {"masked": True}


def test_last_used_is_written_once_a_minute_not_on_every_request(
    setting: dict[str, Any],
) -> None:
    assert _read(setting).status_code == 200
    with schema_context(SLUG):
        first = ApiToken.objects.get(pk=setting["token"].pk).last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        assert _read(setting).status_code == 200
    assert not any("last_used_at" in q["sql"] for q in queries.captured_queries)
    with schema_context(SLUG):
        assert ApiToken.objects.get(pk=setting["token"].pk).last_used_at == first


@pytest.fixture(scope="module")
def kokubunji(hino: dict[str, Any], django_db_blocker: Any) -> dict[str, Any]:
    """A second committed city, with a ledger administrator and a token."""
    with django_db_blocker.unblock():
        municipality_provision(
            actor=None, slug="kokubunji", name="国分寺市", code="132144",
            domain="kokubunji.localhost", admin_username="admin", admin_password=ADMIN_PASSWORD,
        )  # fmt: skip
        with schema_context("kokubunji"):
            # The administrator has changed the password the operator typed (no token before).
            get_user_model().objects.filter(username="admin").update(must_change_password=False)
            user = get_user_model().objects.get(username="admin")
            token = token_issue(actor=user, user=user, scopes=["*"]).token
        connection.set_schema_to_public()
    client = APIClient(HTTP_HOST="kokubunji.localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return {"client": client}


def test_a_write_with_every_cache_warm_lands_in_the_city_of_the_host(
    setting: dict[str, Any], kokubunji: dict[str, Any]
) -> None:
    """With host, token and policy cached, a create reaches the database first through the
    records service's raw prepared statement, which does not set ``search_path`` itself:
    the connection must already be on this city, not on the one it served last."""
    records = f"/api/v1/ledgers/{setting['ledger'].code}/records/"
    with schema_context(SLUG):
        grants_replace(
            actor=setting["designer"], ledger=setting["ledger"],
            grants=[DESIGN, {"department": "shimin", "capabilities": ["view", "create"], "clearance": "personal"}],
        )  # fmt: skip
    connection.set_schema_to_public()
    client = setting["client"]
    assert client.get(records).status_code == 200  # warms this city's caches
    assert kokubunji["client"].get("/api/v1/me/").status_code == 200  # the connection moves
    created = client.post(records, {"values": {"name": "佐藤 一郎"}}, format="json")
    connection.set_schema_to_public()
    assert created.status_code == 201
    from ledgers.records.models import Record

    with schema_context("kokubunji"):
        assert not Record.objects.filter(pk=created.json()["id"]).exists()
    with schema_context(SLUG):
        assert Record.objects.filter(pk=created.json()["id"]).exists()


def test_a_policy_is_worked_out_for_the_day_it_is_cached_under(
    setting: dict[str, Any], monkeypatch: Any
) -> None:
    """A request straddling midnight: the cache key took the day before, the policy its own
    (later) date, so a membership starting on the new day was cached as the old day's."""
    import types

    import ledgers.api.output as output

    with schema_context(SLUG):
        Membership.objects.filter(pk=setting["membership"].pk).update(
            valid_from=timezone.localdate()
        )
    # The key's day is yesterday (just before midnight); the rest of the request, today.
    yesterday = timezone.localdate() - timedelta(days=1)
    monkeypatch.setattr(output, "timezone", types.SimpleNamespace(localdate=lambda: yesterday))
    assert _read(setting).status_code == 404  # no membership in force on the key's day


def _twin(slug: str, designer: Any, name: str) -> dict[str, Any]:
    """A ledger ``twin`` (the given id) with one record of ``name``, a 市民課 clerk with a
    token, in ``slug``: built alike in two cities."""
    with schema_context(slug):
        shimin, _ = Department.objects.get_or_create(code="shimin", defaults={"name": "市民課"})
        Department.objects.get_or_create(code="soumu", defaults={"name": "総務課"})
        clerk = get_user_model().objects.create_user(username="twin", password="x" * 12)
        Membership.objects.create(
            user=clerk, department=shimin, role=Role.EDITOR, valid_from=date(2020, 4, 1)
        )
        ledger = ledger_create(
            actor=designer, code="twin", name="双子",
            fields=[
                {"key": "name", "label": "氏名", "type": "text", "sensitivity": "personal"},
                {"key": "disclosure", "label": "照会可否", "type": "department_flags",
                 "options": {"departments": ["shimin"]}},
            ],
        )  # fmt: skip
        grants_replace(
            actor=designer, ledger=ledger,
            grants=[DESIGN,
                    {"department": "shimin", "capabilities": ["view", "search", "create"],
                     "clearance": "personal"}],
        )  # fmt: skip
        record = record_create(
            actor=clerk, ledger=ledger, values={"name": name, "disclosure": {"shimin": True}}
        )
        token = token_issue(actor=clerk, user=clerk, scopes=["*"]).token
    connection.set_schema_to_public()
    client = APIClient(HTTP_HOST=f"{slug}.localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return {"client": client, "ledger": ledger, "record": record, "name": name}


def test_two_cities_built_alike_see_only_their_own_records_through_warm_caches(
    hino: dict[str, Any], kokubunji: dict[str, Any], committed: None
) -> None:
    """The cross-city review: a compiled record read (``ledgers.access.policy``'s
    ``_RECORD_QUERIES``) is kept per process by ledger id, visibility and department codes,
    not by city, since its SQL names no schema (the connection's ``search_path`` does). Two
    cities whose ledgers have the same id, whose departments have the same codes, served
    in turn on one connection with host, token, policy and compiled read warm, each see
    their own records only, and a write lands in the city of the host."""
    from ledgers.definitions.models import Ledger

    # The same next ledger id in both cities.
    ids = []
    for slug in (SLUG, "kokubunji"):
        with schema_context(slug):
            ids.append(Ledger.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
    for slug in (SLUG, "kokubunji"):
        with schema_context(slug), connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('ledgers_ledger', 'id'), %s)", [max(ids) + 1]
            )
    with schema_context("kokubunji"):
        admin = get_user_model().objects.get(username="admin")
    a = _twin(SLUG, hino["designer"], "日野の人")
    b = _twin("kokubunji", admin, "国分寺の人")
    assert a["ledger"].pk == b["ledger"].pk
    url = "/api/v1/ledgers/twin/records/"
    for _ in range(2):
        for mine, theirs in ((a, b), (b, a)):
            read = mine["client"].get(f"{url}{mine['record'].pk}/")
            assert read.status_code == 200
            assert read.json()["values"]["name"] == mine["name"]
            assert mine["client"].get(f"{url}{theirs['record'].pk}/").status_code == 404
            listed = mine["client"].get(url).json()["results"]
            assert {r["values"]["name"] for r in listed} <= {mine["name"], f"{mine['name']}2"}
            created = mine["client"].post(
                url, {"values": {"name": f"{mine['name']}2", "disclosure": {"shimin": True}}},
                format="json",
            )  # fmt: skip
            assert created.status_code == 201
            connection.set_schema_to_public()
