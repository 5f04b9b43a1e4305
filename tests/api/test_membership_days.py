"""A membership's dates are days in Japan, both ends included, through the real routing.

The data is made so that the edge is today (in Japan): a membership ending yesterday gives
nothing, one ending today or starting today gives its rights, one starting tomorrow nothing.
Between 15:00 and 24:00 UTC, Japan's today is UTC's tomorrow: a reading of the dates in UTC
would let the membership that ended yesterday in Japan work for nine more hours (a clerk
moved in April reading the DV ledger of the department left on 1 April until 09:00), and
keep one starting today idle until then. The project depends on no clock-freezing library,
so the edge is crafted from ``timezone.localdate()`` rather than moved to.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from daicho.accounts.models import Role
from tests.api.conftest import Api
from tests.ledgers.conftest import staff

RECORDS = "/api/v1/ledgers/dv/records/"


def _member(city: dict[str, Any], name: str, role: str, department: str, **days: Any) -> Api:
    with schema_context("mitaka"):
        user = staff(name, city["departments"][department], role, **days)
    return Api(user)


@pytest.mark.parametrize(
    ("starts", "ends", "in_force"),
    [
        (-400, -1, False),  # ended yesterday (31 March, read on 1 April)
        (-400, 0, True),  # ends today: the last day counts
        (0, None, True),  # starts today (1 April): from 00:00 in Japan
        (1, None, False),  # starts tomorrow
    ],
)
def test_a_membership_is_in_force_on_the_days_of_japan(
    city: dict[str, Any], starts: int, ends: int | None, in_force: bool
) -> None:
    today = timezone.localdate()
    days = {
        "valid_from": today + timedelta(days=starts),
        "valid_to": None if ends is None else today + timedelta(days=ends),
    }
    clerk = _member(city, "moved", Role.EDITOR, "shimin", **days)
    auditor = _member(city, "moved_auditor", Role.AUDITOR, "soumu", **days)
    record = f"{RECORDS}{city['record'].pk}/"
    expected = 200 if in_force else 404
    # Twice: the second answer comes through the API's cached policy.
    for _ in range(2):
        assert clerk.get(RECORDS).status_code == expected
        assert clerk.get(record).status_code == expected
    searched = clerk.post(
        "/api/v1/ledgers/dv/search/latest/",
        {"criteria": {"name": "山田"}, "reason": "住民票の写しの交付請求に係る確認"},
    )
    assert searched.status_code == expected
    me = clerk.get("/api/v1/me/").json()
    assert me["departments"] == (["shimin"] if in_force else [])
    assert auditor.get("/api/v1/audit/events/").status_code == (200 if in_force else 403)
