"""Input whose cost grows much faster than its size is refused by a bound before any
pattern reads it, in the API's error shape: a number, a date or a moment is a short text
whatever spaces or numerals it is padded with (a sign and 300 spaces took 4 s of CPU in a
number pattern, 20,000 spaces 7 s in the moment pattern)."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.access.services import grants_replace
from ledgers.definitions.services import ledger_create
from tests.api.conftest import Api

FIELDS = [
    {"key": "n", "label": "整数", "type": "integer"},
    {"key": "dec", "label": "小数", "type": "decimal"},
    {"key": "d", "label": "日付", "type": "date"},
    {"key": "dt", "label": "日時", "type": "datetime"},
    {"key": "lt", "label": "長文", "type": "long_text"},
]


@pytest.fixture
def costly(city: dict[str, Any]) -> Api:
    people = city["people"]
    with schema_context("mitaka"):
        ledger = ledger_create(actor=people["designer"], code="cx", name="試験台帳", fields=FIELDS)
        grants_replace(
            actor=people["designer"],
            ledger=ledger,
            grants=[{"department": "shimin", "capabilities": ["view", "create"]}],
        )
    client = Api(people["clerk"])
    client.client.raise_request_exception = False
    return client


URL = "/api/v1/ledgers/cx/records/"


# A number padded past MAX_NUMBER_TEXT with spaces the pattern used to split every way.
PADDED_NUMBER = "1" + " " * 200 + "円"


@pytest.mark.parametrize("key", ["n", "dec"])
def test_an_over_long_number_text_is_refused(costly: Api, key: str) -> None:
    response = costly.post(URL, {"values": {key: PADDED_NUMBER}})
    assert response.status_code == 400, response.json()
    assert "100文字まで" in str(response.json()), response.json()
    # A read-only filter reads its value the same way.
    filtered = costly.get(URL, {key: PADDED_NUMBER})
    assert filtered.status_code == 400, filtered.json()
    assert "100文字まで" in str(filtered.json()), filtered.json()


def test_a_number_with_a_few_spaces_still_reads(costly: Api) -> None:
    response = costly.post(URL, {"values": {"n": "▲ ¥ 1,000 円", "dec": "- 1.5"}})
    assert response.status_code == 201, response.json()
    assert response.json()["values"]["n"] == -1000


# A moment or a date padded with spaces (scanned again from every space), and kanji
# numerals past the 4,300 digits Python writes (a server error before).
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("dt", "2023-04-01" + " " * 200 + "10:30"),
        ("d", "2023年4月1日" + "　" * 200 + "（土）"),
        ("d", "一" * 5000),
        ("dt", "一" * 5000 + " 10:30"),
    ],
)
def test_an_over_long_date_text_is_refused(costly: Api, key: str, value: str) -> None:
    response = costly.post(URL, {"values": {key: value}})
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert "100文字まで" in str(response.json()), response.json()
    filtered = costly.get(URL, {key: value})
    assert filtered.status_code == 400, (filtered.status_code, filtered.content[:300])
    assert "100文字まで" in str(filtered.json()), filtered.json()


def test_a_date_with_spaces_around_still_reads(costly: Api) -> None:
    response = costly.post(
        URL, {"values": {"d": " " * 300 + "令和5年4月1日（土）", "dt": "令和5年4月1日 10時30分"}}
    )
    assert response.status_code == 201, response.json()
    assert response.json()["values"]["d"] == "2023-04-01"


# A long note of kanji numerals before an address unit: its search form wrote them as a
# number past the 4,300 digits Python writes (a server error), then looped on them.
@pytest.mark.parametrize("value", ["一" * 5000 + "番", "一" * 5000 + "千番地"])
def test_a_note_of_many_kanji_numerals_is_stored_and_found(costly: Api, value: str) -> None:
    response = costly.post(URL, {"values": {"lt": value}})
    assert response.status_code == 201, (response.status_code, response.content[:300])
    found = costly.get(URL, {"lt__contains": "一一一番"})
    assert found.status_code == 200, found.json()


def test_an_over_long_name_text_is_refused(api: Any) -> None:
    # The DV ledger's 氏名, as one text padded with spaces between its parts.
    clerk = api("clerk")
    value = "山田" + " " * 600 + "花子"
    response = clerk.post(
        "/api/v1/ledgers/dv/records/",
        {"values": {"name": value, "disclosure": {"shimin": True}}},
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert "500文字以内" in str(response.json()), response.json()
