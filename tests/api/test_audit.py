"""GET /api/v1/audit/events/ and POST /api/v1/audit/verify/."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from ledgers.api.tokens.services import token_issue
from ledgers.audit.services import audit_anchor
from tests.api.conftest import records_url
from tests.conftest import City
from tests.ledgers.audit.conftest import dated_by_hand


def test_auditors_read_events_with_filters(api: Any, city: dict[str, Any]) -> None:
    api("clerk").get(records_url(city["record"].pk))
    auditor = api("auditor")
    response = auditor.get("/api/v1/audit/events/", {"action": "record.view", "actor": "clerk"})
    assert response.status_code == 200
    events = response.json()["results"]
    assert [(e["action"], e["actor"], e["record_id"]) for e in events] == [
        ("record.view", "clerk", str(city["record"].pk))
    ]
    by_record = auditor.get("/api/v1/audit/events/", {"record": str(city["record"].pk)}).json()[
        "results"
    ]
    assert {e["action"] for e in by_record} >= {"record.create", "record.view"}
    assert api("clerk").get("/api/v1/audit/events/").status_code == 403


def test_verify_answers_ok_for_an_untouched_chain(api: Any) -> None:
    response = api("auditor").post("/api/v1/audit/verify/")
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response.json()["events"] > 0


@contextmanager
def _verification_running(schema: str, *, for_seconds: float) -> Iterator[None]:
    """Another session holding what a running verification of ``schema`` holds: the city's
    verification lock ("AUDV") and its sealing lock ("AUDT", taken by verify and by the
    sealing task alike), both released after ``for_seconds`` (the verification ends)."""
    settings = connection.settings_dict
    holder = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"],
        host=settings["HOST"], port=settings["PORT"] or 5432, autocommit=True,
    )  # fmt: skip
    keys = [
        holder.execute(
            "SELECT (%s::bigint << 32) | oid::bigint FROM pg_namespace WHERE nspname = %s",
            [lock_class, schema],
        ).fetchone()[0]
        for lock_class in (0x41554456, 0x41554454)
    ]
    for key in keys:
        holder.execute("SELECT pg_advisory_lock(%s)", [key])
    ends = threading.Timer(for_seconds, holder.execute, ["SELECT pg_advisory_unlock_all()"])
    ends.start()
    try:
        yield
    finally:
        ends.join()
        holder.close()


def test_a_verify_while_one_of_the_city_runs_is_refused_at_once_not_kept_waiting(
    api: Any, musashino: City
) -> None:
    """Found by the cross-city review: a verification waited on the city's sealing lock for
    as long as the one running took (seconds to minutes on a large chain), holding a web
    thread that every city's requests share: a few concurrent ``POST …/verify/`` with one
    city's token kept a pod from answering the other cities. Now one verification per city
    runs, another of the same city is told at once to come back (409), and other cities
    verify meanwhile."""
    with schema_context(musashino.slug):
        admin = get_user_model().objects.get(username="admin")
        issued = token_issue(actor=admin, user=admin, scopes=["audit:read"]).token
    other_city = APIClient(HTTP_HOST=musashino.domain)
    other_city.credentials(HTTP_AUTHORIZATION=f"Bearer {issued}")
    auditor = api("auditor")
    with _verification_running("mitaka", for_seconds=3):
        started = time.monotonic()
        busy = auditor.post("/api/v1/audit/verify/")
        waited = time.monotonic() - started
        assert (busy.status_code, waited < 2) == (409, True), (busy.status_code, waited)
        assert busy.json()["code"] == "ERROR_AUDIT_VERIFY_RUNNING"
        assert busy["Retry-After"] == "10"
        elsewhere = other_city.post("/api/v1/audit/verify/")
        assert elsewhere.status_code == 200
        assert elsewhere.json()["schema"] == "musashino"
    done = auditor.post("/api/v1/audit/verify/")
    assert done.status_code == 200
    assert done.json()["ok"] is True


def test_a_period_given_as_dates_includes_its_last_day(api: Any, city: dict[str, Any]) -> None:
    """A date is that whole day in Japan time at both ends (Django's ``parse_datetime`` read
    "2026-11-30" as its midnight, and ``to=`` left the whole day out)."""
    from django.utils import timezone

    api("clerk").get(records_url(city["record"].pk))
    today = timezone.localdate().isoformat()
    listed = api("auditor").get(
        "/api/v1/audit/events/", {"action": "record.view", "from": today, "to": today}
    )
    assert listed.status_code == 200
    assert [e["actor"] for e in listed.json()["results"]] == ["clerk"]


@pytest.mark.parametrize("form", ["%Y%m%d", "%G-W%V-%u"])
def test_a_period_given_as_a_compact_or_week_date_includes_its_last_day(
    api: Any, city: dict[str, Any], form: str
) -> None:
    """``to=20261130`` (ISO 8601's basic form, how Japanese systems write dates) is that
    whole day too: Django's ``parse_datetime`` read it as the day's midnight, so
    ``from=20261130&to=20261130`` answered no event at all for a day of reads."""
    from django.utils import timezone

    api("clerk").get(records_url(city["record"].pk))
    today = timezone.localdate().strftime(form)
    listed = api("auditor").get(
        "/api/v1/audit/events/", {"action": "record.view", "from": today, "to": today}
    )
    assert listed.status_code == 200
    assert [e["actor"] for e in listed.json()["results"]] == ["clerk"]


def test_a_period_ending_on_the_last_representable_day_is_open_ended(
    api: Any, city: dict[str, Any]
) -> None:
    """``to=9999-12-31`` ("until further notice") was a server error: the day after it,
    where the period ends, is past Python's dates."""
    api("clerk").get(records_url(city["record"].pk))
    listed = api("auditor").get(
        "/api/v1/audit/events/", {"action": "record.view", "from": "2000-01-01", "to": "9999-12-31"}
    )
    assert listed.status_code == 200, listed.content
    assert [e["actor"] for e in listed.json()["results"]] == ["clerk"]


def test_a_moment_with_its_offset_typed_unencoded_reads_as_written(
    api: Any, city: dict[str, Any]
) -> None:
    """``from=2000-01-01T00:00:00+09:00`` typed into a URL: its + arrives as a space."""
    api("clerk").get(records_url(city["record"].pk))
    auditor = api("auditor")
    url = "/api/v1/audit/events/?action=record.view&from=2000-01-01T00:00:00+09:00"
    listed = auditor.client.get(url)
    assert listed.status_code == 200, listed.content
    assert [e["actor"] for e in listed.json()["results"]] == ["clerk"]
    later = auditor.client.get(url.replace("2000-01-01", "2099-01-01"))
    assert later.status_code == 200
    assert later.json()["results"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"record": "not-a-uuid"},
        {"from": "2026-02-30T00:00:00"},
        {"to": "2026-02-30"},
        {"action": "record.\x00"},
        {"actor": "a\x00b"},
    ],
)
def test_hostile_filters_are_a_4xx(api: Any, city: dict[str, Any], params: dict[str, str]) -> None:
    response = api("auditor").get("/api/v1/audit/events/", params)
    assert response.status_code == 400, response.content
    assert response.json()["code"].startswith("ERROR_")


#: What stored text may not hold (``text_problem``), each as the answer names it.
UNSEEN = {
    "\u200b": "目に見えない文字（U+200B ゼロ幅スペース）が含まれています。",
    "\u202e": "文字の表示順を入れ替える制御文字（U+202E 右から左への上書き）が含まれています。",
    "\u2800": "目に見えない文字（U+2800 点字の空白）が含まれています。",
}


@pytest.mark.parametrize("char", sorted(UNSEEN))
@pytest.mark.parametrize("name", ["actor", "ledger", "action", "record", "from", "page_size"])
def test_an_audit_filter_holding_what_stored_text_may_not_is_refused_naming_it(
    api: Any, city: dict[str, Any], name: str, char: str
) -> None:
    """Found by a review: the audit trail keeps search terms and list filters as the search
    read them, but an auditor's own filters as typed: ``actor=cl\\u200berk`` (an exact
    filter, which matched no one) left an ``audit.read`` that looked like a read of clerk's
    trail, ``\\u202e`` reordered what the next auditor read. Exact filters holding such a
    character are refused, as an exact filter on a record's field is (400 naming it), and
    leave no ``audit.read``; the filter typed plainly is kept as it was read."""
    auditor = api("auditor")
    typed = {
        "actor": "clerk", "ledger": "dv", "action": "record.view",
        "record": str(city["record"].pk), "from": "2026-04-01", "page_size": "10",
    }[name]  # fmt: skip
    asked = {name: typed[:2] + char + typed[2:]}
    answer = auditor.get("/api/v1/audit/events/", asked)
    assert answer.status_code == 400, answer.content
    assert answer.json()["detail"] == {name: [UNSEEN[char]]}
    named = auditor.get("/api/v1/audit/events/", {f"dv{char}": "x"})
    assert named.status_code == 400
    assert named.json()["detail"] == {"query": [f"パラメーター名に{UNSEEN[char]}"]}
    # Only the read typed plainly is in the trail, its filters as typed, which is as read.
    assert auditor.get("/api/v1/audit/events/", {name: typed}).status_code == 200
    reads = api("admin").get("/api/v1/audit/events/", {"action": "audit.read"}).json()["results"]
    assert [e["details"]["filters"] for e in reads] == [{name: typed}]


@pytest.mark.parametrize(
    ("dated_before_anchor", "found"),
    [
        pytest.param(timedelta(days=30), True, id="a-month-before"),
        pytest.param(timedelta(minutes=5), False, id="a-request-open-across-the-anchor"),
    ],
)
def test_an_event_added_after_an_anchor_but_dated_before_it_is_found(
    api: Any, city: dict[str, Any], tmp_path: Path, dated_before_anchor: timedelta, found: bool
) -> None:
    """The tables' owner (the application's own role in the shipped chart) can set the
    insert guard aside and add an event dated last month: "clerk viewed the DV record".
    It takes the next number and the next chain position, so every link and every anchor
    (a locked file too) checked out: verify said OK, and the trail listed the event on the
    day it claims, inside the period the anchors were trusted for. An event sealed after an
    anchor may not be dated more than ``BACKDATE_TOLERANCE`` before it (a request still
    open when the anchor was taken is)."""
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "daicho.storage.TenantFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    clerk, record = city["people"]["clerk"], city["record"]
    with override_settings(STORAGES=storages):
        with schema_context("mitaka"):
            anchor = audit_anchor()
            with dated_by_hand(), connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO ledgers_auditevent (at, actor_id, action, ledger_code, record_id,"
                    " generation, details) VALUES (%s, %s, 'record.view', 'dv', %s, 1, '{}')"
                    " RETURNING seq",
                    [anchor.anchored_at - dated_before_anchor, clerk.pk, record.pk],
                )
                (planted,) = cursor.fetchone()
        listed = api("auditor").get("/api/v1/audit/events/", {"record": str(record.pk)})
        assert planted in [e["seq"] for e in listed.json()["results"]]
        verified = api("auditor").post("/api/v1/audit/verify/")
    assert verified.status_code == 200
    answer = verified.json()
    if found:
        assert (answer["ok"], answer["code"], answer["seq"]) == (False, "event_backdated", planted)
        assert "public スキーマ" in answer["reason"]
    else:
        assert (answer["ok"], answer["code"]) == (True, ""), answer
