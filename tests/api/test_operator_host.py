"""What an operator signed in to the operators' admin (the public host) can reach of a city:
nothing of its records, searches, audit trail or staff. Every page the admin links to is
opened, and none may show what the city holds (a regression net: the admin serves the
public schema only, and the public host routes nothing of the API or the staff's pages)."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django_tenants.utils import schema_context

from ledgers.access.services import record_break_glass
from ledgers.audit.models import AuditEvent
from ledgers.search.services import search_run
from tests.api.conftest import ADDRESS

# What Mitaka holds: a DV record's values, its ledger, its departments, its staff, a search.
CITY_DATA = ("山田", "ヤマダ", ADDRESS, "下連雀", "DV等支援措置台帳", "市民課", "designer",
             "clerk", "auditor", "本人検索", "緊急の確認のため")  # fmt: skip
# Pages that change something, or sign out.
NOT_OPENED = re.compile(r"/(delete|logout|password)/")


def _links(body: str) -> list[str]:
    return [link.replace("&amp;", "&") for link in re.findall(r'href="(/admin/[^"#]*)"', body)]


def test_nothing_of_a_city_on_any_page_of_the_public_host(
    operator_client: Client, city: dict[str, Any]
) -> None:
    people, ledger = city["people"], city["ledger"]
    with schema_context("mitaka"):
        search_run(
            actor=people["clerk"], ledger=ledger, screen_code="latest",
            criteria={"name": "山田"}, reason="転入手続きの本人確認のため",
        )  # fmt: skip
        record_break_glass(
            actor=people["zei"], ledger=ledger, record_id=city["record"].pk,
            reason="緊急の確認のため、課長の指示により閲覧",
        )  # fmt: skip
        assert AuditEvent.objects.filter(action="search.run").exists()
    operator_client.raise_request_exception = False
    pages = ["/", "/admin/", "/api/schema/", "/api/docs/", "/api/v1/ledgers/",
             "/api/v1/ledgers/dv/records/", f"/api/v1/ledgers/dv/records/{city['record'].pk}/",
             "/api/v1/audit/events/", "/api/v1/staff/", "/accounts/login/"]  # fmt: skip
    seen: dict[str, int] = {}
    while pages and len(seen) < 200:
        page = pages.pop(0)
        if page in seen or NOT_OPENED.search(page):
            continue
        answer = operator_client.get(page)
        seen[page] = answer.status_code
        body = answer.content.decode(errors="replace")
        shown = [word for word in CITY_DATA if word in body]
        assert not shown, (page, shown)
        pages += [link for link in _links(body) if link not in seen]
    assert len(seen) > 40  # the admin's pages were followed
    assert seen["/admin/"] == 200
    assert seen["/admin/tenants/municipality/"] == 200
    assert {seen[p] for p in seen if p.startswith(("/api/", "/accounts/"))} == {404}
    assert all(status < 500 for status in seen.values()), seen
