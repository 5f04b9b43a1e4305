"""The API's JSON renderer (orjson, DRF's renderer for what orjson cannot write as DRF
does) writes what DRF's ``JSONRenderer`` writes."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from typing import Any

from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict

from ledgers.api.renderers import JsonRenderer
from tests.api.conftest import records_url

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text()
    | st.text(alphabet='\u2028\u2029"\\/\n\x00あ髙').map(str)
    | st.datetimes(
        timezones=st.sampled_from([datetime.UTC, datetime.timezone(datetime.timedelta(hours=9))])
    )
    | st.datetimes()
    | st.dates()
    | st.uuids()
    | st.decimals(
        allow_nan=False, allow_infinity=False, places=2, max_value=10**6, min_value=-(10**6)
    )
    | st.just(gettext_lazy("必須です。"))
    | st.timedeltas()
)
VALUES = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=6), children, max_size=4)
        | st.dictionaries(st.text(max_size=6), children, max_size=3).map(
            lambda d: ReturnDict(d, serializer=None)
        )
    ),
    max_leaves=25,
)


@settings(max_examples=400)
@given(VALUES)
def test_what_drf_writes_byte_for_byte(value: Any) -> None:
    assert JsonRenderer().render(value) == JSONRenderer().render(value)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=5))
def test_floats_are_the_same_numbers(value: list[float]) -> None:
    assert json.loads(JsonRenderer().render(value)) == json.loads(JSONRenderer().render(value))


def test_what_orjson_refuses_is_written_by_drf() -> None:
    for value in ({1: "int key"}, [2**70], {"n": -(2**64)}, {"d": decimal.Decimal("1.5")}):
        assert JsonRenderer().render(value) == JSONRenderer().render(value)
    assert JsonRenderer().render(None) == b""
    indented = JsonRenderer().render({"a": [1]}, "application/json; indent=2")
    assert indented == JSONRenderer().render({"a": [1]}, "application/json; indent=2")
    assert b"\n" in indented


def test_the_records_api_answers_through_it(api: Any) -> None:
    response = api("clerk").get(records_url(), {"count": "true"})
    assert response.status_code == 200
    assert response.content == JSONRenderer().render(response.data)
    assert response.json()["count"] == 1
    assert (
        str(uuid.UUID(response.json()["results"][0]["id"])) == response.json()["results"][0]["id"]
    )
